// The replica report (controller/src/replicas): what one replica's sidecars
// acknowledged, encoded into a Lease annotation, bounded, and read back by the
// leader, which counts a pod as synced for a policy only at the same generation.
import { describe, expect, it } from '@jest/globals';
import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { decodeReport, encodeReport, MAX_REPORT_BYTES, REPORT_ANNOTATION, reportLeaseName, type ReplicaReport } from '../../src/replicas/report.js';
import { ReplicaReports, remotePods, remoteSynced } from '../../src/replicas/reports.js';
import type { PodSyncState } from '../../src/observe/sync-metrics.js';

function reportOf(pods: number, state: PodSyncState = 'synced', generation = 3): ReplicaReport {
  return {
    generations: new Map([['support/read-tickets', generation], ['/everyone', 1]]),
    pods: new Map(Array.from({ length: pods }, (_, i): [string, PodSyncState] => [`ns-${i % 7}/agent-${i}`, i % 10 === 0 ? 'pending' : state])),
    dropped: 0,
  };
}

function lease(identity: string, report: ReplicaReport, renewedAtMs: number, rv = '1'): V1Lease {
  return {
    metadata: { name: reportLeaseName(identity), namespace: 'agentwarden-system', uid: `uid-${identity}`, resourceVersion: rv, annotations: { [REPORT_ANNOTATION]: encodeReport(report) } },
    spec: { holderIdentity: identity, leaseDurationSeconds: 15, renewTime: new V1MicroTime(renewedAtMs) },
  };
}

describe('replica report', () => {
  it('reads back every pod state and policy generation it was written with', () => {
    const report = reportOf(100);
    const back = decodeReport(encodeReport(report));
    expect(back.pods).toEqual(report.pods);
    expect(back.generations).toEqual(report.generations);
    expect(back.dropped).toBe(0);
  });

  it('holds 10,000 pods far under the annotation limit', () => {
    const encoded = encodeReport(reportOf(10_000));
    expect(encoded.length).toBeLessThan(MAX_REPORT_BYTES / 2);
    expect(decodeReport(encoded).pods.size).toBe(10_000);
  });

  it('cuts pods past the size limit and counts them as dropped (never over the limit)', () => {
    const encoded = encodeReport(reportOf(10_000), 8_000);
    expect(encoded.length).toBeLessThanOrEqual(8_000);
    const back = decodeReport(encoded);
    expect(back.pods.size).toBeGreaterThan(0);
    expect(back.pods.size + back.dropped).toBe(10_000);
  });

  it('stays under the limit even when the policies alone exceed it: nothing counts as synced then', () => {
    const many: ReplicaReport = { generations: new Map(Array.from({ length: 5000 }, (_, i): [string, number] => [`ns-${i}/policy-${i}-${'x'.repeat(i % 17)}`, i])), pods: new Map([['a/p', 'synced']]), dropped: 0 };
    const encoded = encodeReport(many, 2_000);
    expect(encoded.length).toBeLessThanOrEqual(2_000);
    const back = decodeReport(encoded);
    expect(back.generations.size).toBe(0);
    expect(back.pods.size).toBe(0);
    expect(back.dropped).toBe(1);
  });

  it('names the annotation and field of a broken report', () => {
    expect(() => decodeReport('not base64 gzip')).toThrow(/annotation agentwarden.io\/replica-acks: not gzipped JSON/);
  });

  it('names its Lease after the replica, as a DNS-1123 name', () => {
    expect(reportLeaseName('agentwarden-controller-7d9f-x2')).toBe('agentwarden-controller-replica-agentwarden-controller-7d9f-x2');
    expect(reportLeaseName('Host_Name:1')).toBe('agentwarden-controller-replica-host-name-1');
  });
});

describe('ReplicaReports', () => {
  const NOW = Date.parse('2026-12-06T10:00:00Z');

  it('counts a pod synced on another live replica only at the same policy generation', () => {
    const leases = [lease('b', reportOf(20), NOW - 1000)];
    const reports = new ReplicaReports({ identity: 'a', leases: { list: () => leases }, onExpired: () => undefined, log: () => undefined, now: () => NOW });
    const live = reports.live();
    reports.stop();
    expect(live.map((r) => r.identity)).toEqual(['b']);
    expect(remoteSynced(live, 'ns-1/agent-1', 'support/read-tickets', 3)).toBe(true);
    // A replica behind (or ahead of) the leader's generation does not count yet.
    expect(remoteSynced(live, 'ns-1/agent-1', 'support/read-tickets', 4)).toBe(false);
    // Pending on that replica, or served by none.
    expect(remoteSynced(live, 'ns-0/agent-0', 'support/read-tickets', 3)).toBe(false);
    expect(remoteSynced(live, 'ns-0/agent-999', 'support/read-tickets', 3)).toBe(false);
    expect(remotePods(live)).toHaveLength(20);
  });

  it('ignores its own report and expired ones, and says when the next one expires', async () => {
    // The expiry timer runs on the wall clock.
    let now = Date.now();
    const expired: number[] = [];
    const leases = [lease('a', reportOf(5), now), lease('b', reportOf(5), now - 16_000), lease('c', reportOf(5), now - 14_900)];
    const reports = new ReplicaReports({ identity: 'a', leases: { list: () => leases }, onExpired: () => { expired.push(Date.now()); }, log: () => undefined, now: () => now });
    expect(reports.live().map((r) => r.identity)).toEqual(['c']);
    // c was renewed 14.9 s ago by the wall clock: it expires within about 100 ms.
    now = Date.now();
    reports.live();
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (expired.length > 0) { clearInterval(t); resolve(); } }, 10); });
    expect(expired).toHaveLength(1);
    now = Date.now();
    expect(reports.live()).toEqual([]);
    reports.stop();
  });

  it('ignores a report it cannot decode, and counts it', () => {
    const bad: V1Lease = { ...lease('b', reportOf(1), NOW), metadata: { uid: 'u', resourceVersion: '1', annotations: { [REPORT_ANNOTATION]: 'garbage' } } };
    const logs: string[] = [];
    const reports = new ReplicaReports({ identity: 'a', leases: { list: () => [bad] }, onExpired: () => undefined, log: (_l, m) => { logs.push(m); }, now: () => NOW });
    expect(reports.live()).toEqual([]);
    expect(reports.invalid).toBe(1);
    expect(logs).toEqual(['ignoring a replica report']);
    reports.stop();
  });
});
