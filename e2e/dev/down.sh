#!/usr/bin/env bash
# Undo e2e/dev/up.sh: stop the local controller, uninstall the release and delete its
# webhook configurations. `make dev-down` then stops the local control plane.
#
# The chart's pre-delete hook (a Job deleting the webhook configurations) cannot run here, where
# no pods run, so the release is uninstalled with --no-hooks and this script deletes the
# webhook configurations itself: left behind, their failurePolicy: Fail would refuse writes
# that nothing answers. The release namespace is kept (a deleted namespace never finishes
# terminating without kube-controller-manager; cluster-down wipes it with the rest).
#
# Safe to run when nothing is up.
set -euo pipefail
# shellcheck source=e2e/dev/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

log() { echo "dev-down: $*"; }

if pid=$(dev_controller_pid); then
  t=$(e2e_ms)
  kill -TERM "$pid"
  for _ in $(seq $((DEV_STOP_TIMEOUT * 10))); do e2e_alive "$pid" || break; sleep 0.1; done
  if e2e_alive "$pid"; then
    log "the controller did not stop in ${DEV_STOP_TIMEOUT}s: SIGKILL $pid"
    kill -KILL "$pid"
  fi
  log "stopped the controller (pid $pid) in $(e2e_secs "$t")"
fi
rm -f "$DEV_PIDFILE"
# The kubeconfig holds a bearer token of the chart's ServiceAccount.
rm -f "$DEV_KUBECONFIG"

if ! dev_kubectl get --raw /readyz >/dev/null 2>&1; then
  log "the local control plane does not answer: nothing to uninstall"
  exit 0
fi
if dev_helm status "$DEV_RELEASE" -n "$DEV_NAMESPACE" >/dev/null 2>&1; then
  dev_helm uninstall "$DEV_RELEASE" -n "$DEV_NAMESPACE" --no-hooks >/dev/null
  log "uninstalled release $DEV_RELEASE from namespace $DEV_NAMESPACE"
fi
# Normally gone with the release; not when the uninstall failed or the release was lost.
left=$(dev_kubectl get mutatingwebhookconfiguration,validatingwebhookconfiguration -l "$(dev_selector "")" -o name)
if [[ -n $left ]]; then
  # shellcheck disable=SC2086  # one name per word
  dev_kubectl delete $left --ignore-not-found >/dev/null
  log "deleted the webhook configurations left behind: ${left//$'\n'/ }"
fi
