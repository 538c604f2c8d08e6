# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the scripts
# Settings for e2e/dev/{up,down}.sh. Sourced, not executed. Every value can be overridden
# from the environment; e2e/test/helm.test.ts runs the scripts with its own release,
# namespace, ports and state directory.
# shellcheck source=e2e/cluster/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/env.sh"

DEV_DIR=$E2E_REPO_ROOT/e2e/dev
DEV_CHART=${DEV_CHART:-$E2E_REPO_ROOT/helm/agentwarden}
DEV_VALUES=${DEV_VALUES:-$DEV_DIR/values-dev.yaml}
DEV_STATE_DIR=${DEV_STATE_DIR:-$E2E_REPO_ROOT/.cache/dev}
DEV_RELEASE=${DEV_RELEASE:-agentwarden}
DEV_NAMESPACE=${DEV_NAMESPACE:-agentwarden-system}
# The local controller's listeners (loopback only; the distribution port runs without TLS,
# which the controller allows on loopback).
DEV_WEBHOOK_PORT=${DEV_WEBHOOK_PORT:-9443}
DEV_DISTRIBUTION_PORT=${DEV_DISTRIBUTION_PORT:-15012}
DEV_METRICS_PORT=${DEV_METRICS_PORT:-18080}
# Lifetime of the ServiceAccount token the local controller authenticates with.
DEV_TOKEN_DURATION=${DEV_TOKEN_DURATION:-24h}
DEV_READY_TIMEOUT=${DEV_READY_TIMEOUT:-60}
DEV_STOP_TIMEOUT=${DEV_STOP_TIMEOUT:-10}

DEV_PIDFILE=$DEV_STATE_DIR/controller.pid
DEV_LOG=$DEV_STATE_DIR/controller.log
DEV_KUBECONFIG=$DEV_STATE_DIR/controller.kubeconfig
DEV_INJECT_CONFIG=$DEV_STATE_DIR/inject.yaml

dev_kubectl() { "$E2E_BIN_DIR/kubectl" --kubeconfig "$E2E_KUBECONFIG" "$@"; }
dev_helm() { "$E2E_BIN_DIR/helm" --kubeconfig "$E2E_KUBECONFIG" "$@"; }

# The release's objects carry these labels (helm/agentwarden/templates/_helpers.tpl).
dev_selector() { echo "app.kubernetes.io/name=agentwarden,app.kubernetes.io/instance=$DEV_RELEASE${1:+,$1}"; }

# Prints the PID of the controller this state directory started, when it is still running:
# the process must be alive and its command line must name this state directory's kubeconfig
# (a stale PID file whose number was reused is ignored).
dev_controller_pid() {
  local pid
  [[ -f $DEV_PIDFILE ]] || return 1
  pid=$(<"$DEV_PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] && e2e_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--kubeconfig $DEV_KUBECONFIG " || return 1
  echo "$pid"
}
