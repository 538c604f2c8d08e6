#!/usr/bin/env bash
# Smoke test of a running loopback cluster (after e2e/cluster/up.sh): the admin kubeconfig
# works, a ServiceAccount token for audience `agentwarden` is issued and passes TokenReview,
# RBAC denies that ServiceAccount what it was not granted, and a span sent to Jaeger over
# OTLP/HTTP comes back from its query API.
# Uses a fresh namespace each run (namespaces never finish deleting without the
# controller-manager; down.sh wipes them with the etcd data).
set -euo pipefail
# shellcheck source=e2e/cluster/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

kubectl() { "$E2E_BIN_DIR/kubectl" --kubeconfig "$E2E_KUBECONFIG" "$@"; }
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
t=$(e2e_ms)

kubectl version
kubectl get ns
ns=smoke-$(date +%s)-$$
kubectl create namespace "$ns"
kubectl -n "$ns" create serviceaccount agent
token=$(kubectl -n "$ns" create token agent --audience agentwarden --duration 10m)

review=$(kubectl create -o yaml -f - <<EOF
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec:
  token: $token
  audiences: [agentwarden]
EOF
)
echo "$review" | sed -n '/^status:/,$p'
grep -q 'authenticated: true' <<<"$review" || fail "TokenReview did not authenticate the token"
grep -q "username: system:serviceaccount:$ns:agent" <<<"$review" || fail "TokenReview returned the wrong user"

# The same token presented for another audience is rejected.
wrong=$(kubectl create -o yaml -f - <<EOF
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec:
  token: $token
  audiences: [someone-else]
EOF
)
grep -q 'authenticated: true' <<<"$wrong" && fail "token accepted for an audience it was not issued for"

# RBAC: the ServiceAccount has no grants.
[[ $(kubectl auth can-i list secrets -n "$ns" --as "system:serviceaccount:$ns:agent" || true) == no ]] ||
  fail "RBAC let a fresh ServiceAccount list secrets"

# Jaeger: a span sent over OTLP/HTTP can be read back from the query API (polled).
curl -sf "http://$E2E_HOST:$JAEGER_QUERY_PORT/api/services" >/dev/null || fail "Jaeger query API did not answer"
trace_id=$(openssl rand -hex 16)
now=$(date +%s%N)
curl -sf -o /dev/null -H 'Content-Type: application/json' "http://$E2E_HOST:$JAEGER_OTLP_HTTP_PORT/v1/traces" -d '{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "e2e-smoke"}}]},
    "scopeSpans": [{"spans": [{"traceId": "'"$trace_id"'", "spanId": "'"$(openssl rand -hex 8)"'",
      "name": "smoke", "kind": 1, "startTimeUnixNano": "'"$now"'", "endTimeUnixNano": "'"$((now + 1000000))"'"}]}]
  }]}' || fail "OTLP/HTTP export to Jaeger failed"
deadline=$(( $(e2e_ms) + 10000 ))
until curl -sf "http://$E2E_HOST:$JAEGER_QUERY_PORT/api/traces/$trace_id" | grep -q '"operationName":"smoke"'; do
  (( $(e2e_ms) < deadline )) || fail "span $trace_id not queryable in Jaeger after 10s"
  sleep 0.1
done
curl -sf "http://$E2E_HOST:$JAEGER_QUERY_PORT/api/services"
echo
echo "smoke: 5 passed, 0 failed ($(e2e_secs "$t"), namespace $ns)"
