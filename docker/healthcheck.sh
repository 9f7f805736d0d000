#!/bin/bash
# healthcheck.sh METHOD PORT PATH -- exits 0 when http://127.0.0.1:PORT/PATH
# answers METHOD with a 2xx status, 1 otherwise.  Plain bash (/dev/tcp):
# the slim images carry no curl or wget.
set -u
method=${1:?method} port=${2:?port} path=${3:?path}
{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null \
    || { echo "unhealthy: nothing listens on 127.0.0.1:$port" >&2; exit 1; }
printf '%s %s HTTP/1.0\r\nHost: localhost\r\nOrigin: http://localhost\r\nConnection: close\r\n\r\n' \
    "$method" "$path" >&3
IFS= read -r -t 4 status <&3 || exit 1
case "$status" in
    HTTP/1.[01]\ 2[0-9][0-9]*) exit 0 ;;
    *) echo "unhealthy: ${status%$'\r'}" >&2; exit 1 ;;
esac
