# The chart on the local control plane with the controller as a local process, and the
# chart's own checks. Include from the top-level Makefile after e2e/e2e.mk:
#   include e2e/dev/dev.mk
DEV_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
DEV_MK_ROOT := $(abspath $(DEV_MK_DIR)/../..)
DEV_MK_ENV = E2E_BIN_DIR="$(DEV_MK_ROOT)/.cache/bin" E2E_STATE_DIR="$(DEV_MK_ROOT)/.cache/e2e"
HELM_CHART := $(DEV_MK_ROOT)/helm/agentwarden

.PHONY: dev-up dev-down helm-crds helm-crds-check helm-lint

dev-up: build cluster-up helm-crds-check ## local control plane + the Helm chart + the controller as a local process with the chart's ServiceAccount
	@$(DEV_MK_ENV) "$(DEV_MK_ROOT)/e2e/dev/up.sh"

dev-down: ## stop the local controller, uninstall the chart, delete its webhooks, stop the local control plane
	@$(DEV_MK_ENV) "$(DEV_MK_ROOT)/e2e/dev/down.sh"
	@$(DEV_MK_ENV) "$(DEV_MK_ROOT)/e2e/cluster/down.sh"

helm-crds: ## copy every crds/*.yaml into the chart (helm reads CRDs from the chart's crds/ only)
	cp "$(DEV_MK_ROOT)"/crds/*.yaml "$(HELM_CHART)/crds/"

helm-crds-check: ## fail when the chart's copy of any CRD differs from crds/*.yaml, or the chart has one crds/ lacks
	@for f in "$(DEV_MK_ROOT)"/crds/*.yaml; do n=$$(basename "$$f"); \
	  cmp -s "$$f" "$(HELM_CHART)/crds/$$n" || { diff -u "$$f" "$(HELM_CHART)/crds/$$n" | head -40 >&2; \
	    echo "helm/agentwarden/crds/$$n differs from crds/$$n: run 'make helm-crds'" >&2; exit 1; }; done
	@for f in "$(HELM_CHART)"/crds/*.yaml; do n=$$(basename "$$f"); \
	  test -f "$(DEV_MK_ROOT)/crds/$$n" || { echo "helm/agentwarden/crds/$$n has no source in crds/: remove it or add crds/$$n" >&2; exit 1; }; done

helm-lint: e2e-tools helm-crds-check ## helm lint --strict: defaults, the dev values, cert-manager, the admission-policy belt with podSecurity namespaces, monitoring (dashboards, monitors, alerts)
	"$(DEV_MK_ROOT)/.cache/bin/helm" lint --strict "$(HELM_CHART)"
	"$(DEV_MK_ROOT)/.cache/bin/helm" lint --strict "$(HELM_CHART)" -f "$(DEV_MK_ROOT)/e2e/dev/values-dev.yaml"
	"$(DEV_MK_ROOT)/.cache/bin/helm" lint --strict "$(HELM_CHART)" --set certManager.enabled=true
	"$(DEV_MK_ROOT)/.cache/bin/helm" lint --strict "$(HELM_CHART)" --set validatingAdmissionPolicy.enabled=true --set 'podSecurity.namespaces={agents}' --set podSecurity.enforceRestricted=true
	"$(DEV_MK_ROOT)/.cache/bin/helm" lint --strict "$(HELM_CHART)" --set monitoring.dashboards.enabled=true --set monitoring.serviceMonitor.enabled=true --set monitoring.podMonitor.enabled=true --set monitoring.prometheusRule.enabled=true
