#!/usr/bin/env bash
# Starts a command in a process group of its own and returns at once, for bench/background.ts'
# adoptBackground (`make bench` starts the kube-apiserver build so, beside `npm ci`):
#   bash bench/start-beside.sh DIR COMMAND [ARG...]
# writes DIR/pgid before it returns, the command's stdout to DIR/stdout, and its exit status and a
# line break to DIR/status once it has exited. Its stderr stays this script's.
set -euo pipefail
dir=${1:?usage: start-beside.sh DIR COMMAND [ARG...]}
shift
(($# > 0)) || { echo "start-beside.sh: no command" >&2; exit 2; }
# Job control: the job below becomes the leader of a new process group, so it can be stopped as one.
set -m
(
  status=0
  "$@" >"$dir/stdout" || status=$?
  echo "$status" >"$dir/status"
) &
echo "$!" >"$dir/pgid"
