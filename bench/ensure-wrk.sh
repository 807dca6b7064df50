#!/usr/bin/env bash
# Makes sure Debian's `wrk` (the HTTP load generator of `make bench`) and `taskset` are installed.
# `apt-get update` runs only when the package lists do not already offer wrk.
set -euo pipefail
if command -v wrk >/dev/null && command -v taskset >/dev/null; then exit 0; fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
have_candidate() { [[ -n $(apt-cache policy wrk 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)') ]]; }
if ! have_candidate; then
  echo "ensure-wrk: refreshing the apt package lists" >&2
  $SUDO apt-get update -qq
fi
echo "ensure-wrk: installing wrk (Debian)" >&2
$SUDO apt-get install -y -qq --no-install-recommends wrk util-linux >/dev/null
command -v wrk >/dev/null || { echo "ensure-wrk: wrk is still missing" >&2; exit 1; }
