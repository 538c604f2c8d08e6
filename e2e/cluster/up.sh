#!/usr/bin/env bash
# Start a real Kubernetes control plane on loopback: etcd, kube-apiserver and Jaeger v2.
#
#   e2e/tools/build.sh && e2e/cluster/up.sh      (or: make cluster-up)
#   .cache/bin/kubectl --kubeconfig .cache/e2e/kubeconfig get ns
#   e2e/cluster/down.sh                          (or: make cluster-down)
#
# What runs (all bound to 127.0.0.1, ports overridable, see env.sh):
#   etcd            client :23790, peer :23800, plain HTTP, data in .cache/e2e/etcd-data
#   kube-apiserver  https :6443; client-cert auth (admin cert O=system:masters), RBAC + Node
#                   authorization, ServiceAccount token issuing (TokenRequest) and TokenReview,
#                   admission incl. MutatingAdmissionWebhook and ValidatingAdmissionWebhook
#   jaeger (v2)     OTLP gRPC :4317, OTLP HTTP :4318, query API/UI :16686, health :13133,
#                   in-memory storage (e2e/cluster/jaeger.yaml); the UI page is a placeholder
#                   (go build embeds no UI assets), the /api/* query API is real
#
# Outputs under .cache/e2e/: kubeconfig (admin), pki/ (ca.crt, apiserver.*, admin.*, sa.*,
# webhook.* -- a serving cert for 127.0.0.1 signed by the same CA, for the controller's admission
# webhooks; its caBundle is ca.crt), logs/<component>.log, <component>.pid.
#
# Not running, on purpose: kube-controller-manager, kube-scheduler, kubelet, kube-proxy. So:
#   - no `default` ServiceAccount is created in new namespaces (the serviceaccount controller
#     does that): create it yourself before creating Pods that don't name another
#     ServiceAccount, or the ServiceAccount admission plugin rejects them
#     (`kubectl -n NS create serviceaccount default`);
#   - no `kube-root-ca.crt` ConfigMap is published into namespaces;
#   - no legacy ServiceAccount token Secrets are populated (TokenRequest -- `kubectl create
#     token`, projected tokens -- works, it is served by the apiserver itself);
#   - a deleted namespace stays Terminating forever (the namespace controller finalizes it):
#     use fresh namespace names per test, or wipe everything with down.sh;
#   - Pods are admitted and stored (webhooks run) but never scheduled or started; Deployments
#     create no ReplicaSets; no garbage collection of ownerReferences; Services get no
#     Endpoints, and the `kubernetes` Service has none (--endpoint-reconciler-type=none, since
#     a loopback address is not a valid endpoint).
#
# Idempotent: a component that is already running (per its PID file) is left alone. Readiness
# is polled (etcd /health, apiserver /readyz with the admin cert, Jaeger /status and its query
# API); there are no fixed sleeps.
set -euo pipefail
# shellcheck source=e2e/cluster/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

t_total=$(e2e_ms)
log() { echo "cluster-up: $*"; }
die() { echo "cluster-up: ERROR: $*" >&2; echo "cluster-up: logs in $E2E_LOG_DIR; 'make cluster-down' stops what did start" >&2; exit 1; }

for b in etcd kube-apiserver jaeger kubectl; do
  [[ -x $E2E_BIN_DIR/$b ]] || die "$E2E_BIN_DIR/$b is missing: run 'make e2e-tools' (e2e/tools/build.sh) first"
done
command -v openssl >/dev/null || die "openssl is needed to generate the local PKI"
command -v curl >/dev/null || die "curl is needed for readiness checks"
mkdir -p "$E2E_STATE_DIR" "$E2E_LOG_DIR"

# ---------------------------------------------------------------------------------------------
# PKI: one self-signed CA; apiserver serving cert; admin client cert; SA signing key pair;
# a webhook serving cert. ECDSA P-256 everywhere (instant to generate; the apiserver signs SA
# tokens with ES256). Generated once and kept across down/up so kubeconfigs stay valid.
# ---------------------------------------------------------------------------------------------
pki=$E2E_PKI_DIR
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# sign NAME SUBJECT EXTENSIONS: a leaf cert in $tmp signed by $tmp/ca
sign() {
  local name=$1 subj=$2 ext=$3
  gen_key "$tmp/$name.key"
  openssl req -new -key "$tmp/$name.key" -subj "$subj" -out "$tmp/$name.csr" 2>/dev/null
  openssl x509 -req -in "$tmp/$name.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 \
    -extfile <(printf '%s\n' "$ext") -out "$tmp/$name.crt" 2>/dev/null
  rm -f "$tmp/$name.csr"
}
if [[ ! -f $pki/.complete ]]; then
  t=$(e2e_ms)
  tmp=$(mktemp -d "$E2E_STATE_DIR/pki.tmp.XXXXXX")
  gen_key "$tmp/ca.key"
  openssl req -x509 -new -key "$tmp/ca.key" -subj "/CN=agentwarden-e2e-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$tmp/ca.crt" 2>/dev/null
  leaf_usage="keyUsage=critical,digitalSignature,keyEncipherment"
  sign apiserver "/CN=kube-apiserver" "$leaf_usage
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:${E2E_SERVICE_CIDR%.*}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign admin "/O=system:masters/CN=agentwarden-e2e-admin" "$leaf_usage
extendedKeyUsage=clientAuth"
  sign webhook "/CN=agentwarden-e2e-webhook" "$leaf_usage
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
  gen_key "$tmp/sa.key"
  openssl pkey -in "$tmp/sa.key" -pubout -out "$tmp/sa.pub" 2>/dev/null
  chmod 600 "$tmp"/*.key
  touch "$tmp/.complete"
  rm -rf "$pki" && mv "$tmp" "$pki"
  log "generated PKI in ${pki#"$E2E_REPO_ROOT"/} ($(e2e_secs "$t"))"
fi

# Admin kubeconfig (rewritten every time: the port may have changed).
b64() { base64 -w0 <"$1"; }
umask 077
cat >"$E2E_KUBECONFIG.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: agentwarden-e2e
  cluster:
    server: https://$E2E_HOST:$APISERVER_PORT
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: agentwarden-e2e-admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: agentwarden-e2e
  context:
    cluster: agentwarden-e2e
    user: agentwarden-e2e-admin
current-context: agentwarden-e2e
EOF
mv -f "$E2E_KUBECONFIG.tmp" "$E2E_KUBECONFIG"
umask 022

# ---------------------------------------------------------------------------------------------
# Process management
# ---------------------------------------------------------------------------------------------
port_busy() { [[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }

declare -A started_at=()
# Before starting anything: every port of a component that is not running must be free.
for c in "${E2E_COMPONENTS[@]}"; do
  e2e_running_pid "$c" >/dev/null && continue
  for p in $(e2e_ports "$c"); do
    port_busy "$p" && die "port $p (for $c) is in use by another process: $(ss -Htlnp "sport = :$p" | head -1)
  (change it with ETCD_CLIENT_PORT, ETCD_PEER_PORT, APISERVER_PORT, JAEGER_*_PORT; see e2e/cluster/env.sh)"
  done
done

# start NAME ARGS...: launch $E2E_BIN_DIR/NAME detached (own session, stdin closed,
# output to its log) unless it is already running. The child records its own PID before it
# execs the binary, so the PID file names the real process whatever setsid does.
start() {
  local name=$1 pid pidfile log; shift
  if pid=$(e2e_running_pid "$name"); then
    log "$name already running (pid $pid)"
    return 0
  fi
  pidfile=$(e2e_pidfile "$name")
  log=$E2E_LOG_DIR/$name.log
  rm -f "$pidfile"
  echo "=== $(date -u +%FT%TZ) starting $name" >>"$log"
  started_at[$name]=$(e2e_ms)
  # shellcheck disable=SC2016  # $$ and $@ are the child shell's
  # env -u: etcd reads every ETCD_* variable as a flag and warns about ETCD_CLIENT_PORT & co.
  E2E_PIDFILE=$pidfile setsid -f env -u ETCD_CLIENT_PORT -u ETCD_PEER_PORT bash -c 'echo $$ >"$E2E_PIDFILE.tmp" && mv "$E2E_PIDFILE.tmp" "$E2E_PIDFILE" && exec "$@"' \
    _ "$E2E_BIN_DIR/$name" "$@" >>"$log" 2>&1 </dev/null
}

# wait_ready NAME CHECK...: poll CHECK (a command) until it succeeds; fail fast if the process
# dies, fail after E2E_READY_TIMEOUT seconds. Prints how long the component took.
wait_ready() {
  local name=$1; shift
  local deadline=$(( $(e2e_ms) + E2E_READY_TIMEOUT * 1000 )) pidfile pid=
  pidfile=$(e2e_pidfile "$name")
  while :; do
    [[ -z $pid && -s $pidfile ]] && pid=$(<"$pidfile")
    if [[ -n $pid ]] && ! e2e_alive "$pid"; then
      echo "--- last lines of $E2E_LOG_DIR/$name.log:" >&2; tail -n 30 "$E2E_LOG_DIR/$name.log" >&2
      die "$name exited during startup"
    fi
    if [[ -n $pid ]] && "$@" >/dev/null 2>&1; then break; fi
    if (( $(e2e_ms) > deadline )); then
      echo "--- last lines of $E2E_LOG_DIR/$name.log:" >&2; tail -n 30 "$E2E_LOG_DIR/$name.log" >&2
      die "$name not ready after ${E2E_READY_TIMEOUT}s"
    fi
    sleep 0.1
  done
  e2e_running_pid "$name" >/dev/null || die "$name: PID file $pidfile does not name $E2E_BIN_DIR/$name"
  if [[ -n ${started_at[$name]:-} ]]; then
    log "$name ready in $(e2e_secs "${started_at[$name]}") (pid $pid, log ${E2E_LOG_DIR#"$E2E_REPO_ROOT"/}/$name.log)"
  fi
}

etcd_healthy() { curl -sf --max-time 2 "http://$E2E_HOST:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }
apiserver_ready() {
  [[ $(curl -s --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://$E2E_HOST:$APISERVER_PORT/readyz") == ok ]]
}
jaeger_ready() {
  curl -sf --max-time 2 "http://$E2E_HOST:$JAEGER_HEALTH_PORT/status" &&
    curl -sf --max-time 2 "http://$E2E_HOST:$JAEGER_QUERY_PORT/api/services"
}

# ---------------------------------------------------------------------------------------------
# etcd and Jaeger first (independent), then the apiserver once etcd answers.
# ---------------------------------------------------------------------------------------------
etcd_client=http://$E2E_HOST:$ETCD_CLIENT_PORT
etcd_peer=http://$E2E_HOST:$ETCD_PEER_PORT
# --unsafe-no-fsync: the data is disposable (down.sh deletes it) and fsync dominates write
# latency on small VMs.
start etcd \
  --name agentwarden-e2e \
  --data-dir "$E2E_ETCD_DATA_DIR" \
  --listen-client-urls "$etcd_client" --advertise-client-urls "$etcd_client" \
  --listen-peer-urls "$etcd_peer" --initial-advertise-peer-urls "$etcd_peer" \
  --initial-cluster "agentwarden-e2e=$etcd_peer" --initial-cluster-state new \
  --unsafe-no-fsync \
  --log-level warn

export JAEGER_HOST=$E2E_HOST JAEGER_OTLP_GRPC_PORT JAEGER_OTLP_HTTP_PORT JAEGER_QUERY_PORT \
  JAEGER_QUERY_GRPC_PORT JAEGER_HEALTH_PORT
start jaeger \
  --config "$E2E_CLUSTER_DIR/jaeger.yaml"

wait_ready etcd etcd_healthy

start kube-apiserver \
  --bind-address="$E2E_HOST" \
  --advertise-address="$E2E_HOST" \
  --secure-port="$APISERVER_PORT" \
  --etcd-servers="$etcd_client" \
  --cert-dir="$pki" \
  --tls-cert-file="$pki/apiserver.crt" \
  --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NamespaceLifecycle,ServiceAccount,NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota \
  --service-account-issuer="$E2E_SA_ISSUER" \
  --service-account-key-file="$pki/sa.pub" \
  --service-account-signing-key-file="$pki/sa.key" \
  --api-audiences="$E2E_API_AUDIENCES" \
  --service-cluster-ip-range="$E2E_SERVICE_CIDR" \
  --endpoint-reconciler-type=none \
  --allow-privileged=true \
  --profiling=false \
  --v=1

wait_ready jaeger jaeger_ready
wait_ready kube-apiserver apiserver_ready

log "ready in $(e2e_secs "$t_total"): kubeconfig ${E2E_KUBECONFIG#"$E2E_REPO_ROOT"/}, apiserver https://$E2E_HOST:$APISERVER_PORT, etcd $etcd_client, jaeger OTLP grpc $E2E_HOST:$JAEGER_OTLP_GRPC_PORT http $E2E_HOST:$JAEGER_OTLP_HTTP_PORT, UI http://$E2E_HOST:$JAEGER_QUERY_PORT"
