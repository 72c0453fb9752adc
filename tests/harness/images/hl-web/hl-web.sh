#!/bin/sh
# hl-web entrypoint and control commands: serve | health | unhealthy | healthy
set -eu
: "${HL_WEB_PORT:=8080}"
case "${1:-serve}" in
serve)
    # the CGI reads its settings from here (httpd passes CGIs a fixed environment)
    {
        printf "HL_WEB_MESSAGE='%s'\n" "$(printf '%s' "${HL_WEB_MESSAGE:-hello}" | tr -d "'")"
        printf "HL_WEB_VERSION='%s'\n" "$(printf '%s' "${HL_WEB_VERSION:-1}" | tr -d "'")"
        printf 'HL_WEB_FAIL_PERCENT=%d\nHL_WEB_DELAY_MS=%d\n' "${HL_WEB_FAIL_PERCENT:-0}" "${HL_WEB_DELAY_MS:-0}"
    } > /tmp/hl-web.conf
    printf '%s\n' "${HL_WEB_VERSION:-1}" > /www/version
    if [ "${HL_WEB_HEALTHY:-true}" = true ]; then echo ok > /www/health; else rm -f /www/health; fi
    echo "hl-web ${HL_WEB_VERSION:-1} listening on :${HL_WEB_PORT}"
    # PID 1 ignores signals it has no handler for: relay SIGTERM/SIGINT so `podman stop` is quick
    httpd -f -v -p "$HL_WEB_PORT" -h /www &
    pid=$!
    trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
    wait "$pid" || true
    wait "$pid" 2>/dev/null || true
    echo "hl-web stopped"
    ;;
health) exec wget -q -T 2 -O /dev/null "http://127.0.0.1:${HL_WEB_PORT}/health" ;;
unhealthy) rm -f /www/health ;;
healthy) echo ok > /www/health ;;
*) echo "usage: hl-web serve|health|unhealthy|healthy" >&2; exit 2 ;;
esac
