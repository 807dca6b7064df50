#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests drive for real: Caddy (forward_auth), nginx
# (auth_request), Docker (the container image test), zsh (test/cli.test.ts completes in it),
# promtool (test/deploy/alerts.test.ts checks the chart's alerts), wrk (test/bench/wrk.test.ts
# drives bench/wrk.ts for real) and Chromium (the admin page,
# test/server/admin-page.test.ts, driven by puppeteer-core). Idempotent: apt-get update and
# install run only when a package is missing, so a prepared machine pays nothing. Debian bookworm
# packages: caddy 2.6.x, nginx-light 1.22.x, docker.io 20.10.x (dockerd, containerd, runc come with
# it), zsh 5.9, prometheus 2.42 (for its promtool; the server is never started), wrk 4.1, chromium.
# With arguments, it installs those packages instead (make bench: wrk and the proxies it compares).
set -euo pipefail

if (($# > 0)); then
  PACKAGES=("$@")
else
  PACKAGES=(caddy nginx-light docker.io zsh prometheus wrk chromium)
fi
log() { printf 'ensure-packages: %s\n' "$*" >&2; }

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  log "all present: ${PACKAGES[*]}"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
  SUDO=(sudo)
fi
log "installing: ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
# No service is started by the packages' maintainer scripts (policy-rc.d), and no recommends:
# the tests start every daemon themselves, on their own ports, and stop it afterwards.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && "${SUDO[@]}" rm -f "$policy"' EXIT
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
for pkg in "${missing[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] || { log "$pkg is still missing after the install"; exit 1; }
done
log "installed: ${missing[*]}"
