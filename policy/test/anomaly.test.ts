// DESIGN.md "Behaviour: baselines and anomalies": spec.anomaly read and
// compiled, operation fingerprints, and detection on the decision path
// (learning, novel operations, rate spikes, quarantine and release).
import { create } from '@bufbuild/protobuf';
import {
  AnomalyDetector, compileSnapshot, evaluate, loadSnapshot, PolicyError, TokenBuckets, operationFingerprint, foldedPath,
  type AgentPolicy, type Decision, type LoadedSnapshot,
} from '../src/index.js';
import { AnomalyAction, AnomalyQuarantineSchema, BaselineSchema, type Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import { readCheckRequest } from '../src/request.js';
import { fakeSecrets, manifestObject, POD, policy } from './helpers.js';
import { parseAgentPolicy } from '../src/manifest.js';

const T0 = Date.UTC(2026, 2, 3, 9, 0);
const SECOND = 1000;

function agent(anomaly: string, mode = 'Enforce'): AgentPolicy {
  return policy('support-agent', `
    podSelector: {}
    mode: ${mode}
    anomaly: ${anomaly}
    rules:
      - name: read-tickets
        to: {hosts: [api.zendesk.com]}
        http: {methods: [GET], paths: ["/api/v2/tickets/{id}"]}
      - name: internal
        to: {hosts: ["*.internal"]}
      - name: tools
        to: {hosts: [mcp.support.internal]}
        mcp: {tools: []}
  `);
}

const TICKET = (id: number): RequestShorthand => ({ url: `https://api.zendesk.com/api/v2/tickets/${id}` });
const CRM: RequestShorthand = { url: 'https://crm.internal/customers/4711' };
const NOVEL: RequestShorthand = { url: 'https://billing.internal/v1/invoices' };

interface Pod {
  readonly detector: AnomalyDetector;
  loaded: LoadedSnapshot;
  decide(r: RequestShorthand, atMs: number): Decision;
  install(change: (s: Snapshot) => void): void;
}

function pod(policies: readonly AgentPolicy[], detector = new AnomalyDetector()): Pod {
  const base = compileSnapshot(policies, POD, { resolveSecret: fakeSecrets });
  const limiter = new TokenBuckets();
  const p: Pod = {
    detector,
    loaded: loadSnapshot(base),
    decide: (r, atMs) => evaluate(p.loaded, checkRequestFrom(r, atMs), { nowMs: atMs, rateLimiter: limiter, anomalies: detector }),
    install: (change) => {
      const next = { ...base };
      change(next);
      p.loaded = loadSnapshot(next);
      detector.sync(p.loaded.anomaly);
    },
  };
  return p;
}

describe('spec.anomaly in the manifest', () => {
  it('applies the defaults of the CRD', () => {
    const p = agent('{}');
    expect(p.anomaly).toEqual({ learnFor: '24h', novelOperation: 'Alert' });
    const q = agent('{rateSpike: {factor: 5}, quarantineAfter: {anomalies: 5}}');
    expect(q.anomaly).toEqual({ learnFor: '24h', novelOperation: 'Alert', rateSpike: { factor: 5, over: '1m', action: 'Alert' }, quarantineAfter: { anomalies: 5, within: '10m' } });
  });

  it('refuses bad values naming the field', () => {
    const bad = manifestObject('p', `
      podSelector: {}
      anomaly: {learnFor: soon, novelOperation: Maybe, rateSpike: {factor: 1, over: 10ms, action: RequireApproval}, quarantineAfter: {within: 10m}, extra: 1}
      rules: [{name: r, to: {hosts: [a.example]}}]
    `);
    let error: unknown;
    try {
      parseAgentPolicy(bad, 'p.yaml', 'support');
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyError);
    const text = (error as Error).message;
    for (const field of ['spec.anomaly.learnFor', 'spec.anomaly.novelOperation', 'spec.anomaly.rateSpike.factor', 'spec.anomaly.rateSpike.over', 'spec.anomaly.rateSpike.action', 'spec.anomaly.quarantineAfter.anomalies', 'spec.anomaly.extra']) {
      expect(text).toContain(field);
    }
  });

  it('is compiled into Policy.anomaly in milliseconds; a policy without it keeps its snapshot version', () => {
    const s = compileSnapshot([agent('{learnFor: 90s, novelOperation: Deny, rateSpike: {factor: 4, over: 2s, action: Deny}, quarantineAfter: {anomalies: 3, within: 1m}}')], POD, { resolveSecret: fakeSecrets });
    const a = s.policies[0]?.anomaly;
    expect(a?.learnForMs).toBe(90_000n);
    expect(a?.novelOperation).toBe(AnomalyAction.DENY);
    expect(a?.rateSpikeFactor).toBe(4);
    expect(a?.rateSpikeOverMs).toBe(2000n);
    expect(a?.rateSpikeAction).toBe(AnomalyAction.DENY);
    expect(a?.quarantineAnomalies).toBe(3);
    expect(a?.quarantineWithinMs).toBe(60_000n);
    const without = policy('support-agent', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example]}}]');
    expect(compileSnapshot([without], POD).policies[0]?.anomaly).toBeUndefined();
    expect(compileSnapshot([without], POD).version).toBe(compileSnapshot([without], POD).version);
  });
});

describe('operation fingerprints', () => {
  const view = (r: RequestShorthand) => {
    const read = readCheckRequest(checkRequestFrom(r, T0), { body: true, headers: false });
    if (!read.ok) throw new Error(read.reason);
    return read.view;
  };
  it('uses the rule template, else folds id-like segments, and names MCP tools', () => {
    expect(operationFingerprint(view(TICKET(4711)), '/api/v2/tickets/{id}')).toBe('GET api.zendesk.com/api/v2/tickets/{id}');
    expect(operationFingerprint(view(CRM), undefined)).toBe('GET crm.internal/customers/{id}');
    expect(foldedPath(['api', 'v2', 'T-1234', '0f3a9c2e7b1d4e5fa9c0'])).toBe('/api/v2/{id}/{id}');
    expect(foldedPath(['items', '7', 'me'])).toBe('/items/{id}/me');
    expect(operationFingerprint(view({ url: 'https://mcp.support.internal/mcp', mcp: { tool: 'issue_refund', arguments: { amount: 5 } } }), undefined)).toBe('MCP mcp.support.internal tools/call issue_refund');
  });
});

describe('detection on the decision path', () => {
  it('learns during learnFor, then alerts on a novel operation without changing the decision', () => {
    const p = pod([agent('{learnFor: 10s, novelOperation: Alert}')]);
    expect(p.decide(TICKET(1), T0).anomaly).toBeUndefined();
    expect(p.decide(CRM, T0 + SECOND).anomaly).toBeUndefined();
    // After learning: the same operations (another id) stay quiet.
    const usual = p.decide(TICKET(2), T0 + 11 * SECOND);
    expect(usual.allowed).toBe(true);
    expect(usual.anomaly).toBeUndefined();
    const novel = p.decide(NOVEL, T0 + 12 * SECOND);
    expect(novel.allowed).toBe(true);
    expect(novel.rule).toBe('internal');
    expect(novel.anomaly).toEqual({ kind: 'novel-operation', operation: 'GET billing.internal/v1/invoices', action: 'Alert', quarantined: false });
  });

  it('denies a novel operation with rule anomaly-novel-operation in Deny mode, and never judges a request the rules deny', () => {
    const p = pod([agent('{learnFor: 10s, novelOperation: Deny}')]);
    p.decide(TICKET(1), T0);
    const novel = p.decide(NOVEL, T0 + 11 * SECOND);
    expect(novel.allowed).toBe(false);
    expect(novel.rule).toBe('anomaly-novel-operation');
    expect(novel.policy).toBe('support-agent');
    expect(novel.reason).toContain('"GET billing.internal/v1/invoices" is not in the baseline of support/support-agent');
    expect(novel.headers).toEqual([]);
    const denied = p.decide({ url: 'https://elsewhere.example/' }, T0 + 12 * SECOND);
    expect(denied.rule).toBe('default-deny');
    expect(denied.anomaly).toBeUndefined();
  });

  it('asks for approval of exactly that operation in RequireApproval mode', () => {
    const p = pod([agent('{learnFor: 10s, novelOperation: RequireApproval}')]);
    p.decide(TICKET(1), T0);
    const novel = p.decide(NOVEL, T0 + 11 * SECOND);
    expect(novel.allowed).toBe(false);
    expect(novel.rule).toBe('anomaly-novel-operation');
    expect(novel.reason).toMatch(/^approval required: /);
    expect(novel.approval?.operation).toEqual({ method: 'GET', host: 'billing.internal', port: 443, path: '/v1/invoices', query: '' });
    expect(novel.approval?.name).toMatch(/^support-agent-0-/);
  });

  it('judges against the baseline pushed in the snapshot: its operations are known, its learning window applies', () => {
    const p = pod([agent('{learnFor: 24h, novelOperation: Deny}')]);
    p.install((s) => {
      s.baseline = create(BaselineSchema, { learningStartedMs: BigInt(T0 - 100 * SECOND), learningUntilMs: BigInt(T0 - SECOND), operations: ['GET billing.internal/v1/invoices'] });
    });
    expect(p.decide(NOVEL, T0).allowed).toBe(true);
    const crm = p.decide(CRM, T0 + SECOND);
    expect(crm.rule).toBe('anomaly-novel-operation');
  });

  it('flags a burst over factor times the learned rate once per window, and Deny denies the requests over it', () => {
    const p = pod([agent('{learnFor: 10s, novelOperation: Off, rateSpike: {factor: 3, over: 1s, action: Deny}}')]);
    // Learning: two requests per one-second window.
    for (let w = 0; w < 10; w++) for (let i = 0; i < 2; i++) p.decide(TICKET(w * 10 + i), T0 + w * SECOND + i);
    const at = T0 + 12 * SECOND;
    const burst = Array.from({ length: 10 }, (_, i) => p.decide(TICKET(500 + i), at + i));
    expect(burst.slice(0, 6).every((d) => d.allowed && d.anomaly === undefined)).toBe(true);
    expect(burst[6]?.rule).toBe('anomaly-rate-spike');
    expect(burst[6]?.anomaly?.kind).toBe('rate-spike');
    expect(burst.slice(6).every((d) => !d.allowed)).toBe(true);
    // Found once per window: the requests denied after it are marked as repeats (not counted again).
    expect(burst.slice(7).every((d) => d.anomaly?.repeat === true)).toBe(true);
    expect(burst[6]?.anomaly?.repeat).toBeUndefined();
    // The next window starts afresh.
    expect(p.decide(TICKET(900), at + 2 * SECOND).allowed).toBe(true);
  });

  it('quarantines the pod after N anomalies within W: every request is denied until a release', () => {
    const p = pod([agent('{learnFor: 10s, novelOperation: Alert, quarantineAfter: {anomalies: 5, within: 1m}}')]);
    p.decide(TICKET(1), T0);
    const alerts = [1, 2, 3, 4, 5].map((i) => p.decide({ url: `https://novel${i}.internal/x` }, T0 + 10 * SECOND + i));
    expect(alerts.every((d) => d.allowed && d.anomaly?.kind === 'novel-operation')).toBe(true);
    expect(alerts.map((d) => d.anomaly?.quarantined)).toEqual([false, false, false, false, true]);
    const usual = p.decide(TICKET(2), T0 + 20 * SECOND);
    expect(usual.allowed).toBe(false);
    expect(usual.rule).toBe('quarantined');
    expect(usual.reason).toContain('agentwarden release support/support-agent-0');
    const since = p.detector.quarantined()?.sinceMs ?? 0;
    // The controller pushes a release older than the quarantine: nothing changes.
    p.install((s) => { s.quarantine = create(AnomalyQuarantineSchema, { quarantined: true, sinceMs: BigInt(since), releasedAtMs: BigInt(since - 1) }); });
    expect(p.decide(TICKET(3), T0 + 21 * SECOND).rule).toBe('quarantined');
    p.install((s) => { s.quarantine = create(AnomalyQuarantineSchema, { quarantined: false, sinceMs: BigInt(since), releasedAtMs: BigInt(since + 1) }); });
    expect(p.decide(TICKET(4), T0 + 22 * SECOND).allowed).toBe(true);
  });

  it('takes up the quarantine the controller recorded (a restarted sidecar)', () => {
    const p = pod([agent('{learnFor: 10s, quarantineAfter: {anomalies: 5}}')]);
    p.install((s) => { s.quarantine = create(AnomalyQuarantineSchema, { quarantined: true, sinceMs: BigInt(T0), reason: '5 anomalies' }); });
    expect(p.decide(TICKET(1), T0 + SECOND).rule).toBe('quarantined');
  });

  it('only records under an Audit policy: never denies, never quarantines', () => {
    const p = pod([agent('{learnFor: 10s, novelOperation: Deny, quarantineAfter: {anomalies: 1}}', 'Audit')]);
    p.decide(TICKET(1), T0);
    const novel = p.decide(NOVEL, T0 + 11 * SECOND);
    expect(novel.allowed).toBe(true);
    expect(novel.anomaly?.action).toBe('Alert');
    expect(p.decide(TICKET(2), T0 + 12 * SECOND).rule).not.toBe('quarantined');
  });

  it('bounds what it learns and what one summary carries, counting what it drops', () => {
    const d = new AnomalyDetector({ maxOperations: 3, maxSummaryOperations: 2 });
    const p = pod([agent('{learnFor: 10s}')], d);
    for (let i = 0; i < 5; i++) p.decide({ url: `https://h${i}.internal/` }, T0 + i);
    expect(d.stats()).toMatchObject({ learned: 3, learnedDropped: 2, summaryOperationsDropped: 3 });
    const draft = d.drain(T0 + 10);
    expect(draft.operations.size).toBe(2);
    expect(draft.operationsDropped).toBe(3);
    expect(d.drain(T0 + 20).operations.size).toBe(0);
  });
});
