#!/usr/bin/env bash
# Installs every Debian package Tally needs to build, test and run the demo,
# and the npm packages (when package-lock.json exists).  Idempotent: packages
# already installed are not fetched again.  Works as root; uses sudo
# otherwise.
set -euo pipefail

PKGS=(
  build-essential clang nginx nginx-dev
  libsqlite3-dev sqlite3 libjansson-dev libhiredis-dev libmicrohttpd-dev
  libpcre2-dev libmaxminddb-dev libsodium-dev zlib1g-dev
  python3 python3-pytest wrk redis-server curl ca-certificates
  chromium iso-codes
)

SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# the machine image may carry its own Node.js (with npm); use Debian's only
# when there is none
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: all Debian packages present"
fi

cd "$(dirname "$0")/.."
if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
fi
