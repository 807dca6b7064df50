#!/usr/bin/env bash
# Builds Portcullis' image from the Dockerfile: `make image` runs this.
#   IMAGE        the tag to build (default portcullis:dev)
#   BASE_IMAGE   the runtime base; empty: assemble one from this machine (local-base.sh), which also
#                provides BUILD_IMAGE. Set it (e.g. node:24-slim) wherever a registry is reachable.
#   BUILD_IMAGE  the base that runs `npm ci` (default: BASE_IMAGE)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IMAGE=${IMAGE:-portcullis:dev}
BASE_IMAGE=${BASE_IMAGE:-}
BUILD_IMAGE=${BUILD_IMAGE:-}
if [[ -z $BASE_IMAGE ]]; then
  bases_out=$(bash "$ROOT/deploy/image/local-base.sh")
  mapfile -t bases <<<"$bases_out"
  BASE_IMAGE=${bases[0]}
  BUILD_IMAGE=${BUILD_IMAGE:-${bases[1]}}
fi
BUILD_IMAGE=${BUILD_IMAGE:-$BASE_IMAGE}
# The classic builder needs no buildx plugin and resolves locally imported bases without a registry.
if ! docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0; fi
printf 'build: %s from %s (dependencies installed on %s)\n' "$IMAGE" "$BASE_IMAGE" "$BUILD_IMAGE" >&2
docker build --force-rm --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "BUILD_IMAGE=$BUILD_IMAGE" -t "$IMAGE" "$ROOT" >&2
echo "$IMAGE"
