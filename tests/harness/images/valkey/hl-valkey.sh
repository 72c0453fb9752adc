#!/bin/sh
# Valkey entrypoint (serve) and health check (health); the password never appears in argv.
set -eu
if [ -n "${VALKEY_PASSWORD_FILE:-}" ]; then
    VALKEYCLI_AUTH=$(cat "$VALKEY_PASSWORD_FILE"); export VALKEYCLI_AUTH
    REDISCLI_AUTH=$VALKEYCLI_AUTH; export REDISCLI_AUTH
fi
case "${1:-serve}" in
serve)
    mkdir -p /data
    chown valkey:valkey /data
    conf=/tmp/valkey.conf
    printf 'bind 0.0.0.0\nprotected-mode no\nport 6379\ndir /data\nappendonly yes\n' > "$conf"
    if [ -n "${VALKEYCLI_AUTH:-}" ]; then printf 'requirepass %s\n' "$VALKEYCLI_AUTH" >> "$conf"; fi
    chown valkey "$conf"
    chmod 600 "$conf"
    exec setpriv --reuid=valkey --regid=valkey --init-groups valkey-server "$conf"
    ;;
health) valkey-cli -h 127.0.0.1 ping | grep -q PONG ;;
*) exec "$@" ;;
esac
