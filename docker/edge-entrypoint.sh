#!/bin/sh
# Entry point of the tally-edge image: makes sure the spool volume (a named
# volume or a bind mount) belongs to NGINX's workers with group tally, checks
# the configuration, then runs the command (default: nginx in the
# foreground).
set -eu

SPOOL=${TALLY_SPOOL:-/var/spool/tally}

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$SPOOL"
    chown www-data:tally "$SPOOL"
    chmod 2770 "$SPOOL"
fi

if [ "${1:-}" = nginx ]; then
    nginx -t -q
    echo "tally-edge: events at http://<host>:8080/api/event, tracker at /tally.js, demo page at /"
fi
exec "$@"
