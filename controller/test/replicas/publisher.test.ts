// ReportPublisher: this replica's report Lease is created, rewritten after its
// sidecars' sync changed (debounced), taken over when an earlier run left it,
// and deleted on a clean stop.
import { describe, expect, it } from '@jest/globals';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { ReportPublisher } from '../../src/replicas/publisher.js';
import { decodeReport, REPORT_ANNOTATION, REPORT_LABEL, type ReplicaReport } from '../../src/replicas/report.js';

/** The Lease calls the publisher makes, against an in-memory store. */
function fakeLeases(existing?: V1Lease) {
  const calls: string[] = [];
  let stored: V1Lease | undefined = existing;
  let rv = 1;
  const keep = (body: V1Lease): V1Lease => {
    stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
    return stored;
  };
  const api = {
    createNamespacedLease: ({ body }: { body: V1Lease }) => {
      calls.push('create');
      if (stored !== undefined) return Promise.reject(Object.assign(new Error('exists'), { code: 409 }));
      return Promise.resolve(keep(body));
    },
    readNamespacedLease: () => { calls.push('read'); return stored === undefined ? Promise.reject(Object.assign(new Error('gone'), { code: 404 })) : Promise.resolve(stored); },
    replaceNamespacedLease: ({ body }: { body: V1Lease }) => { calls.push('replace'); return Promise.resolve(keep(body)); },
    deleteNamespacedLease: () => { calls.push('delete'); stored = undefined; return Promise.resolve({}); },
  };
  return { api: api as unknown as CoordinationV1Api, calls, stored: () => stored };
}

function until(ok: () => boolean): Promise<void> {
  return new Promise((resolve) => { const t = setInterval(() => { if (ok()) { clearInterval(t); resolve(); } }, 5); });
}

describe('ReportPublisher', () => {
  it('creates its Lease with the report, rewrites it after a change, and deletes it on stop', async () => {
    let report: ReplicaReport = { generations: new Map([['a/p', 1]]), pods: new Map([['a/x', 'pending']]), dropped: 0 };
    const leases = fakeLeases();
    const publisher = new ReportPublisher(leases.api, { namespace: 'agentwarden-system', identity: 'ctl-0', report: () => report, debounceMs: 10, renewEveryMs: 60_000, log: () => undefined });
    publisher.start();
    await until(() => leases.calls.includes('create'));
    const created = leases.stored();
    expect(created?.metadata?.name).toBe('agentwarden-controller-replica-ctl-0');
    expect(created?.metadata?.labels?.[REPORT_LABEL]).toBe('true');
    expect(created?.spec).toMatchObject({ holderIdentity: 'ctl-0', leaseDurationSeconds: 15 });
    expect(decodeReport(created?.metadata?.annotations?.[REPORT_ANNOTATION] ?? '').pods.get('a/x')).toBe('pending');
    report = { ...report, pods: new Map([['a/x', 'synced']]) };
    publisher.changed();
    await until(() => leases.calls.includes('replace'));
    expect(decodeReport(leases.stored()?.metadata?.annotations?.[REPORT_ANNOTATION] ?? '').pods.get('a/x')).toBe('synced');
    await publisher.stop();
    expect(leases.calls.at(-1)).toBe('delete');
    expect(publisher.writes).toBe(2);
  });

  it('takes over the Lease an earlier run of this replica left behind', async () => {
    const leases = fakeLeases({ metadata: { name: 'agentwarden-controller-replica-ctl-0', namespace: 'agentwarden-system', resourceVersion: '1' }, spec: { holderIdentity: 'ctl-0' } });
    const publisher = new ReportPublisher(leases.api, { namespace: 'agentwarden-system', identity: 'ctl-0', report: () => ({ generations: new Map(), pods: new Map(), dropped: 0 }), renewEveryMs: 60_000, log: () => undefined });
    publisher.start();
    await until(() => leases.calls.includes('replace'));
    expect(leases.calls).toEqual(['create', 'read', 'replace']);
    expect(leases.stored()?.metadata?.annotations?.[REPORT_ANNOTATION]).toBeDefined();
    await publisher.stop();
  });
});
