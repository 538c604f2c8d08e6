#!/usr/bin/env bash
# The chart on the local control plane, the controller as a local process (make dev-up):
#
#   1. helm upgrade --install the chart (helm/agentwarden) with e2e/dev/values-dev.yaml: the
#      Deployment scaled to zero, the webhooks registered by URL (https://127.0.0.1:PORT) with
#      the local PKI's CA as caBundle;
#   2. a kubeconfig (.cache/dev/controller.kubeconfig) with the API server's CA and a token of
#      the chart's ServiceAccount (kubectl create token) -- not the admin certificate, so that
#      everything the controller does goes through the chart's RBAC;
#   3. the injector settings from the chart's ConfigMap (.cache/dev/inject.yaml);
#   4. bin/agentwarden controller on loopback (webhooks with .cache/e2e/pki/webhook.crt,
#      distribution without TLS, metrics), PID in .cache/dev/controller.pid, log in
#      .cache/dev/controller.log; ready when its /readyz answers 200.
#
#   e2e/dev/up.sh [extra helm arguments, e.g. --set inject.envoy.logLevel=debug]
#
# Needs `make build` and `make cluster-up`. Re-running upgrades the release and restarts the
# controller with a fresh token. Settings (release, namespace, ports): e2e/dev/env.sh.
set -euo pipefail
# shellcheck source=e2e/dev/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

t_total=$(e2e_ms)
log() { echo "dev-up: $*"; }
die() { echo "dev-up: ERROR: $*" >&2; exit 1; }

for b in kubectl helm; do
  [[ -x $E2E_BIN_DIR/$b ]] || die "$E2E_BIN_DIR/$b is missing: run 'make e2e-tools'"
done
[[ -f $E2E_REPO_ROOT/dist/cli/src/run.js ]] || die "dist/cli/src/run.js is missing: run 'make build'"
dev_kubectl get --raw /readyz >/dev/null 2>&1 || die "the local control plane does not answer: run 'make cluster-up'"
mkdir -p "$DEV_STATE_DIR"

# A running controller from an earlier `up` is replaced (new token, new chart settings).
if pid=$(dev_controller_pid); then
  log "stopping the controller started earlier (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq $((DEV_STOP_TIMEOUT * 10))); do e2e_alive "$pid" || break; sleep 0.1; done
  e2e_alive "$pid" && kill -KILL "$pid"
fi
for p in "$DEV_WEBHOOK_PORT" "$DEV_DISTRIBUTION_PORT" "$DEV_METRICS_PORT"; do
  [[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]] || die "port $p is in use: $(ss -Htlnp "sport = :$p" | head -1)
  (change it with DEV_WEBHOOK_PORT, DEV_DISTRIBUTION_PORT, DEV_METRICS_PORT)"
done

# 1. The chart.
t=$(e2e_ms)
dev_helm upgrade --install "$DEV_RELEASE" "$DEV_CHART" \
  --namespace "$DEV_NAMESPACE" --create-namespace \
  -f "$DEV_VALUES" \
  --set "webhook.url=https://127.0.0.1:$DEV_WEBHOOK_PORT" \
  --set-file "webhook.caBundle=$E2E_PKI_DIR/ca.crt" \
  --set "inject.controllerAddress=127.0.0.1:$DEV_DISTRIBUTION_PORT" \
  --set "inject.sidecar.otlp.endpoint=http://127.0.0.1:$JAEGER_OTLP_HTTP_PORT" \
  "$@" >"$DEV_STATE_DIR/helm.log"
log "release $DEV_RELEASE in namespace $DEV_NAMESPACE installed ($(e2e_secs "$t"))"

# 2. The controller's identity: the chart's ServiceAccount.
sa=$(dev_kubectl get serviceaccount -n "$DEV_NAMESPACE" -l "$(dev_selector app.kubernetes.io/component=controller)" -o jsonpath='{.items[0].metadata.name}')
[[ -n $sa ]] || die "no controller ServiceAccount in release $DEV_RELEASE"
token=$(dev_kubectl create token "$sa" -n "$DEV_NAMESPACE" --duration "$DEV_TOKEN_DURATION")
server=$(dev_kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
umask 077
cat >"$DEV_KUBECONFIG.tmp" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: agentwarden-dev
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 <"$E2E_PKI_DIR/ca.crt")
users:
- name: $sa
  user:
    token: $token
contexts:
- name: agentwarden-dev
  context:
    cluster: agentwarden-dev
    namespace: $DEV_NAMESPACE
    user: $sa
current-context: agentwarden-dev
KUBECONFIG
mv -f "$DEV_KUBECONFIG.tmp" "$DEV_KUBECONFIG"

# 3. The injector settings exactly as the chart rendered them.
dev_kubectl get configmap "$sa-inject" -n "$DEV_NAMESPACE" -o go-template='{{index .data "inject.yaml"}}' >"$DEV_INJECT_CONFIG.tmp"
mv -f "$DEV_INJECT_CONFIG.tmp" "$DEV_INJECT_CONFIG"
umask 022

# 4. The controller, detached (own session, stdin closed). The child records its PID before it
# execs, and bin/agentwarden execs node, so the PID file names the controller itself.
echo "=== $(date -u +%FT%TZ) starting the controller as $DEV_NAMESPACE/$sa" >>"$DEV_LOG"
rm -f "$DEV_PIDFILE"
t=$(e2e_ms)
# shellcheck disable=SC2016  # $$ and $@ are the child shell's
DEV_PIDFILE=$DEV_PIDFILE setsid -f env -u KUBECONFIG bash -c 'echo $$ >"$DEV_PIDFILE.tmp" && mv "$DEV_PIDFILE.tmp" "$DEV_PIDFILE" && exec "$@"' _ \
  "$E2E_REPO_ROOT/bin/agentwarden" controller \
  --kubeconfig "$DEV_KUBECONFIG" \
  --namespace "$DEV_NAMESPACE" \
  --identity "dev-$(hostname)-$$" \
  --distribution-listen "127.0.0.1:$DEV_DISTRIBUTION_PORT" \
  --metrics-listen "127.0.0.1:$DEV_METRICS_PORT" \
  --webhook-listen "127.0.0.1:$DEV_WEBHOOK_PORT" \
  --webhook-cert "$E2E_PKI_DIR/webhook.crt" \
  --webhook-key "$E2E_PKI_DIR/webhook.key" \
  --inject-config "$DEV_INJECT_CONFIG" \
  --leader-elect true \
  --controller-username "system:serviceaccount:$DEV_NAMESPACE:$sa" \
  >>"$DEV_LOG" 2>&1 </dev/null

deadline=$(( $(e2e_ms) + DEV_READY_TIMEOUT * 1000 ))
pid=
until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$DEV_METRICS_PORT/readyz") == 200 ]]; do
  [[ -z $pid && -s $DEV_PIDFILE ]] && pid=$(<"$DEV_PIDFILE")
  if [[ -n $pid ]] && ! e2e_alive "$pid"; then
    echo "--- last lines of $DEV_LOG:" >&2; tail -n 30 "$DEV_LOG" >&2
    die "the controller exited during startup"
  fi
  if (( $(e2e_ms) > deadline )); then
    echo "--- last lines of $DEV_LOG:" >&2; tail -n 30 "$DEV_LOG" >&2
    die "the controller is not ready after ${DEV_READY_TIMEOUT}s (http://127.0.0.1:$DEV_METRICS_PORT/readyz)"
  fi
  sleep 0.1
done
pid=$(dev_controller_pid) || die "the PID file $DEV_PIDFILE does not name the controller"
log "controller ready in $(e2e_secs "$t") as ServiceAccount $DEV_NAMESPACE/$sa (pid $pid, log ${DEV_LOG#"$E2E_REPO_ROOT"/})"
log "webhooks https://127.0.0.1:$DEV_WEBHOOK_PORT, distribution 127.0.0.1:$DEV_DISTRIBUTION_PORT, metrics http://127.0.0.1:$DEV_METRICS_PORT/metrics"
log "ready in $(e2e_secs "$t_total"); 'make dev-down' stops it all"
