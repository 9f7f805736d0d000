#!/bin/sh
# Entry point of the tally-tallyd image.
#
#   serve [FLAGS]  (the default) on first start, creates an API key and
#                  prints it to the log, then runs
#                  tallyd serve --spool $TALLY_SPOOL --db $TALLY_DB --listen $TALLY_LISTEN FLAGS
#   anything else  runs tallyd with those arguments (ship ..., keys add ..., --help)
set -eu

TALLYD=${TALLYD:-/usr/local/bin/tallyd}
SPOOL=${TALLY_SPOOL:-/var/spool/tally}
DB=${TALLY_DB:-/var/lib/tally/tally.db}
LISTEN=${TALLY_LISTEN:-0.0.0.0:8089}
KEY_NAME=${TALLY_KEY_NAME:-docker}

if [ "${1:-serve}" != serve ]; then
    exec "$TALLYD" "$@"
fi
[ $# -gt 0 ] && shift

# First start: no key at all (an active or a revoked one) -> make one.
# `keys list` prints a header line, then one line per key.
nkeys=$("$TALLYD" keys list --db "$DB" | tail -n +2 | grep -c . || true)
if [ "$nkeys" = 0 ]; then
    key=$("$TALLYD" keys add --db "$DB" --name "$KEY_NAME" | tail -n 1)
    [ -n "$key" ] || { echo "tally-tallyd: tallyd keys add printed no key" >&2; exit 1; }
    cat <<MSG
================================================================
tally-tallyd: created API key "$KEY_NAME" (shown once, only here):

  $key

Ask for today's numbers (site "demo.local" on the demo page):

  curl -s http://127.0.0.1:8089/api/v2/query -H 'Authorization: Bearer $key' -H 'Content-Type: application/json' -d '{"site_id":"demo.local","metrics":["visitors","pageviews","events"],"date_range":"day"}'

More keys: docker compose exec tallyd tallyd keys add --db $DB --name NAME
================================================================
MSG
fi

exec "$TALLYD" serve --spool "$SPOOL" --db "$DB" --listen "$LISTEN" "$@"
