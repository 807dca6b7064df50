#!/usr/bin/env bash
# Assembles Portcullis' base images from this machine's files, for building the image where no
# registry can be pulled from (`make image`, the container test). Prints two image names on stdout:
#   portcullis-base:<node version>-local        runtime: Node 24 (the binary `npm ci` put in
#                                                node_modules/node) + the shared libraries it links,
#                                                /bin/sh, readlink, dirname, ln, mkdir; nothing else
#   portcullis-build-base:<node version>-local  the same plus npm (this machine's npm package), with
#                                                this machine's npm registry and CA file settings
# Both come from `docker import` of a root filesystem assembled in a temp dir; an image whose files
# have not changed is reused. Anywhere with a registry, use node:24-slim instead (see Dockerfile).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
log() { printf 'local-base: %s\n' "$*" >&2; }

NODE=$(readlink -f "$ROOT/node_modules/.bin/node" 2>/dev/null || true)
[[ -x $NODE ]] || { log "no Node.js in node_modules: run 'make install' first"; exit 1; }
VERSION=$("$NODE" -p process.versions.node)
[[ ${VERSION%%.*} -ge 24 ]] || { log "node_modules has Node.js $VERSION, need 24+"; exit 1; }
# npm is JavaScript: any installed npm runs on Node 24. The machine's own npm and node (PATH without
# node_modules) are used to read its settings: a global npmrc is found relative to the node binary.
SYSTEM_PATH=$(tr ':' '\n' <<<"$PATH" | grep -v "$ROOT/node_modules" | paste -sd:)
NPM=$(PATH=$SYSTEM_PATH command -v npm || true)
NPM_DIR=$(cd "$(dirname "$(readlink -f "${NPM:-/nonexistent}")")/.." 2>/dev/null && pwd || true)
[[ -f $NPM_DIR/bin/npm-cli.js ]] || { log "npm not found (needed to install dependencies in the build stage)"; exit 1; }
command -v docker >/dev/null || { log "docker is not installed"; exit 1; }

RUNTIME_IMAGE=portcullis-base:$VERSION-local
BUILD_IMAGE=portcullis-build-base:$VERSION-local
TOOLS=(/bin/sh /usr/bin/readlink /usr/bin/dirname /usr/bin/ln /usr/bin/mkdir)
REGISTRY=$(PATH=$SYSTEM_PATH "$NPM" config get registry 2>/dev/null || true)
CAFILE=$(PATH=$SYSTEM_PATH "$NPM" config get cafile 2>/dev/null || true)
[[ $CAFILE == null || $CAFILE == undefined ]] && CAFILE=
[[ $REGISTRY == null || $REGISTRY == undefined ]] && REGISTRY=

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# rootfs DIR: node, the tools, and every shared library they load (as ldd resolves them here).
assemble() {
  local fs=$1
  mkdir -p "$fs"/{usr/local/bin,usr/bin,bin,etc,tmp}
  chmod 1777 "$fs/tmp"
  cp "$NODE" "$fs/usr/local/bin/node"
  for t in "${TOOLS[@]}"; do cp -L "$t" "$fs$t"; done
  ldd "$NODE" "${TOOLS[@]}" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]*ld-linux/{print $1}' | sort -u | while read -r lib; do
    mkdir -p "$fs$(dirname "$lib")"
    cp -L "$lib" "$fs$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nportcullis:x:65532:65532:portcullis:/nonexistent:/sbin/nologin\n' >"$fs/etc/passwd"
  printf 'root:x:0:\nportcullis:x:65532:\n' >"$fs/etc/group"
  printf 'hosts: files dns\n' >"$fs/etc/nsswitch.conf"
}

# import NAME DIR [ENV...]: docker import, labelled with a digest of the files, skipped when unchanged.
import() {
  local name=$1 fs=$2; shift 2
  local digest
  digest=$(cd "$fs" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  digest=$(printf '%s %s' "$digest" "$*" | sha256sum | cut -c1-16)
  if [[ $(docker image inspect -f '{{index .Config.Labels "dev.portcullis.base-digest"}}' "$name" 2>/dev/null || true) == "$digest" ]]; then
    log "$name is up to date"
    return
  fi
  local changes=(-c "LABEL dev.portcullis.base-digest=$digest" -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin')
  for e in "$@"; do changes+=(-c "ENV $e"); done
  tar -C "$fs" --numeric-owner --owner=0 --group=0 -c . | docker import "${changes[@]}" - "$name" >/dev/null
  log "imported $name"
}

assemble "$W/runtime"
import "$RUNTIME_IMAGE" "$W/runtime"

cp -a "$W/runtime" "$W/build"
mkdir -p "$W/build/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$W/build/usr/local/lib/node_modules/npm"
printf '#!/bin/sh\nexec node /usr/local/lib/node_modules/npm/bin/npm-cli.js "$@"\n' >"$W/build/usr/local/bin/npm"
chmod 755 "$W/build/usr/local/bin/npm"
build_env=(HOME=/root)
mkdir -p "$W/build/root"
# The certificate authorities this machine's npm trusts (a TLS-inspecting proxy's, say) are trusted by
# the build stage too: npm's cafile setting, or else Node's NODE_EXTRA_CA_CERTS.
mkdir -p "$W/build/etc/ssl/certs"
if [[ -n $CAFILE && -r $CAFILE ]]; then
  cp "$CAFILE" "$W/build/etc/ssl/certs/npm-ca.pem"
  build_env+=(NPM_CONFIG_CAFILE=/etc/ssl/certs/npm-ca.pem)
elif [[ -n ${NODE_EXTRA_CA_CERTS:-} && -r ${NODE_EXTRA_CA_CERTS:-} ]]; then
  cp "$NODE_EXTRA_CA_CERTS" "$W/build/etc/ssl/certs/extra-ca.pem"
  build_env+=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/extra-ca.pem)
fi
[[ -n $REGISTRY ]] && build_env+=("NPM_CONFIG_REGISTRY=$REGISTRY")
import "$BUILD_IMAGE" "$W/build" "${build_env[@]}"

echo "$RUNTIME_IMAGE"
echo "$BUILD_IMAGE"
