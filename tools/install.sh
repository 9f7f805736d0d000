#!/usr/bin/env bash
# tools/install.sh -- `make install` / `make uninstall` for Tally.
#
#   bash tools/install.sh              install what `make build` produced
#   bash tools/install.sh --uninstall  remove exactly what was installed
#
# Environment:
#   PREFIX        where tallyd and the shared files go (default /usr/local)
#   DESTDIR       staging root prepended to every path (default: empty, i.e.
#                 the live system).  With DESTDIR set nothing is chowned, no
#                 user is created and no service manager is touched.
#   TALLY_BIN     directory holding the tallyd binary (default ./build)
#   TALLY_MODULE  the NGINX module (default ./build/ngx_http_tally_module.so)
#   TALLY_NGINX_USER  the NGINX worker user that owns the spool (www-data)
#
# It never builds anything: run `make build` first (as your normal user),
# then `sudo make install`.  A missing artifact is an error naming it.
#
# Paths outside PREFIX are fixed, because that is where Debian looks for
# them: the module in /usr/lib/nginx/modules (Debian's nginx has
# --modules-path=/usr/lib/nginx/modules), its load file in
# /usr/share/nginx/modules-available with the symlink
# /etc/nginx/modules-enabled/50-mod-http-tally.conf, the units in
# /lib/systemd/system, /etc/tally, /var/spool/tally and /var/lib/tally.
#
# Every file, symlink and directory it creates is recorded in the manifest
# $PREFIX/share/tally/install-manifest; --uninstall reads it back.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BIN_SRC=${TALLY_BIN:-$ROOT/build}
MODULE_SRC=${TALLY_MODULE:-$ROOT/build/ngx_http_tally_module.so}
BUILD=$ROOT/build
NGINX_USER=${TALLY_NGINX_USER:-www-data}

SVC_USER=tally
MODDIR=/usr/lib/nginx/modules
MODAVAIL=/usr/share/nginx/modules-available
MODENABLED=/etc/nginx/modules-enabled
LOADFILE=mod-http-tally.conf
LOADLINK=50-mod-http-tally.conf
UNITDIR=/lib/systemd/system
ETCDIR=/etc/tally
SPOOL=/var/spool/tally
STATE=/var/lib/tally
SHARE=$PREFIX/share/tally
MANIFEST=$SHARE/install-manifest

die() { echo "install.sh: $*" >&2; exit 1; }
note() { echo "install.sh: $*"; }

MODE=install
case "${1:-}" in
  "") ;;
  --uninstall) MODE=uninstall ;;
  -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (use --uninstall or --help)" ;;
esac
[ $# -le 1 ] || die "too many arguments"

case "$PREFIX" in /*) ;; *) die "PREFIX must be an absolute path, not '$PREFIX'" ;; esac
case "$DESTDIR" in ""|/*) ;; *) die "DESTDIR must be empty or an absolute path" ;; esac
PREFIX=${PREFIX%/}
[ -n "$PREFIX" ] || die "PREFIX must not be /"
DESTDIR=${DESTDIR%/}

LIVE=0                     # installing into the running system?
[ -z "$DESTDIR" ] && LIVE=1
if [ "$LIVE" = 1 ] && [ "$(id -u)" != 0 ]; then
  die "installing into the live system needs root: run 'sudo make $MODE'" \
      "(or set DESTDIR=/some/staging/dir)"
fi

D() { printf '%s%s' "$DESTDIR" "$1"; }     # a path on the target system
systemd_live() { [ "$LIVE" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

# ---- manifest -----------------------------------------------------------
# One entry per line, tab-separated, paths as on the target system:
#   d PATH          a directory we created (removed on uninstall if empty)
#   f PATH          a file we installed
#   l PATH          a symlink we installed
#   c PATH SHA256   a config file we created (removed only if unchanged)
#   u NAME          a system user (and group) we created
#   n PATH          the module's enable symlink, removed by an admin: keep it so
declare -a NEW=()          # entries of this run, in creation order
declare -A NEWSET=()       # "type path" -> 1
declare -a OLD=()          # entries of the previous install, if any

record() {                 # record TYPE PATH [EXTRA]
  local key="$1 $2"
  [ -n "${NEWSET[$key]:-}" ] && return 0
  NEWSET[$key]=1
  if [ $# -ge 3 ]; then NEW+=("$1"$'\t'"$2"$'\t'"$3"); else NEW+=("$1"$'\t'"$2"); fi
}

read_manifest() {
  OLD=()
  local m; m=$(D "$MANIFEST")
  [ -f "$m" ] || return 1
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ""|"#"*) continue ;; esac
    OLD+=("$line")
  done < "$m"
  return 0
}

# mkdir_p DIR MODE: creates DIR (and missing parents, 0755) under DESTDIR,
# recording every directory it creates; sets MODE on DIR if it created it.
mkdir_p() {
  local dir=$1 mode=$2 path="" comp
  local IFS=/
  for comp in $dir; do
    [ -n "$comp" ] || continue
    path="$path/$comp"
    if [ ! -d "$(D "$path")" ]; then
      [ -e "$(D "$path")" ] && die "$(D "$path") exists and is not a directory"
      mkdir -m 0755 "$(D "$path")"
      record d "$path"
      [ "$path" = "$dir" ] && chmod "$mode" "$(D "$path")"
    fi
  done
}

# install_file SRC DST MODE: atomic replace (temp file + rename), so a
# running nginx or tallyd keeps its old mapping intact.
install_file() {
  local src=$1 dst=$2 mode=$3 tmp
  mkdir_p "$(dirname "$dst")" 0755
  tmp="$(D "$dst").tally-new.$$"
  cp "$src" "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$(D "$dst")"
  record f "$dst"
}

# subst SRC DST MODE: a file from dist/ with @BINDIR@ / @PREFIX@ filled in.
subst_file() {
  local src=$1 dst=$2 mode=$3 tmp
  tmp=$(mktemp)
  sed -e "s|@BINDIR@|$PREFIX/bin|g" -e "s|@PREFIX@|$PREFIX|g" "$src" > "$tmp"
  install_file "$tmp" "$dst" "$mode"
  rm -f "$tmp"
}

# ---- install ------------------------------------------------------------

check_artifacts() {
  local missing=() f
  for f in "$BIN_SRC/tallyd" "$MODULE_SRC" "$BUILD/data/uap.json" \
           "$BUILD/data/referers.json" "$BUILD/tally.js" \
           "$ROOT/conf.d/tally.conf" \
           "$ROOT/dist/$LOADFILE" "$ROOT/dist/tallyd.conf" \
           "$ROOT/dist/tallyd.service.in" "$ROOT/dist/tally-ship@.service.in" \
           "$ROOT/dist/ship.env.example"; do
    [ -f "$f" ] || missing+=("$f")
  done
  [ -x "$BIN_SRC/tallyd" ] || [ ! -f "$BIN_SRC/tallyd" ] || missing+=("$BIN_SRC/tallyd (not executable)")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: nothing installed; these build artifacts are missing:" >&2
    printf '  %s\n' "${missing[@]}" >&2
    echo "install.sh: run 'make build' first (as your normal user), then 'sudo make install'" >&2
    exit 1
  fi
  # install what was built, but say so when it looks older than its sources
  local stale
  stale=$(find "$ROOT/aggregator" "$ROOT/spool" "$ROOT/visitor" "$ROOT/bots" \
               -name '*.[ch]' -newer "$BIN_SRC/tallyd" 2>/dev/null | head -3 | tr '\n' ' ')
  [ -z "$stale" ] || note "warning: $BIN_SRC/tallyd is older than $stale(run 'make build'?)"
  stale=$(find "$ROOT/ngx_module" "$ROOT/spool" "$ROOT/visitor" "$ROOT/config" \
               \( -name '*.[ch]' -o -name config \) -newer "$MODULE_SRC" 2>/dev/null | head -3 | tr '\n' ' ')
  [ -z "$stale" ] || note "warning: $MODULE_SRC is older than $stale(run 'make build'?)"
}

do_install() {
  check_artifacts
  [ -z "$DESTDIR" ] || mkdir -p "$DESTDIR"
  local had_manifest=0
  read_manifest && had_manifest=1

  # keep what the previous install created: its directories, its config
  # file (with the checksum it had when created) and its user
  local line t p rest
  for line in "${OLD[@]}"; do
    IFS=$'\t' read -r t p rest <<< "$line"
    case "$t" in
      d|u) record "$t" "$p" ;;
      c) [ -e "$(D "$p")" ] && record c "$p" "$rest" ;;
    esac
  done

  if [ "$LIVE" = 1 ] && ! getent passwd "$SVC_USER" >/dev/null; then
    command -v adduser >/dev/null || die "adduser is missing (apt-get install adduser)"
    adduser --system --group --home "$STATE" --no-create-home --quiet "$SVC_USER"
    record u "$SVC_USER"
    note "created system user $SVC_USER"
  fi
  if [ "$LIVE" = 1 ]; then
    getent passwd "$NGINX_USER" >/dev/null \
      || die "NGINX worker user '$NGINX_USER' does not exist (set TALLY_NGINX_USER)"
  fi

  # the NGINX module, the Debian way
  install_file "$MODULE_SRC" "$MODDIR/ngx_http_tally_module.so" 0644
  install_file "$ROOT/dist/$LOADFILE" "$MODAVAIL/$LOADFILE" 0644
  mkdir_p "$MODENABLED" 0755
  local link="$MODENABLED/$LOADLINK"
  local target="../../..$MODAVAIL/$LOADFILE"   # relative: resolves under DESTDIR too
  local old_link=0
  for line in "${OLD[@]}"; do
    IFS=$'\t' read -r t p rest <<< "$line"
    if [ "$p" = "$link" ] && { [ "$t" = l ] || [ "$t" = n ]; }; then old_link=1; fi
  done
  if [ -L "$(D "$link")" ]; then
    ln -sfn "$target" "$(D "$link")"
    record l "$link"
  elif [ -e "$(D "$link")" ]; then
    die "$(D "$link") exists and is not a symlink; not touching it"
  elif [ "$had_manifest" = 1 ] && [ "$old_link" = 1 ]; then
    # an admin disabled the module after the last install (as Debian's
    # module packages do, keep it that way on upgrades)
    note "$link was removed after the first install; leaving the module disabled"
    record n "$link"
  else
    ln -s "$target" "$(D "$link")"
    record l "$link"
  fi

  # tallyd, its data, the tracker, the dashboard, the NGINX snippets
  install_file "$BIN_SRC/tallyd" "$PREFIX/bin/tallyd" 0755
  local f
  for f in "$BUILD"/data/*.json; do
    install_file "$f" "$SHARE/data/$(basename "$f")" 0644
  done
  install_file "$BUILD/tally.js" "$SHARE/tally.js" 0644
  if [ -d "$BUILD/dashboard" ]; then
    while IFS= read -r -d '' f; do
      install_file "$f" "$SHARE/dashboard/${f#"$BUILD"/dashboard/}" 0644
    done < <(find "$BUILD/dashboard" -type f -print0 | sort -z)
  else
    note "no build/dashboard: dashboard not installed"
  fi
  for f in "$ROOT"/conf.d/*.conf; do
    install_file "$f" "$SHARE/conf.d/$(basename "$f")" 0644
  done
  install_file "$ROOT/dist/ship.env.example" "$SHARE/examples/ship.env" 0644

  # systemd units
  subst_file "$ROOT/dist/tallyd.service.in" "$UNITDIR/tallyd.service" 0644
  subst_file "$ROOT/dist/tally-ship@.service.in" "$UNITDIR/tally-ship@.service" 0644

  # /etc/tally/tallyd.conf: only if there is none; never overwritten
  mkdir_p "$ETCDIR" 0755
  if [ ! -e "$(D "$ETCDIR/tallyd.conf")" ]; then
    install -m 0644 "$ROOT/dist/tallyd.conf" "$(D "$ETCDIR/tallyd.conf")"
    record c "$ETCDIR/tallyd.conf" "$(sha256sum < "$(D "$ETCDIR/tallyd.conf")" | cut -d' ' -f1)"
  else
    note "keeping existing $ETCDIR/tallyd.conf"
  fi

  # state: the spool (NGINX writes, tallyd drains and deletes) and the db
  mkdir_p "$SPOOL" 2770
  mkdir_p "$STATE" 0750
  if [ "$LIVE" = 1 ]; then
    chown "$NGINX_USER:$SVC_USER" "$SPOOL"
    chmod 2770 "$SPOOL"
    chown "$SVC_USER:$SVC_USER" "$STATE"
    chmod 0750 "$STATE"
  fi

  # files the previous install put there that this one did not: gone
  for line in "${OLD[@]}"; do
    IFS=$'\t' read -r t p rest <<< "$line"
    case "$t" in
      f) [ -n "${NEWSET["f $p"]:-}" ] || { rm -f "$(D "$p")"; note "removed stale $p"; } ;;
      l) [ -n "${NEWSET["l $p"]:-}" ] || { [ -L "$(D "$p")" ] && rm -f "$(D "$p")"; } ;;
    esac
  done

  # the manifest itself is not listed in itself; uninstall removes it
  mkdir_p "$SHARE" 0755
  local tmp; tmp="$(D "$MANIFEST").tally-new.$$"
  {
    echo "# Tally install manifest (tools/install.sh); PREFIX=$PREFIX"
    printf '%s\n' "${NEW[@]}"
  } > "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$(D "$MANIFEST")"

  if systemd_live; then systemctl daemon-reload || true; fi
  note "installed into ${DESTDIR:-/} (PREFIX=$PREFIX); manifest: $(D "$MANIFEST")"
  if [ "$LIVE" = 1 ]; then
    if command -v nginx >/dev/null && ! nginx -t -q 2>/dev/null; then
      note "warning: 'nginx -t' fails now; run it to see why"
    fi
    cat <<EOF
Next steps (docs/install.md):
  1. In nginx.conf, http { tally_spool $SPOOL; ... } and in a server { }:
       include $SHARE/conf.d/tally.conf;
  2. nginx -t && systemctl restart nginx   (restart, not reload: a new .so)
  3. runuser -u $SVC_USER -- $PREFIX/bin/tallyd keys add --db $STATE/tally.db --name admin
  4. systemctl enable --now tallyd
EOF
  fi
}

# ---- uninstall ------------------------------------------------------------

do_uninstall() {
  read_manifest || die "no manifest at $(D "$MANIFEST"): nothing installed" \
                       "with PREFIX=$PREFIX DESTDIR=${DESTDIR:-(empty)}"
  if systemd_live; then
    systemctl disable --now tallyd.service 2>/dev/null || true
    local w
    for w in /etc/systemd/system/*.wants/tally-ship@*.service; do
      if [ -L "$w" ]; then systemctl disable --now "$(basename "$w")" 2>/dev/null || true; fi
    done
    systemctl stop 'tally-ship@*.service' 2>/dev/null || true
  fi
  local line t p rest dirs=() users=()
  for line in "${OLD[@]}"; do
    IFS=$'\t' read -r t p rest <<< "$line"
    case "$t" in
      f) rm -f "$(D "$p")" ;;
      l) if [ -L "$(D "$p")" ]; then rm -f "$(D "$p")"; fi ;;
      c) if [ -f "$(D "$p")" ]; then
           if [ "$(sha256sum < "$(D "$p")" | cut -d' ' -f1)" = "$rest" ]; then
             rm -f "$(D "$p")"
           else
             note "keeping $p: it was changed after install"
           fi
         fi ;;
      d) dirs=("$p" "${dirs[@]}") ;;      # reverse order: children first
      u) users+=("$p") ;;
      n) ;;
      *) note "ignoring unknown manifest entry: $line" ;;
    esac
  done
  rm -f "$(D "$MANIFEST")"
  local d
  for d in "${dirs[@]}"; do
    [ -d "$(D "$d")" ] || continue
    if ! rmdir "$(D "$d")" 2>/dev/null; then
      case "$d" in
        "$SPOOL"|"$STATE"|"$ETCDIR") note "keeping $d: not empty (your data or settings)" ;;
        *) note "keeping $d: not empty" ;;
      esac
    fi
  done
  local u
  for u in "${users[@]}"; do
    [ "$LIVE" = 1 ] || continue
    if [ -e "$STATE" ] || [ -e "$SPOOL" ]; then
      note "keeping system user $u: $STATE or $SPOOL still exists"
    elif getent passwd "$u" >/dev/null; then
      deluser --system --quiet "$u" || true
      if getent group "$u" >/dev/null; then delgroup --system --quiet "$u" || true; fi
      note "removed system user $u"
    fi
  done
  if systemd_live; then systemctl daemon-reload || true; fi
  note "uninstalled from ${DESTDIR:-/} (PREFIX=$PREFIX)"
  if [ "$LIVE" = 1 ] && command -v nginx >/dev/null && ! nginx -t -q 2>/dev/null; then
    note "warning: 'nginx -t' fails now: remove the tally_* directives and the" \
         "include of $SHARE/conf.d/tally.conf from your NGINX configuration"
  fi
  if [ "$LIVE" = 1 ]; then
    note "restart NGINX (systemctl restart nginx) to unload the module"
  fi
}

if [ "$MODE" = install ]; then do_install; else do_uninstall; fi
