# agentwarden: every command a developer or CI needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
NPM := npm
NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: help install build proto proto-check lint test test-unit test-policies test-alerts e2e bench bench-e2e bench-verify bench-eval bench-baselines bench-memory bench-gc soak soak-floor bench-otlp bench-instructions valgrind bench-propagation bench-controller-memory bench-flood h2load demo demo-down clean

include e2e/e2e.mk
include e2e/dev/dev.mk

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(NODE_MODULES_STAMP): package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

install: $(NODE_MODULES_STAMP) ## install npm dependencies (Node 24 comes from the pinned `node` package)

proto: install ## regenerate TypeScript from proto/ (Envoy ext_authz + agentwarden.v1)
	$(NPM) run --silent proto

proto-check: proto ## fail when committed generated code is stale
	@git diff --exit-code --stat -- proto/gen || { echo "proto/gen is stale: run 'make proto' and commit" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- proto/gen)" || { git status --porcelain -- proto/gen; echo "proto/gen has untracked generated files: run 'make proto' and commit" >&2; exit 1; }

build: install ## compile TypeScript to dist/
	$(NPM) run --silent build

lint: build ## eslint with typescript-eslint (typed rules), then dependency-cruiser: what may import what (.dependency-cruiser.mjs)
	$(NPM) run --silent lint

test-unit: build test-tools envoy ## unit, golden and property tests (jest; sidecar/test/h2spec.test.ts runs .cache/bin/h2spec)
	E2E_BIN_DIR="$(E2E_BIN_DIR)" $(NPM) run --silent test:unit

test-policies: build ## run the example policies' test suites with the CLI
	bin/agentwarden test examples/

test-alerts: build ## the chart's monitoring alone: promtool test rules (e2e/monitoring/alerts.test.yaml) and the dashboards' model check; make e2e runs it too, and e2e/test/prometheus.test.ts against a real Prometheus
	@$(E2E_ENV) "$(E2E_ROOT)/e2e/tools/build.sh" helm promtool
	$(NPM) exec -- node --experimental-vm-modules node_modules/jest/bin/jest.js --config jest.e2e.config.js dist/e2e/test/prometheus-rules.test.js

e2e: build cluster-up pod-tools ## jest suites against the local control plane (kube-apiserver, etcd, Jaeger)
	$(NPM) exec -- node --experimental-vm-modules node_modules/jest/bin/jest.js --config jest.e2e.config.js

test: proto-check helm-crds-check lint helm-lint test-unit test-policies e2e ## every test: generated code fresh, lint, unit, policy suites, e2e
	@echo "make test: all suites passed"

bench: build bench-eval h2load bench-e2e ## agentwarden vs OPA-Envoy and the Cerbos PDP side by side, end to end through Envoy, evaluator times, where the sidecar's memory goes, hand-written parts against what they replaced (~17 min); bench-propagation needs cluster-up
	bench/peers/build.sh
	$(NPM) run --silent bench:compare
	$(NPM) run --silent bench:memory
	$(NPM) run --silent bench:impls

bench-e2e: build envoy ## latency ext_authz adds through a real Envoy (agent -> Envoy -> upstream): agentwarden vs OPA-Envoy vs fixed-answer floors (Node, Go) vs no ext_authz, 100 and 1,000 req/s (~9 min)
	bench/peers/build.sh opa-envoy loadgen authz-floor
	$(NPM) run --silent bench:e2e

bench-memory: build h2load ## the sidecar's resident memory against Node alone and a bare HTTP/2 responder, same load; its span queue as shipped against the one before issue 20 (AGENTWARDEN_SPAN_QUEUE=sdk), its OTLP transport against the SDK's (AGENTWARDEN_OTLP_TRANSPORT=sdk), its compiler tiers against V8's (AGENTWARDEN_SIDECAR_JIT=v8-default): CPU, peak RSS, GCs per 100,000 requests, V8 heap and modules loaded at idle (~4 min)
	$(NPM) run --silent bench:memory

.PHONY: bench-impls
bench-impls: build h2load ## the hand-written hot-path parts against what they replaced, in one run: Check server vs --grpc-impl grpc-js, CheckRequest/CheckResponse codecs vs protobuf-es, OTLP serializer vs the SDK's (~2.5 min)
	$(NPM) run --silent bench:impls

bench-gc: build ## the sidecar's GC pauses with the launcher's single-threaded V8 GC against V8's default parallel GC, same load, alternated: scavenge pause p50/p99/max, full GCs, check p99, CPU per request (~3 min)
	bench/peers/build.sh loadgen
	$(NPM) run --silent bench:gc

.PHONY: soak
soak: build h2load ## the sidecar at 3,000 req/s of the bench mix with span export on for 10 minutes, a row every 30 s (RSS, V8 heap after a full GC, full GCs and the longest GC pause from V8's --trace-gc, functions deoptimized from --trace-deopt, the machine's CPU steal, event-loop delay p99, check p99, errors, spans), then whether each held (~11 min; SOAK_SECONDS=90 SOAK_INTERVAL=15 SOAK_WARMUP=15 for a quick check)
	bench/peers/build.sh loadgen
	$(NPM) run --silent bench:soak

.PHONY: soak-floor
soak-floor: build h2load ## make soak's rows and bands held by a floor instead of the sidecar: a server that answers every Check with one fixed allow, Node on the sidecar's own flags (SOAK_FLOOR=node, the default) or grpc-go (SOAK_FLOOR=go); what it cannot hold on this machine, no sidecar can (~11 min; the same SOAK_* settings)
	bench/peers/build.sh loadgen authz-floor
	SOAK_FLOOR=$${SOAK_FLOOR:-node} $(NPM) run --silent bench:soak

bench-instructions: build valgrind ## machine instructions per Check in the sidecar's handler (decode, decide, answer, audit span and its export), counted by valgrind: a CPU figure the machine's other guests do not move, export on and off (~8 min)
	$(NPM) run --silent bench:instructions

valgrind:
	@command -v valgrind >/dev/null || { echo "installing valgrind (Debian)"; apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }

bench-otlp: build ## only the OTLP serializer pair of bench-impls: the sidecar's against the SDK's, CPU µs per span (~20 s)
	$(NPM) run --silent bench:impls -- otlp

h2load:
	@command -v h2load >/dev/null || { echo "installing h2load (Debian nghttp2-client)"; apt-get update -qq && apt-get install -y -qq nghttp2-client >/dev/null; }

bench-verify: build ## the bench policy's allow/deny on all three engines, side by side
	bench/peers/build.sh opa-envoy cerbos
	$(NPM) run --silent bench:compare -- --verify

bench-eval: build ## evaluator ns per decision at 10, 100 and 256 rules
	$(NPM) run --silent bench:eval

bench-oauth: build ## brokered OAuth tokens: fetches per minute for 1,000 pods sharing one credential (real oidc-provider), added decision time (~1 min)
	$(NPM) run --silent bench:oauth

bench-baselines: build ## behaviour baselines: encoded OperationSummary bytes and the controller's traffic for 1,000 sidecars
	$(NPM) run --silent bench:baselines

bench-propagation: build cluster-up ## one policy edit fanned out to 3,000 simulated sidecars over 3 controller replicas (p50/p99 to all ACKs, status pods.synced, RSS per replica, one replica SIGKILLed: reconnect, next edit); BENCH_REPLICAS=1 for one controller
	$(NPM) exec -- node dist/bench/propagation.js

bench-controller-memory: build cluster-up ## the controller's RSS, heap and external memory with 1,000 sidecar streams and 1,000 then 3,000 injected pods, and its event-loop delay p99 during a fan-out to 1,000 and 3,000 streams (~3 min; E2E_KUBECONFIG picks the cluster)
	$(NPM) exec -- node dist/bench/controller-memory.js

bench-flood: build cluster-up ## one tenant's 250 labelled 700 KB credential Secrets read by its policies: controller RSS (idle, peak by watch, peak by list; fails above 448 MB) and admission answering throughout (~2 min)
	$(NPM) exec -- node dist/bench/flood.js

demo: build cluster-up pod-tools ## the main job (as root): the support-agent pod through the real Envoy, decisions table with why, upstream receipts, traces in Jaeger
	$(NPM) exec -- node dist/demo/run.js
	@echo "make demo-down stops the local control plane."

demo-down: cluster-down ## stop everything make demo started

clean: ## remove build outputs
	rm -rf dist
