// make bench-eval: evaluator time per decision for policies of 10, 100 and 256
// rules with CEL conditions, over a mix of allowed, denied and MCP requests.
// Two layouts: rules spread over 32 hosts (what real policies look like), and
// every rule on the one host being called (the evaluator's worst case: all
// rules are candidates). A third row set adds 100 active grants (issue 15: half
// approval, half break-glass, half of each on hosts the requests call) to the
// spread layout, beside the same layout without them. A fourth (issue 16) turns
// sessions on in the same layout: the read rules taint the pod's session (key
// pod), the Deny rules test session.taints, and every decision carries the
// session; then the store's memory per 10,000 sessions. Prints a table and
// `bench: ...` lines.
import { planCondition, type CelBindings } from '../policy/src/cel.js';
import {
  AnomalyDetector, compileSnapshot, evaluate, GrantLedger, loadSnapshot, parseAccessRequest, parseAgentPolicy, SessionStore, TokenBuckets,
  type AccessRequest, type PodIdentity,
} from '../policy/src/index.js';
import { checkRequestFrom } from '../cli/src/request-shorthand.js';
import type { CheckRequest } from '../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { create } from '@bufbuild/protobuf';
import { BaselineSchema, type Baseline } from '../proto/gen/agentwarden/v1/snapshot_pb.js';

const POD: PodIdentity = { namespace: 'bench', name: 'agent-0', serviceAccount: 'agent', labels: { app: 'agent' } };
const ITERATIONS = 20_000;
const WARMUP = 5_000;

/** `sessions`: read rules taint the session with pii, Deny rules test it (issue 16). */
function policyWith(ruleCount: number, hostsPerPolicy: number, sessions = false, anomaly = false): unknown {
  const rules = [];
  for (let i = 0; i < ruleCount; i++) {
    const host = `api${i % hostsPerPolicy}.example.com`;
    const kind = i % 4;
    if (kind === 0) {
      rules.push({ name: `read-${i}`, to: { hosts: [host] }, http: { methods: ['GET'], paths: [`/v1/r${i}/{id}`, `/v1/r${i}/{id}/items/**`] }, when: `request.params.id.startsWith('A') && !('debug' in request.query)`, ...(sessions ? { taints: ['pii'] } : {}) });
    } else if (kind === 1) {
      rules.push({ name: `write-${i}`, to: { hosts: [host] }, http: { methods: ['POST', 'PUT'], paths: [`/v1/r${i}`] }, when: `request.headers['x-tier'] in ['gold', 'silver']` });
    } else if (kind === 2) {
      rules.push({ name: `deny-${i}`, action: 'Deny', to: { hosts: [host] }, http: { paths: [`/v1/admin${i}/**`] }, ...(sessions ? { when: "'pii' in session.taints" } : {}) });
    } else {
      rules.push({ name: `mcp-${i}`, to: { hosts: [host] }, http: { methods: ['POST'], paths: ['/mcp'] }, mcp: { tools: [`tool_${i}`] }, when: `mcp.arguments.limit <= 20` });
    }
  }
  return { apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: `p${ruleCount}`, namespace: 'bench' }, spec: { podSelector: { matchLabels: { app: 'agent' } }, rules, ...(anomaly ? { anomaly: ANOMALY_SPEC } : {}) } };
}

/** Issue 17: spec.anomaly with novel operations denied and rate spikes alerted. */
const ANOMALY_SPEC = { learnFor: '1h', novelOperation: 'Deny', rateSpike: { factor: 5, over: '1m', action: 'Alert' }, quarantineAfter: { anomalies: 1000, within: '1m' } };
const BASELINE_OPERATIONS = 1000;

/** A baseline of BASELINE_OPERATIONS operations, learning from `fromMs` until `untilMs`, with a rate no request mix reaches. */
function baselineOf(fromMs: number, untilMs: number): Baseline {
  const operations = Array.from({ length: BASELINE_OPERATIONS }, (_, i) => `GET api${i % 32}.example.com/v1/known${i}/{id}`).sort();
  return create(BaselineSchema, { learningStartedMs: BigInt(fromMs), learningUntilMs: BigInt(untilMs), operations, rateP95: 1_000_000, rateWindowMs: 60_000n });
}

/** `count` approved grants for POD: even ones approval, odd ones break-glass; every other pair on a host the requests call. */
function grantsFor(count: number, hostsPerPolicy: number, nowMs: number): AccessRequest[] {
  const out: AccessRequest[] = [];
  for (let i = 0; i < count; i++) {
    const host = (i >> 1) % 2 === 0 ? `api${i % hostsPerPolicy}.example.com` : `elsewhere${i}.example.net`;
    const spec = i % 2 === 0
      ? { pod: POD.name, serviceAccount: POD.serviceAccount, duration: '1h', operation: { method: 'POST', host, port: 443, path: '/mcp', mcp: { tool: `tool_${i}`, arguments: { limit: i } } } }
      : { pod: POD.name, serviceAccount: POD.serviceAccount, duration: '1h', justification: 'bench', rules: [{ name: `bg-${i}`, to: { hosts: [host] }, http: { paths: [`/v1/bg${i}/**`] } }] };
    out.push(parseAccessRequest({
      apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name: `grant-${i}`, namespace: POD.namespace, uid: `uid-${i}` },
      spec, status: { state: 'Approved', approvedBy: 'bench', expiresAt: new Date(nowMs + 3_600_000).toISOString() },
    }, 'bench'));
  }
  return out;
}

function requests(ruleCount: number, hostsPerPolicy: number): CheckRequest[] {
  const host = (i: number): string => `api${i % hostsPerPolicy}.example.com`;
  const last = (kind: number): number => { let i = ruleCount - 1; while (i % 4 !== kind) i--; return i; };
  const r0 = last(0);
  const r1 = last(1);
  const r2 = last(2);
  const r3 = last(3);
  return [
    checkRequestFrom({ url: `https://${host(r0)}/v1/r${r0}/A-17?x=1` }),                              // allow, CEL on params + query
    checkRequestFrom({ method: 'POST', url: `https://${host(r1)}/v1/r${r1}`, headers: { 'x-tier': 'gold' } }), // allow, CEL on headers
    checkRequestFrom({ url: `https://${host(r2)}/v1/admin${r2}/users` }),                              // explicit deny
    checkRequestFrom({ url: `https://${host(r0)}/v1/r${r0}/B-1` }),                                    // default deny (condition false)
    checkRequestFrom({ url: `https://unknown.example.org/` }),                                          // default deny (no candidate)
    checkRequestFrom({ url: `https://${host(r3)}/mcp`, mcp: { tool: `tool_${r3}`, arguments: { limit: 5 } } }), // MCP allow
    checkRequestFrom({ url: `https://${host(r3)}/mcp`, mcp: { tool: `tool_${r3}`, arguments: { limit: 500 } } }), // MCP deny
  ];
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

interface Row { readonly layout: string; readonly rules: number; readonly medianNs: number; readonly p99Ns: number; readonly allowed: number }

function measure(ruleCount: number, hostsPerPolicy: number, layout: string, grantCount = 0, sessions = false, anomaly = false): Row {
  const policy = parseAgentPolicy(policyWith(ruleCount, hostsPerPolicy, sessions, anomaly), 'bench', 'bench');
  const nowMs = Date.UTC(2026, 2, 3, 9);
  const snapshot = compileSnapshot([policy], POD, { grants: grantsFor(grantCount, hostsPerPolicy, nowMs) });
  const reqs = requests(ruleCount, hostsPerPolicy);
  const detector = new AnomalyDetector();
  if (anomaly) {
    // Issue 17: the request mix is learned once, then judged against a baseline of 1,000 operations.
    const learning = loadSnapshot({ ...snapshot, baseline: baselineOf(nowMs - 3_600_000, nowMs + 3_600_000) });
    const learnCtx = { nowMs, rateLimiter: new TokenBuckets(), anomalies: detector };
    for (const r of reqs) evaluate(learning, r, learnCtx);
  }
  const loaded = loadSnapshot(anomaly ? { ...snapshot, baseline: baselineOf(nowMs - 3_600_000, nowMs - 1) } : snapshot);
  const ctx = {
    nowMs, rateLimiter: new TokenBuckets(), grants: new GrantLedger(),
    ...(sessions ? { sessions: new SessionStore(), origin: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' } } : {}),
    ...(anomaly ? { anomalies: detector } : {}),
  };
  for (let i = 0; i < WARMUP; i++) evaluate(loaded, reqs[i % reqs.length]!, ctx);
  const times = new Float64Array(ITERATIONS);
  let allowed = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const req = reqs[i % reqs.length]!;
    const t0 = process.hrtime.bigint();
    const d = evaluate(loaded, req, ctx);
    times[i] = Number(process.hrtime.bigint() - t0);
    if (d.allowed) allowed++;
  }
  times.sort();
  return { layout, rules: ruleCount, medianNs: percentile(times, 0.5), p99Ns: percentile(times, 0.99), allowed: allowed / ITERATIONS };
}

const rows: Row[] = [];
for (const n of [10, 100, 256]) rows.push(measure(n, Math.min(32, n), 'spread'));
for (const n of [10, 100, 256]) rows.push(measure(n, 1, 'one-host'));
// Issue 15: 100 active grants against the same spread layout without them, measured
// in alternation (ROUNDS pairs, the order flipping each round) so that a busy machine
// weighs on both alike; the delta is the median of the pairs' differences of medians.
const ROUNDS = 9;
const pairs = Array.from({ length: ROUNDS }, (_, i) => {
  const plain = (): Row => measure(100, 32, 'spread');
  const granted = (): Row => measure(100, 32, 'grants100', 100);
  if (i % 2 === 0) { const a = plain(); return [a, granted()] as const; }
  const b = granted();
  return [plain(), b] as const;
});
const middle = (values: number[]): number => values.sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;
const withoutGrantsNs = middle(pairs.map((p) => p[0].medianNs));
const withGrants = [...pairs.map((p) => p[1])].sort((a, b) => a.medianNs - b.medianNs)[ROUNDS >> 1]!;
const deltaNs = middle(pairs.map((p) => p[1].medianNs - p[0].medianNs));
rows.push(withGrants);

// Issue 16: sessions on (same layout, taints and taint tests), paired as for grants.
const sessionPairs = Array.from({ length: ROUNDS }, (_, i) => {
  const plain = (): Row => measure(100, 32, 'spread');
  const tainted = (): Row => measure(100, 32, 'sessions', 0, true);
  if (i % 2 === 0) { const a = plain(); return [a, tainted()] as const; }
  const b = tainted();
  return [plain(), b] as const;
});
const withoutSessionsNs = middle(sessionPairs.map((p) => p[0].medianNs));
const withSessions = [...sessionPairs.map((p) => p[1])].sort((a, b) => a.medianNs - b.medianNs)[ROUNDS >> 1]!;
const sessionDeltaNs = middle(sessionPairs.map((p) => p[1].medianNs - p[0].medianNs));
rows.push(withSessions);

// Issue 17: spec.anomaly on, judged against a 1,000-operation baseline (learning over), paired as above.
const { withoutNs: withoutAnomalyNs, with: withAnomaly, deltaNs: anomalyDeltaNs } = paired(() => measure(100, 32, 'anomaly', 0, false, true));
rows.push(withAnomaly);

/** ROUNDS alternating pairs of the spread layout and `variant`: the median without, the median row with, the median delta. */
function paired(variant: () => Row): { readonly withoutNs: number; readonly with: Row; readonly deltaNs: number } {
  const runs = Array.from({ length: ROUNDS }, (_, i) => {
    if (i % 2 === 0) { const a = measure(100, 32, 'spread'); return [a, variant()] as const; }
    const b = variant();
    return [measure(100, 32, 'spread'), b] as const;
  });
  return {
    withoutNs: middle(runs.map((p) => p[0].medianNs)),
    with: [...runs.map((p) => p[1])].sort((a, b) => a.medianNs - b.medianNs)[ROUNDS >> 1]!,
    deltaNs: middle(runs.map((p) => p[1].medianNs - p[0].medianNs)),
  };
}

console.log(`evaluator time per decision (${ITERATIONS} decisions each, request mix: allow, CEL allow, deny, default-deny, unknown host, MCP allow, MCP deny)`);
console.log('layout     rules   median µs   p99 µs   allowed');
for (const r of rows) {
  console.log(`${r.layout.padEnd(10)} ${String(r.rules).padStart(5)}   ${(r.medianNs / 1000).toFixed(2).padStart(9)}   ${(r.p99Ns / 1000).toFixed(2).padStart(6)}   ${(r.allowed * 100).toFixed(0)}%`);
}
for (const r of rows) {
  console.log(`bench: evaluator_${r.layout}_${r.rules}_rules median_us=${(r.medianNs / 1000).toFixed(2)} p99_us=${(r.p99Ns / 1000).toFixed(2)}`);
}
console.log(`bench: evaluator_grants100_delta median_us=${(deltaNs / 1000).toFixed(2)} (100 active grants over spread 100 rules, median of ${ROUNDS} alternating pairs; medians ${(withoutGrantsNs / 1000).toFixed(2)} -> ${(withGrants.medianNs / 1000).toFixed(2)} µs; target <= 1 µs)`);

console.log(`bench: evaluator_sessions_delta median_us=${(sessionDeltaNs / 1000).toFixed(2)} (sessions on over spread 100 rules: read rules taint, Deny rules test session.taints; median of ${ROUNDS} alternating pairs; medians ${(withoutSessionsNs / 1000).toFixed(2)} -> ${(withSessions.medianNs / 1000).toFixed(2)} µs; target <= 0.5 µs)`);

console.log(`bench: evaluator_anomaly_delta median_us=${(anomalyDeltaNs / 1000).toFixed(2)} (spec.anomaly on over spread 100 rules, baseline of ${BASELINE_OPERATIONS} operations, learning over, the request mix learned; median of ${ROUNDS} alternating pairs; medians ${(withoutAnomalyNs / 1000).toFixed(2)} -> ${(withAnomaly.medianNs / 1000).toFixed(2)} µs; target <= 1 µs)`);

// Issue 16: what 10,000 sessions (the default --max-sessions) cost in memory, each
// holding two taints with their origins (trace and span ids), keyed by a header value
// as an MCP session id would be. Retained heap: V8's heapUsed after a full GC
// (node --expose-gc, as npm run bench:eval starts it), with the store filled minus empty.
function sessionMemory(count: number): { readonly retainedBytes: number | undefined; readonly approxBytes: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  const heap = (): number => { gc?.(); gc?.(); return process.memoryUsage().heapUsed; };
  const before = heap();
  const store = new SessionStore({ maxSessions: count });
  const nowMs = Date.UTC(2026, 2, 3, 9);
  for (let i = 0; i < count; i++) {
    // Flat strings, as decoded from the wire (a template literal would make cons strings).
    const key = 'header:mcp-session-id='.concat(crypto.randomUUID());
    const traceId = i.toString(16).padStart(32, 'a');
    store.add(key, ['pii'], nowMs, 3_600_000, { traceId, spanId: i.toString(16).padStart(16, 'b') });
    store.add(key, ['untrusted'], nowMs + 1, 3_600_000, { traceId, spanId: i.toString(16).padStart(16, 'c') });
  }
  const after = heap();
  if (store.stats().sessions !== count) throw new Error(`expected ${count} sessions, got ${store.stats().sessions}`);
  return { retainedBytes: gc === undefined ? undefined : after - before, approxBytes: store.approxBytes() };
}
const memory = sessionMemory(10_000);
console.log(`bench: session_store_memory sessions=10000 taints_per_session=2 retained_kib=${memory.retainedBytes === undefined ? 'n/a (run with node --expose-gc)' : (memory.retainedBytes / 1024).toFixed(0)} approx_kib=${(memory.approxBytes / 1024).toFixed(0)} (retained: heapUsed after global.gc() with the store filled minus before)`);

// The CEL runtime budget (policy/src/cel-budget.ts): how long a condition that would run for
// seconds (a nested comprehension over the request body) takes until the budget cuts it.
function cutMedianMs(items: number): number {
  const run = planCondition('request.body.items.all(x, request.body.items.all(y, x == y || x != y))');
  const bindings: CelBindings = { request: { body: { items: Array.from({ length: items }, (_, id) => ({ id, tags: ['a', 'b'] })) } }, mcp: {}, agent: {}, now: null };
  for (let i = 0; i < 5; i++) run(bindings);
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const started = performance.now();
    const result = run(bindings);
    times.push(performance.now() - started);
    if (result.ok) throw new Error(`the budget did not cut the nested comprehension over ${items} items`);
  }
  return times.sort((a, b) => a - b)[10] ?? Number.NaN;
}
for (const n of [2000, 3000]) console.log(`bench: cel_budget_cut nested_comprehension_items=${n} median_ms=${cutMedianMs(n).toFixed(3)}`);
