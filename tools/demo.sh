#!/usr/bin/env bash
# make demo: NGINX with the Tally module on 127.0.0.1:8080 (demo page,
# tracker, /api/event) and tallyd on 127.0.0.1:8089, state in ./var.
# Prints two ready-to-paste curl lines; Ctrl-C stops both.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR=$ROOT/var
EDGE_PORT=${TALLY_DEMO_EDGE_PORT:-8080}
API_PORT=${TALLY_DEMO_API_PORT:-8089}
TALLYD=$ROOT/build/tallyd
MODULE=$ROOT/build/ngx_http_tally_module.so

mkdir -p "$VAR/spool" "$VAR/logs" "$VAR/tmp"

# NGINX workers run as nobody when the master is root: the spool must be
# theirs, and every directory above it must be traversable.
USER_LINE=""
if [ "$(id -u)" = 0 ]; then
  chown nobody:nogroup "$VAR/spool"
  if ! runuser -u nobody -- test -w "$VAR/spool" 2>/dev/null; then
    echo "demo: user nobody cannot reach $VAR/spool (a parent directory is" \
         "not traversable); running NGINX workers as root for this demo" >&2
    chown root:root "$VAR/spool"
    USER_LINE="user root;"
  fi
fi

TRACKER_LOC=""
if [ -f "$ROOT/build/tally.js" ]; then
  TRACKER_LOC="location = /tally.js { alias $ROOT/build/tally.js; }"
fi

cat > "$VAR/nginx.conf" <<EOF
load_module $MODULE;
$USER_LINE
daemon off;
worker_processes 2;
pid $VAR/nginx.pid;
error_log $VAR/logs/error.log info;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    access_log $VAR/logs/access.log;
    client_body_temp_path $VAR/tmp/body;
    proxy_temp_path $VAR/tmp/proxy;
    fastcgi_temp_path $VAR/tmp/fastcgi;
    uwsgi_temp_path $VAR/tmp/uwsgi;
    scgi_temp_path $VAR/tmp/scgi;

    tally_spool $VAR/spool;

    server {
        listen 127.0.0.1:$EDGE_PORT;
        root $ROOT/demo;
        index index.html;
        include $ROOT/conf.d/tally.conf;
        $TRACKER_LOC
    }
}
EOF

/usr/sbin/nginx -t -q -p "$VAR" -c "$VAR/nginx.conf"

if [ ! -s "$VAR/demo.key" ]; then
  "$TALLYD" keys add --db "$VAR/tally.db" --name demo | tail -n 1 > "$VAR/demo.key"
  chmod 600 "$VAR/demo.key"
fi
KEY=$(cat "$VAR/demo.key")

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$TALLYD" serve --spool "$VAR/spool" --db "$VAR/tally.db" \
  --listen "127.0.0.1:$API_PORT" 2>>"$VAR/logs/tallyd.log" &
pids+=($!)
/usr/sbin/nginx -p "$VAR" -c "$VAR/nginx.conf" &
pids+=($!)

for _ in $(seq 100); do
  if curl -fs "http://127.0.0.1:$API_PORT/health" >/dev/null 2>&1 \
     && curl -s -o /dev/null "http://127.0.0.1:$EDGE_PORT/" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36'
cat <<EOF

Tally demo is running.
  demo page:  http://127.0.0.1:$EDGE_PORT/        (site "demo.local")
  stats API:  http://127.0.0.1:$API_PORT/api/v2/query
  state:      $VAR   (logs in $VAR/logs)

Post a pageview to the edge:

curl -i http://127.0.0.1:$EDGE_PORT/api/event -H 'Content-Type: application/json' -H 'User-Agent: $UA' -d '{"name":"pageview","url":"http://demo.local/","domain":"demo.local"}'

Ask tallyd how many visitors and pageviews today:

curl -s http://127.0.0.1:$API_PORT/api/v2/query -H 'Authorization: Bearer $KEY' -H 'Content-Type: application/json' -d '{"site_id":"demo.local","metrics":["visitors","pageviews","events"],"date_range":"day"}'

Ctrl-C stops both.
EOF

wait -n "${pids[@]}" || true
echo "demo: a process exited; see $VAR/logs" >&2
