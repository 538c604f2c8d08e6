#!/usr/bin/env bash
# Stop what e2e/cluster/up.sh started (Jaeger and kube-apiserver, then etcd), delete the
# etcd data so the next `up` starts from an empty cluster, and check that none of the binaries
# in .cache/bin is still running. Keeps the PKI, the kubeconfig and the logs.
#
#   E2E_KEEP_DATA=1 e2e/cluster/down.sh     keep .cache/e2e/etcd-data for the next up
#
# Safe to run when nothing is up. Exits non-zero if a process survives.
set -euo pipefail
# shellcheck source=e2e/cluster/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

t_total=$(e2e_ms)
log() { echo "cluster-down: $*"; }
# A healthy stop takes 1-3 s; an apiserver whose etcd is already gone can hang until killed.
E2E_STOP_TIMEOUT=${E2E_STOP_TIMEOUT:-10}

# stop_pids LABEL PID...: SIGTERM, poll until gone, SIGKILL after E2E_STOP_TIMEOUT seconds.
stop_pids() {
  local label=$1; shift
  (( $# )) || return 0
  local t deadline pid alive killed=0
  t=$(e2e_ms)
  deadline=$(( t + E2E_STOP_TIMEOUT * 1000 ))
  kill -TERM "$@" 2>/dev/null || true
  while :; do
    alive=()
    for pid in "$@"; do e2e_alive "$pid" && alive+=("$pid"); done
    (( ${#alive[@]} )) || break
    if (( !killed && $(e2e_ms) > deadline )); then
      log "$label did not stop in ${E2E_STOP_TIMEOUT}s: SIGKILL ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      killed=1
    fi
    sleep 0.1
  done
  log "stopped $label (pid $*) in $(e2e_secs "$t")"
}

# Clients of etcd first (Jaeger alongside, it depends on nothing), then etcd.
stop_components() {
  local name pid names=() pids=()
  for name in "$@"; do
    if pid=$(e2e_running_pid "$name"); then names+=("$name"); pids+=("$pid"); fi
  done
  if (( ${#pids[@]} )); then
    stop_pids "$(IFS=+; echo "${names[*]}")" "${pids[@]}"
  fi
  for name in "$@"; do rm -f "$(e2e_pidfile "$name")"; done
}
stop_components jaeger kube-apiserver
stop_components etcd

# Anything of ours still running (a lost PID file, an up.sh killed halfway): stop it by PID,
# in the same order (an apiserver whose etcd vanished first can hang in shutdown).
stop_strays() {
  local strays
  mapfile -t strays < <(e2e_stray_pids "$@")
  (( ${#strays[@]} )) || return 0
  log "found $* processes of ${E2E_BIN_DIR#"$E2E_REPO_ROOT"/} without a PID file: ${strays[*]}"
  stop_pids "leftovers" "${strays[@]}"
}
stop_strays jaeger kube-apiserver
stop_strays etcd

if [[ ${E2E_KEEP_DATA:-0} != 1 ]]; then
  rm -rf "$E2E_ETCD_DATA_DIR"
fi

mapfile -t left < <(e2e_stray_pids)
if (( ${#left[@]} )); then
  log "ERROR: still running: $(ps -o pid=,args= -p "$(IFS=,; echo "${left[*]}")")" >&2
  exit 1
fi
log "done in $(e2e_secs "$t_total"); no etcd, kube-apiserver or jaeger from ${E2E_BIN_DIR#"$E2E_REPO_ROOT"/} running"
