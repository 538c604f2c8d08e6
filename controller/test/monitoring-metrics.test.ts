// The metrics the dashboards and alerts need from the controller (helm/agentwarden/dashboards,
// templates/monitoring): per pod sync state from the reconciler and the distribution stream's
// ACK/NACK, compile failures, and the serving certificates' notAfter.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { Reconciler } from '../src/reconcile/reconciler.js';
import type { AgentPolicyObject, SlimPod, SlimSecret } from '../src/kube/objects.js';
import type { PodSync } from '../src/distribution/server.js';
import { PodSyncMetrics } from '../src/observe/sync-metrics.js';
import { CertificateExpiryMetrics, certificateNotAfter } from '../src/observe/certificates.js';
import { FakeCache } from './fake-caches.js';
import { allowSpec, NAMESPACE, policyObject, slimPod } from './helpers.js';

const POD = `${NAMESPACE}/support-agent-0`;
const BROKEN = policyObject('broken', { podSelector: {}, rules: [{ name: 'Bad_Name', to: { hosts: ['c.example.com'] } }] }, { resourceVersion: '9' });

function sample(lines: readonly string[], prefix: string): number | undefined {
  const line = lines.find((l) => l.startsWith(`${prefix} `));
  return line === undefined ? undefined : Number(line.slice(prefix.length + 1));
}

describe('agentwarden_pod_sync and agentwarden_snapshot_compile_failures_total', () => {
  const policies = new FakeCache<AgentPolicyObject>([policyObject('support', allowSpec('a.example.com'))]);
  const reconciler = new Reconciler({
    policies, pods: new FakeCache<SlimPod>([slimPod()]), secrets: new FakeCache<SlimSecret>(),
    connectedPods: () => [POD], pushAll: () => undefined, onReconciled: () => undefined, log: () => undefined,
  });
  let sync: PodSync | undefined;
  const metrics = new PodSyncMetrics({ podSyncStates: () => reconciler.podSyncStates(() => sync), get compileFailures() { return reconciler.compileFailures; } });
  const state = (): Record<string, number | undefined> => {
    const lines = metrics.render();
    return Object.fromEntries(['synced', 'pending', 'nacked', 'stale'].map((s) => [s, sample(lines, `agentwarden_pod_sync{namespace="${NAMESPACE}",pod="support-agent-0",state="${s}"}`)]));
  };

  it('moves a pod from pending to synced when its sidecar ACKs the version it should enforce, and to nacked when it rejects one', () => {
    reconciler.reconcile();
    const version = reconciler.snapshotFor(POD)?.version ?? '';
    expect(version).not.toBe('');
    sync = { sent: version, acked: '', nackError: undefined, ackedAtMs: 0, connectedAtMs: 0, nackedAtMs: 0 };
    expect(state()).toEqual({ synced: 0, pending: 1, nacked: 0, stale: 0 });
    sync = { sent: version, acked: version, nackError: undefined, ackedAtMs: 1, connectedAtMs: 0, nackedAtMs: 0 };
    expect(state()).toEqual({ synced: 1, pending: 0, nacked: 0, stale: 0 });
    sync = { sent: version, acked: '', nackError: 'rule x: bad regex', ackedAtMs: 1, connectedAtMs: 0, nackedAtMs: 0 };
    expect(state()).toEqual({ synced: 0, pending: 0, nacked: 1, stale: 0 });
    expect(sample(metrics.render(), 'agentwarden_snapshot_compile_failures_total')).toBe(0);
  });

  it('reports stale, and counts a compile failure, when a broken policy joins the pod\'s namespace; synced again once it is fixed', () => {
    const version = reconciler.snapshotFor(POD)?.version ?? '';
    sync = { sent: version, acked: version, nackError: undefined, ackedAtMs: 1, connectedAtMs: 0, nackedAtMs: 0 };
    policies.items = [policyObject('support', allowSpec('b.example.com'), { resourceVersion: '2' }), BROKEN];
    reconciler.reconcile();
    expect(state()).toEqual({ synced: 0, pending: 0, nacked: 0, stale: 1 });
    expect(sample(metrics.render(), 'agentwarden_snapshot_compile_failures_total')).toBe(1);

    policies.items = [policyObject('support', allowSpec('b.example.com'), { resourceVersion: '3' })];
    reconciler.reconcile();
    const next = reconciler.snapshotFor(POD)?.version ?? '';
    expect(next).not.toBe(version);
    expect(state()).toMatchObject({ stale: 0, pending: 1 });
    sync = { sent: next, acked: next, nackError: undefined, ackedAtMs: 2, connectedAtMs: 0, nackedAtMs: 0 };
    expect(state()).toMatchObject({ synced: 1, stale: 0 });
    expect(metrics.render()).toContain('# TYPE agentwarden_pod_sync gauge');
  });
});

describe('agentwarden_certificate_expiry_timestamp_seconds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aw-cert-expiry-'));
  const make = (name: string, days: number): Buffer => {
    const cert = join(dir, `${name}.crt`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', cert, '-days', String(days), '-subj', `/CN=${name}`], { stdio: 'ignore' });
    return readFileSync(cert);
  };

  it('is the notAfter of the certificate each port serves now, and follows a rotation', () => {
    const webhook = make('webhook', 3);
    const distribution = make('distribution', 40);
    let served = webhook;
    const metrics = new CertificateExpiryMetrics([{ name: 'webhook', pem: () => served }, { name: 'distribution', pem: () => distribution }]);
    const expected = (pem: Buffer): number => Math.floor(new X509Certificate(pem).validToDate.getTime() / 1000);
    const lines = metrics.render();
    expect(sample(lines, 'agentwarden_certificate_expiry_timestamp_seconds{certificate="webhook"}')).toBe(expected(webhook));
    expect(sample(lines, 'agentwarden_certificate_expiry_timestamp_seconds{certificate="distribution"}')).toBe(expected(distribution));
    const inThreeDays = Date.now() / 1000 + 3 * 86400;
    expect(Math.abs(expected(webhook) - inThreeDays)).toBeLessThan(120);

    served = make('webhook-renewed', 90);
    expect(sample(metrics.render(), 'agentwarden_certificate_expiry_timestamp_seconds{certificate="webhook"}')).toBe(expected(served));
  });

  it('names what is wrong with a PEM that is not a certificate', () => {
    expect(() => certificateNotAfter(Buffer.from('not a certificate'))).toThrow();
  });
});
