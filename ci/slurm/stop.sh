#!/usr/bin/env bash
# Stop the daemons that ci/slurm/start.sh started (and only those), using the
# PIDs recorded in $SLURM_TEST_STATE_DIR/pids. Idempotent: nothing recorded or
# already dead -> nothing to do.
#
#   ci/slurm/stop.sh           stop daemons, keep state dir (logs, DB) for debugging
#   ci/slurm/stop.sh --purge   stop daemons and delete the state dir
#
# Environment: SLURM_TEST_STATE_DIR [/tmp/tl-slurm], SLURM_TEST_CONF_DIR [/etc/slurm]
# (must match what start.sh used).
set -euo pipefail
# The daemons live in /usr/sbin, which a non-login shell's PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

STATE_DIR="${SLURM_TEST_STATE_DIR:-/tmp/tl-slurm}"
CONF_DIR="${SLURM_TEST_CONF_DIR:-/etc/slurm}"
PID_DIR="$STATE_DIR/pids"
export SLURM_CONF="$CONF_DIR/slurm.conf"
PURGE=0
[ "${1:-}" = "--purge" ] && PURGE=1

log() { echo "[slurm-stop] $*"; }

if [ ! -d "$STATE_DIR" ]; then
  log "no state dir $STATE_DIR; nothing to stop"
  exit 0
fi

exec 9>"$STATE_DIR/.lock"
flock -w 30 9 || echo "[slurm-stop] WARNING: could not lock $STATE_DIR/.lock within 30s; continuing anyway" >&2

pid_of() {  # print recorded pid of NAME if alive and still that program
  local name="$1" pidfile="$PID_DIR/$1.pid" pid comm
  [ -s "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  proc_running "$pid" || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  [ "$comm" = "$name" ] || return 1
  echo "$pid"
}

# proc_running PID -> 0 if PID exists and is not a zombie (PID 1 in CI
# containers often does not reap orphans, so dead daemons linger as zombies).
proc_running() {
  local st
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Cancel jobs on our cluster first so no slurmstepd/job processes linger.
if pid_of slurmctld >/dev/null; then
  if [ -n "$(timeout 10 squeue -h -o %i 2>/dev/null || true)" ]; then
    log "cancelling remaining jobs"
    timeout 10 scancel --user=root >/dev/null 2>&1 || true
    timeout 10 scancel --full --state=RUNNING >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do
      [ -z "$(timeout 10 squeue -h -o %i 2>/dev/null || true)" ] && break
      sleep 0.5
    done
  fi
fi

stop_one() {
  local name="$1" pid
  if ! pid="$(pid_of "$name")"; then
    rm -f "$PID_DIR/$name.pid"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do            # up to 30 s for a clean shutdown
    proc_running "$pid" || break
    sleep 0.5
  done
  if proc_running "$pid"; then
    log "$name (pid $pid) did not exit after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
      proc_running "$pid" || break
      sleep 0.25
    done
  fi
  rm -f "$PID_DIR/$name.pid"
}

# Reverse start order.
for d in slurmd slurmctld slurmdbd mariadbd munged; do
  stop_one "$d"
done

if [ "$PURGE" = 1 ]; then
  exec 9>&-
  rm -rf "$STATE_DIR"
  log "removed $STATE_DIR"
fi
log "done"
