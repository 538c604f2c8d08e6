// The periodic operation summary (issue 17) over the real distribution stream:
// the sidecar's DistributionClient against a grpc-js server on 127.0.0.1 that
// plays the controller. A summary carries what the detector counted and the
// anomalies noted since the last one, bounded; while the stream is down nothing
// is drained, so nothing is lost. The span attributes and the metric of an anomaly.
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnomalyDetector, type AnomalyFacts, type Decision, type LoadedAnomaly } from '../../policy/src/index.js';
import { DistributionClient } from '../src/distribution/client.js';
import { SummaryOutbox } from '../src/anomaly/summaries.js';
import { decisionAttributes } from '../src/telemetry/attributes.js';
import { SidecarMetrics } from '../src/metrics.js';
import { FakeController } from './fake-controller.js';

const T0 = 1_800_000_000_000;
const CONFIG: LoadedAnomaly = {
  policy: 'p', audit: false, learnForMs: 60_000, novel: 'Alert', spikeFactor: 0, spikeOverMs: 0, spike: 'Off',
  quarantineAnomalies: 0, quarantineWithinMs: 0, baseline: undefined, quarantine: undefined,
};
const NOVEL: AnomalyFacts = { kind: 'novel-operation', operation: 'GET billing.internal/v1/invoices', action: 'Alert', quarantined: false };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sidecar(address: string, detector: AnomalyDetector, maxAnomalies = 64): { readonly client: DistributionClient; readonly outbox: SummaryOutbox; readonly up: Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'agentwarden-summaries-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'header.payload.signature');
  let markUp: () => void = () => undefined;
  const up = new Promise<void>((resolve) => { markUp = resolve; });
  const client = new DistributionClient({
    address, tokenFile, namespace: 'support', podName: 'support-agent-0', caFile: undefined, sidecarVersion: 'test',
    log: { log: () => undefined }, install: () => undefined, currentVersion: () => '', onStreamUp: () => { markUp(); },
  });
  const outbox = new SummaryOutbox({ send: (m) => client.send(m), streamUp: () => client.state === 'synced', detector, clock: () => T0 + 30_000 }, { intervalMs: 60_000, maxAnomalies });
  client.start();
  cleanups.push(async () => { outbox.stop(); await client.stop(); rmSync(dir, { recursive: true, force: true }); });
  return { client, outbox, up };
}

describe('operation summaries to the controller', () => {
  it('carry the operations counted and the anomalies noted since the last one, bounded, and nothing when nothing happened', async () => {
    const controller = await FakeController.start();
    cleanups.push(() => { controller.stop(); });
    const detector = new AnomalyDetector();
    const s = sidecar(controller.address, detector, 2);
    // The first snapshot installed: the stream is synced.
    await s.up;
    for (let i = 0; i < 3; i++) detector.observe(CONFIG, 'GET api.example.com/v1/items/{id}', T0 + i);
    detector.observe(CONFIG, 'GET crm.internal/customers/{id}', T0 + 10);
    for (let i = 0; i < 3; i++) s.outbox.anomaly(NOVEL, `decision-${i}`);
    expect(s.outbox.flush()).toBe(true);
    await controller.until('operationSummary', 1);
    const [m] = controller.of('operationSummary');
    if (m?.kind.case !== 'operationSummary') throw new Error('no summary');
    const summary = m.kind.value;
    expect(summary.operations.map((o) => [o.operation, o.count, Number(o.firstSeenMs), Number(o.lastSeenMs)])).toEqual([
      ['GET api.example.com/v1/items/{id}', 3, T0, T0 + 2], ['GET crm.internal/customers/{id}', 1, T0 + 10, T0 + 10],
    ]);
    expect(Number(summary.learningStartedMs)).toBe(T0);
    expect(summary.anomalies.map((a) => [a.kind, a.operation, a.action, a.decisionId])).toEqual([
      ['novel-operation', 'GET billing.internal/v1/invoices', 'Alert', 'decision-0'], ['novel-operation', 'GET billing.internal/v1/invoices', 'Alert', 'decision-1'],
    ]);
    expect(summary.anomaliesDropped).toBe(1);
    expect(s.outbox.counters).toMatchObject({ summariesSent: 1, anomaliesDropped: 1 });
    expect(s.outbox.counters.summaryBytes).toBeGreaterThan(0);
    // Nothing happened since: nothing is sent.
    expect(s.outbox.flush()).toBe(false);
  });

  it('drains nothing while the stream is down: the counts wait for the next summary', () => {
    const detector = new AnomalyDetector();
    const outbox = new SummaryOutbox({ send: () => false, streamUp: () => false, detector, clock: () => T0 }, { intervalMs: 60_000, maxAnomalies: 64 });
    detector.observe(CONFIG, 'GET a.example/x', T0);
    expect(outbox.flush()).toBe(false);
    expect(detector.drain(T0 + 1).operations.get('GET a.example/x')?.count).toBe(1);
  });
});

describe('an anomaly where users see it', () => {
  const d: Decision = {
    allowed: true, mode: 'Enforce', policy: 'p', rule: 'internal', reason: 'allowed', auditDecision: null, headers: [],
    request: { method: 'GET', host: 'billing.internal', port: 443, path: '/v1/invoices', mcpMethod: '', mcpTool: '', mcpId: undefined },
    anomaly: { ...NOVEL, quarantined: true },
  };
  it('is in the decision span: agentwarden.anomaly and its operation, action and quarantine', () => {
    expect(decisionAttributes(d, 'v1', { namespace: 'support', name: 'a-0' })).toMatchObject({
      'agentwarden.anomaly': 'novel-operation', 'agentwarden.anomaly.operation': 'GET billing.internal/v1/invoices',
      'agentwarden.anomaly.action': 'Alert', 'agentwarden.anomaly.quarantined': true,
    });
    const plain: Decision = { ...d };
    delete (plain as { anomaly?: AnomalyFacts }).anomaly;
    expect(Object.keys(decisionAttributes(plain, 'v1', { namespace: 'support', name: 'a-0' })).filter((k) => k.startsWith('agentwarden.anomaly'))).toEqual([]);
  });
  it('is counted in agentwarden_anomalies_total by kind and action, Alert series always present', () => {
    const m = new SidecarMetrics();
    const empty = m.render({ ready: true, snapshotVersion: 'v1', spansExported: 0, spansDropped: 0 });
    expect(empty).toContain('agentwarden_anomalies_total{kind="novel-operation",action="Alert"} 0');
    m.recordAnomaly(NOVEL);
    m.recordAnomaly({ ...NOVEL, kind: 'rate-spike', action: 'Deny' });
    const text = m.render({ ready: true, snapshotVersion: 'v1', spansExported: 0, spansDropped: 0 });
    expect(text).toContain('agentwarden_anomalies_total{kind="novel-operation",action="Alert"} 1');
    expect(text).toContain('agentwarden_anomalies_total{kind="rate-spike",action="Deny"} 1');
  });
});
