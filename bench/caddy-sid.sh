#!/usr/bin/env bash
# Provides Debian sid's Caddy (2.11 and later, built with a current Go) beside bookworm's 2.6.2, so
# that `make bench` compares Portcullis behind both: bookworm's is what `apt-get install caddy` gives
# on Debian 12, sid's is close to what Caddy's own releases ship. Only Debian's archive is used.
# apt runs with a private configuration (own sources, lists and cache, like
# test/kube/build-binaries.sh): the system's apt state is left untouched and nothing is installed;
# the binary is extracted from the .deb (it needs glibc >= 2.34: bookworm has 2.36). Cached by
# version under ${PORTCULLIS_CACHE_DIR:-$HOME/.cache/portcullis}/caddy-sid/<version>/caddy, and
# reused for a day before sid is asked again. The binary's path is the LAST line on stdout;
# everything else goes to stderr.
set -euo pipefail

ROOT=${PORTCULLIS_CACHE_DIR:-${HOME:?HOME or PORTCULLIS_CACHE_DIR must be set}/.cache/portcullis}
DEST="$ROOT/caddy-sid"
exec 3>&1 1>&2
log() { printf 'caddy-sid: %s\n' "$*"; }
runs() { [[ -x $1 ]] && "$1" version >/dev/null 2>&1; }

mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9
newest=$(find "$DEST" -mindepth 2 -maxdepth 2 -name caddy -mmin -1440 -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2-)
if [[ -n $newest ]] && runs "$newest"; then
  log "cached: $newest"
  echo "$newest" >&3
  exit 0
fi

W=$(mktemp -d "$DEST/.fetch.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$W"/{lists/partial,cache/archives/partial,deb}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r $KEYRING ]] || { log "missing $KEYRING (package debian-archive-keyring)"; exit 1; }
echo "deb [signed-by=$KEYRING] http://deb.debian.org/debian sid main" >"$W/sources.list"
# System apt.conf.d is kept on purpose (it may hold a proxy); sources, pins, lists and cache are ours.
APTOPTS=(-o Dir::Etc::SourceList="$W/sources.list" -o Dir::Etc::SourceParts=/dev/null
         -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
         -o Dir::State::Lists="$W/lists" -o Dir::Cache="$W/cache" -o Acquire::Languages=none)
if [[ $(id -u) -eq 0 ]]; then APTOPTS+=(-o APT::Sandbox::User=root); fi
apt-get "${APTOPTS[@]}" update -qq
(cd "$W/deb" && apt-get "${APTOPTS[@]}" download -qq caddy/sid)
dpkg-deb -x "$W"/deb/caddy_*.deb "$W/x"
version=$("$W/x/usr/bin/caddy" version | cut -d' ' -f1)
[[ $version =~ ^v?[0-9]+\.[0-9]+\.[0-9]+ ]] || { log "sid's caddy does not run here (version: '$version')"; exit 1; }
mkdir -p "$DEST/$version"
install -m 755 "$W/x/usr/bin/caddy" "$DEST/$version/caddy.new"
mv "$DEST/$version/caddy.new" "$DEST/$version/caddy"
log "sid's caddy $version in $DEST/$version"
echo "$DEST/$version/caddy" >&3
