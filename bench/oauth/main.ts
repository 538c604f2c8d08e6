// make bench-oauth: what brokered OAuth credentials cost (issue 18).
// 1. Token fetches per minute for 1,000 simulated pods sharing one credential:
//    the controller's real broker, demand computed by tokenDemand over 1,000
//    pods that one policy selects (two scope sets), against the real
//    authorization server (oidc-provider over TLS, e2e/tools/oauth) with short
//    tokens so that a minute shows several refreshes; every change recompiles
//    the 1,000 pods' snapshots through the controller's SnapshotBook (shared:
//    one compile per distinct input) and counts the pushes a refresh causes.
// 2. The added decision time: the evaluator deciding the same request with a
//    static credential and with a brokered token (alternating rounds, median).
// Prints a table and `bench: ...` lines.
import { randomBytes } from 'node:crypto';
import {
  compileSnapshot, evaluate, loadSnapshot, parseAgentPolicy, TokenBuckets, type PodIdentity,
} from '../../policy/src/index.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { parsePolicies, SnapshotBook } from '../../controller/src/reconcile/snapshots.js';
import type { AgentPolicyObject, SlimPod } from '../../controller/src/kube/objects.js';
import { TokenBroker, tokenDemand, trustedCas } from '../../controller/src/oauth/index.js';
import { DEFAULT_OAUTH_OPTIONS } from '../../controller/src/oauth/options.js';
import { fetchToken } from '../../controller/src/oauth/token-client.js';
import { startAuthorizationServer } from '../../e2e/tools/oauth/authorization-server.js';

const PODS = 1000;
const TTL_S = Number(process.env['BENCH_OAUTH_TTL_S'] ?? '8');
const WINDOW_MS = Number(process.env['BENCH_OAUTH_WINDOW_MS'] ?? '60000');
const NS = 'bench';

function policyObject(tokenUrl: string): AgentPolicyObject {
  return {
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'crm', namespace: NS, resourceVersion: '1', generation: 1 },
    spec: {
      podSelector: { matchLabels: { app: 'agent' } },
      rules: [
        { name: 'read-customer', to: { hosts: ['crm.internal'] }, http: { methods: ['GET'] }, credential: { name: 'crm', scopes: ['customers.read'] } },
        { name: 'update-customer', to: { hosts: ['crm.internal'] }, http: { methods: ['POST'] }, credential: { name: 'crm', scopes: ['customers.write'] } },
      ],
      credentials: [{ name: 'crm', oauth2: { tokenUrl, clientSecretRef: { name: 'crm-oauth' }, scopes: ['customers.read', 'customers.write'], audience: 'https://crm.internal' } }],
    },
  };
}

function pod(i: number): SlimPod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `agent-${i}`, namespace: NS, uid: `uid-${i}`, resourceVersion: '1', labels: { app: 'agent' } },
    serviceAccount: 'agent', phase: 'Running', deleting: false, cooperativeCapture: false,
  };
}

async function fetchesPerMinute(): Promise<{ fetches: number; perMinute: number; refreshes: number; compiles: number; pushes: number; gaps: number }> {
  const clientSecret = randomBytes(16).toString('hex');
  const server = await startAuthorizationServer({
    client: { clientId: 'agentwarden', clientSecret, scopes: ['customers.read', 'customers.write'] },
    introspector: { clientId: 'crm-api', clientSecret: 'x' }, resource: 'https://crm.internal', accessTokenTtlS: TTL_S,
  });
  const entries = parsePolicies([policyObject(server.tokenUrl)]);
  const pods = Array.from({ length: PODS }, (_, i) => pod(i));
  const options = { ...DEFAULT_OAUTH_OPTIONS, caFile: server.caFile };
  const ca = trustedCas(options.caFile);
  const book = new SnapshotBook();
  let compiles = 0;
  let pushes = 0;
  const versions = new Map<string, string>();
  const seen = new Set<string>();
  const tokens = {
    resolve: (ns: string, p: string, c: string, s: readonly string[]) => broker.lease(ns, p, c, s),
    revisions: (ns: string, p: string) => broker.revisions(ns, p),
  };
  // One reconcile pass: every pod's snapshot (shared when inputs are equal); a changed version is a push.
  const pass = (): void => {
    book.beginPass();
    for (const p of pods) {
      const r = book.forPod(p, entries, () => undefined, undefined, [], tokens);
      if (!r.ok) continue;
      if (versions.get(p.metadata.name) !== r.snapshot.version) pushes++;
      versions.set(p.metadata.name, r.snapshot.version);
      // A version not seen before was compiled in this pass (SnapshotBook memoises the rest).
      if (!seen.has(r.snapshot.version)) compiles++;
      seen.add(r.snapshot.version);
    }
    book.endPass();
  };
  const broker: TokenBroker = new TokenBroker({
    options, clientSecret: () => ({ ok: true, clientId: 'agentwarden', clientSecret, version: '1' }), mayFetch: () => true,
    onChange: () => { pass(); }, log: () => undefined,
    fetch: (r) => fetchToken(r, { ca, timeoutMs: options.requestTimeoutMs, maxResponseBytes: options.maxResponseBytes }),
  });
  broker.setDemand(tokenDemand(entries, pods));
  pass();
  // Sample the lease as a sidecar would use it: a gap is a moment without an unexpired token.
  let gaps = 0;
  const started = Date.now();
  // The first fetches (two, at once) take a moment: sampling starts after them.
  await new Promise((r) => setTimeout(r, 500));
  while (Date.now() - started < WINDOW_MS) {
    for (const scopes of [['customers.read'], ['customers.write']]) {
      const l = broker.lease(NS, 'crm', 'crm', scopes);
      if (l?.token === undefined || l.expiresAtMs <= Date.now()) gaps++;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const elapsed = Date.now() - started;
  const fetches = broker.fetchCount();
  broker.stop();
  await server.stop();
  return { fetches, perMinute: (fetches * 60_000) / elapsed, refreshes: fetches - 2, compiles, pushes, gaps };
}

const ROUNDS = 101;

function decisionTimes(): { staticNs: number; oauthNs: number; addedNs: number } {
  const pod: PodIdentity = { namespace: NS, name: 'agent-0', serviceAccount: 'agent', labels: { app: 'agent' } };
  const manifest = (credential: unknown): unknown => ({
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'crm', namespace: NS },
    spec: {
      podSelector: { matchLabels: { app: 'agent' } },
      rules: [{ name: 'read-customer', to: { hosts: ['crm.internal'] }, http: { methods: ['GET'], paths: ['/customers/{id}'] }, credential }],
      credentials: [
        { name: 'crm', oauth2: { tokenUrl: 'https://auth.internal/token', clientSecretRef: { name: 'crm-oauth' }, scopes: ['customers.read'] } },
        { name: 'crm-key', secretRef: { name: 'crm', key: 'token' } },
      ],
    },
  });
  const now = Date.now();
  const staticLoaded = loadSnapshot(compileSnapshot([parseAgentPolicy(manifest('crm-key'), 'bench', NS)], pod, { resolveSecret: () => new TextEncoder().encode('x'.repeat(43)) }));
  const oauthLoaded = loadSnapshot(compileSnapshot([parseAgentPolicy(manifest({ name: 'crm', scopes: ['customers.read'] }), 'bench', NS)], pod, {
    resolveToken: () => ({ token: 'y'.repeat(43), expiresAtMs: now + 3_600_000, lifetimeMs: 3_600_000, revision: 'oauth2:1', unavailableReason: '' }),
  }));
  const check = checkRequestFrom({ url: 'https://crm.internal/customers/17', method: 'GET' });
  const limiter = new TokenBuckets();
  const round = (loaded: typeof staticLoaded, n: number): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const d = evaluate(loaded, check, { nowMs: now + i, rateLimiter: limiter });
      if (!d.allowed || d.headers.length !== 1) throw new Error(`bench: expected an allow with a credential, got ${d.reason}`);
    }
    return Number(process.hrtime.bigint() - t0) / n;
  };
  round(staticLoaded, 20_000);
  round(oauthLoaded, 20_000);
  const s: number[] = [];
  const o: number[] = [];
  const diffs: number[] = [];
  // Paired rounds, the order alternating: the median of the per-pair differences resists the machine's drift.
  for (let r = 0; r < ROUNDS; r++) {
    const a = r % 2 === 0 ? round(staticLoaded, 2_000) : 0;
    const b = round(oauthLoaded, 2_000);
    const c = r % 2 === 0 ? a : round(staticLoaded, 2_000);
    s.push(c);
    o.push(b);
    diffs.push(b - c);
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
  return { staticNs: median(s), oauthNs: median(o), addedNs: median(diffs) };
}

const f = await fetchesPerMinute();
const d = decisionTimes();
const refreshEvery = f.refreshes > 0 ? (WINDOW_MS / 1000 / (f.fetches / 2)) : 0;
console.log('');
console.log(`Brokered OAuth credentials: ${PODS} pods, one policy, one oauth2 credential, 2 scope sets, token lifetime ${TTL_S} s, ${(WINDOW_MS / 1000).toFixed(0)} s window`);
console.log(`  token fetches            ${f.fetches} (${f.perMinute.toFixed(1)} per minute; one token per scope set, whatever the number of pods: about ${(60 / refreshEvery).toFixed(1)} per scope set and minute = a refresh every ${refreshEvery.toFixed(2)} s of ${TTL_S} s)`);
console.log(`  snapshot compiles        ${f.compiles} (the 1,000 pods share one snapshot: one compile per token change)`);
console.log(`  snapshot pushes          ${f.pushes} (every pod receives each new token)`);
console.log(`  moments without a token  ${f.gaps} (lease sampled every 50 ms per scope set)`);
// The broker's rule (not measured): a refresh every (L - min(1 s, L/4)) x (refreshAt - refreshJitter/2) on average.
const hourly = (2 * 3_600_000) / ((3_600_000 - 1000) * (DEFAULT_OAUTH_OPTIONS.refreshAt - DEFAULT_OAUTH_OPTIONS.refreshJitter / 2));
console.log(`  with 1 h tokens          ${hourly.toFixed(2)} fetches per hour for the 2 scope sets, for any number of pods (computed from the broker's refresh rule, not measured)`);
console.log(`Decision time, same request and rule (${ROUNDS} paired rounds of 2,000 decisions, medians)`);
console.log(`  static credential        ${d.staticNs.toFixed(0)} ns`);
console.log(`  brokered OAuth token     ${d.oauthNs.toFixed(0)} ns`);
console.log(`  added (median of pairs)  ${d.addedNs >= 0 ? '+' : ''}${d.addedNs.toFixed(0)} ns`);
console.log(`bench: oauth_token_fetches_per_minute_1000_pods=${f.perMinute.toFixed(1)} ttl_s=${TTL_S}`);
console.log(`bench: oauth_added_decision_ns=${d.addedNs.toFixed(0)}`);
