#!/bin/sh
# As upstream's eclipse-mosquitto entrypoint: as root, give /mosquitto to the broker's user, then run the command.
set -e
if [ "$(id -u)" = '0' ]; then
    [ -d /mosquitto ] && chown -R mosquitto:mosquitto /mosquitto 2>/dev/null || true
fi
exec "$@"
