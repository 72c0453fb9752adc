#!/bin/sh
# Served for "/" (busybox httpd runs cgi-bin/index.cgi when there is no index.html).
. /tmp/hl-web.conf
if [ "${HL_WEB_DELAY_MS:-0}" -gt 0 ]; then usleep $((HL_WEB_DELAY_MS * 1000)); fi
if [ "${HL_WEB_FAIL_PERCENT:-0}" -gt 0 ]; then
    roll=$(( $(od -An -N2 -tu2 /dev/urandom) % 100 ))
    if [ "$roll" -lt "$HL_WEB_FAIL_PERCENT" ]; then
        printf 'Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nsimulated failure\n'
        exit 0
    fi
fi
printf 'Status: 200 OK\r\nContent-Type: text/html\r\nX-HL-Web-Version: %s\r\n\r\n' "$HL_WEB_VERSION"
printf '<h1>%s</h1>\n<p>hl-web version %s on %s</p>\n' "$HL_WEB_MESSAGE" "$HL_WEB_VERSION" "$(hostname)"
