# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the scripts
# Shared settings for e2e/cluster/{up,down,smoke}.sh. Sourced, not executed.
# Every value can be overridden from the environment (or `make cluster-up VAR=...`).

E2E_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_CLUSTER_DIR=$E2E_REPO_ROOT/e2e/cluster

E2E_BIN_DIR=${E2E_BIN_DIR:-$E2E_REPO_ROOT/.cache/bin}
E2E_STATE_DIR=${E2E_STATE_DIR:-$E2E_REPO_ROOT/.cache/e2e}
E2E_LOG_DIR=$E2E_STATE_DIR/logs
E2E_PKI_DIR=$E2E_STATE_DIR/pki
E2E_ETCD_DATA_DIR=$E2E_STATE_DIR/etcd-data
E2E_KUBECONFIG=${E2E_KUBECONFIG:-$E2E_STATE_DIR/kubeconfig}

# All listeners are on loopback.
E2E_HOST=127.0.0.1
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-23790}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23800}
APISERVER_PORT=${APISERVER_PORT:-6443}
JAEGER_OTLP_GRPC_PORT=${JAEGER_OTLP_GRPC_PORT:-4317}
JAEGER_OTLP_HTTP_PORT=${JAEGER_OTLP_HTTP_PORT:-4318}
JAEGER_QUERY_PORT=${JAEGER_QUERY_PORT:-16686}
JAEGER_QUERY_GRPC_PORT=${JAEGER_QUERY_GRPC_PORT:-16685}
JAEGER_HEALTH_PORT=${JAEGER_HEALTH_PORT:-13133}

# ServiceAccount tokens: issuer and the audiences the apiserver accepts. `agentwarden` is the
# audience the sidecar's projected token is minted for and the controller checks.
E2E_SA_ISSUER=${E2E_SA_ISSUER:-https://kubernetes.default.svc.cluster.local}
E2E_API_AUDIENCES=${E2E_API_AUDIENCES:-$E2E_SA_ISSUER,agentwarden}
# Only a setting: nothing routes to it (no kube-proxy); the apiserver insists on a range.
E2E_SERVICE_CIDR=${E2E_SERVICE_CIDR:-10.0.0.0/24}

# How long to wait for each component to become ready before giving up.
E2E_READY_TIMEOUT=${E2E_READY_TIMEOUT:-120}

# Components in start order; down.sh stops them in reverse.
E2E_COMPONENTS=(etcd kube-apiserver jaeger)

e2e_pidfile() { echo "$E2E_STATE_DIR/$1.pid"; }

# Prints the PID recorded for component $1 when that process is alive and is still our binary
# (guards against a stale PID file whose number the kernel has since given to something else).
e2e_running_pid() {
  local pidfile pid exe
  pidfile=$(e2e_pidfile "$1")
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ ${exe% (deleted)} == "$E2E_BIN_DIR/$1" ]] || return 1
  echo "$pid"
}

# The ports component $1 listens on.
e2e_ports() {
  case $1 in
    etcd) echo "$ETCD_CLIENT_PORT $ETCD_PEER_PORT" ;;
    kube-apiserver) echo "$APISERVER_PORT" ;;
    jaeger) echo "$JAEGER_OTLP_GRPC_PORT $JAEGER_OTLP_HTTP_PORT $JAEGER_QUERY_PORT $JAEGER_QUERY_GRPC_PORT $JAEGER_HEALTH_PORT" ;;
  esac
}

# PIDs of any process running one of our binaries from $E2E_BIN_DIR (the components named, or
# all), found by pgrep on the full path and confirmed through /proc/PID/exe (pgrep -f alone
# would also match e.g. `tail -f` of a log).
e2e_stray_pids() {
  local pid exe name
  (( $# )) || set -- "${E2E_COMPONENTS[@]}"
  for name in "$@"; do
    for pid in $(pgrep -f -- "$E2E_BIN_DIR/$name( |\$)" || true); do
      exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
      [[ ${exe% (deleted)} == "$E2E_BIN_DIR/$name" ]] && echo "$pid"
    done
  done
}

# True while process $1 exists and is not a zombie (an exited child nobody has reaped yet).
e2e_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

e2e_ms() { date +%s%3N; }
e2e_secs() { local ms=$(( $(e2e_ms) - $1 )); printf '%d.%03ds' $((ms / 1000)) $((ms % 1000)); }
