#!/usr/bin/env bash
# Makes a Docker daemon available for the container test, and takes it away again only if it was ours.
#   ensure-docker.sh start   a running daemon is used as is; otherwise dockerd (docker.io) is started in
#                            the background and its pid recorded in .tmp/dockerd/dockerd.pid
#   ensure-docker.sh stop    stops dockerd only if `start` started it (the pid file exists)
# `make test` runs `start` before the tests and `stop` on exit, success or not.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE="$ROOT/.tmp/dockerd"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
log() { printf 'ensure-docker: %s\n' "$*" >&2; }
daemon_up() { docker info >/dev/null 2>&1; }

start() {
  command -v docker >/dev/null || { log "docker is not installed: run test/e2e/ensure-packages.sh"; exit 1; }
  if daemon_up; then
    log "using the running Docker daemon"
    exit 0
  fi
  local dockerd
  dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
  [[ -x $dockerd ]] || { log "dockerd is not installed: run test/e2e/ensure-packages.sh"; exit 1; }
  [[ $(id -u) -eq 0 ]] || { log "no Docker daemon is running and starting one needs root"; exit 1; }
  mkdir -p "$STATE"
  log "starting dockerd (log: $LOG)"
  # setsid: the daemon outlives this script and is not hit by the terminal's Ctrl-C.
  setsid "$dockerd" --host=unix:///var/run/docker.sock >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    if daemon_up; then
      log "dockerd is up (pid $(cat "$PIDFILE"))"
      exit 0
    fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  log "dockerd did not come up; last lines of $LOG:"
  tail -n 20 "$LOG" >&2 || true
  stop
  exit 1
}

stop() {
  [[ -f $PIDFILE ]] || return 0
  local pid
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping the dockerd we started (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "dockerd did not stop in 30 s; killing it"
      kill -KILL "$pid" || true
    fi
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
