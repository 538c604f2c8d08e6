// /debug/syncz's report from the distribution server's streams and the reconciler's states (pure).
import { syncReport } from '../src/observe/syncz.js';
import type { PodStreamSync } from '../src/distribution/server.js';
import type { PodSyncState } from '../src/observe/sync-metrics.js';

const T0 = Date.parse('2026-12-06T10:00:00Z');

function stream(podKey: string, desired: string | undefined, acked: string, o: { nackError?: string; ackedAtMs?: number; nackedAtMs?: number } = {}): PodStreamSync {
  return { podKey, streams: 1, desired, sync: { sent: desired ?? '', acked, nackError: o.nackError, ackedAtMs: o.ackedAtMs ?? 0, connectedAtMs: T0, nackedAtMs: o.nackedAtMs ?? 0 } };
}

describe('syncReport', () => {
  it('gives each pod the metric\'s state in capitals, splits the pod key, dates the last ACK or NACK, and sorts by namespace and pod', () => {
    const states = new Map<string, PodSyncState>([['b/p1', 'nacked'], ['a/p2', 'synced'], ['a/p1', 'pending'], ['c/p', 'stale']]);
    const r = syncReport([
      stream('b/p1', 'v2', 'v1', { nackError: 'bad', ackedAtMs: T0 + 1000, nackedAtMs: T0 + 5000 }),
      stream('a/p2', 'v1', 'v1', { ackedAtMs: T0 + 2000 }),
      stream('a/p1', undefined, ''),
      stream('c/p', 'v1', 'v1', { ackedAtMs: T0 + 3000 }),
    ], states, { identity: 'ctl-0', leader: true }, T0 + 9000);
    expect(r.controller).toEqual({ identity: 'ctl-0', leader: true });
    expect(r.generatedAt).toBe('2026-12-06T10:00:09.000Z');
    expect(r.pods.map((p) => [p.namespace, p.pod, p.state, p.desired, p.lastChange, p.nackError])).toEqual([
      ['a', 'p1', 'PENDING', '', '2026-12-06T10:00:00.000Z', null],
      ['a', 'p2', 'SYNCED', 'v1', '2026-12-06T10:00:02.000Z', null],
      ['b', 'p1', 'NACKED', 'v2', '2026-12-06T10:00:05.000Z', 'bad'],
      ['c', 'p', 'STALE', 'v1', '2026-12-06T10:00:03.000Z', null],
    ]);
  });

  it('calls a pod the reconciler has not seen yet PENDING', () => {
    expect(syncReport([stream('a/new', 'v1', '')], new Map(), { identity: 'c', leader: true }, T0).pods[0]?.state).toBe('PENDING');
  });

  it('lists the other live replicas\' pods after its own, from their reports, naming the replica serving each', () => {
    const other = { identity: 'ctl-1', renewedAtMs: T0 + 4000, expiresAtMs: T0 + 19_000, report: { generations: new Map([['a/pol', 2]]), pods: new Map<string, PodSyncState>([['a/p9', 'synced'], ['a/p8', 'nacked']]), dropped: 0 } };
    const r = syncReport([stream('a/p1', 'v1', 'v1', { ackedAtMs: T0 })], new Map([['a/p1', 'synced']]), { identity: 'ctl-0', leader: false }, T0 + 5000, [other]);
    expect(r.pods.map((p) => [p.pod, p.state, p.replica, p.lastChange])).toEqual([
      ['p1', 'SYNCED', undefined, '2026-12-06T10:00:00.000Z'],
      ['p8', 'NACKED', 'ctl-1', '2026-12-06T10:00:04.000Z'],
      ['p9', 'SYNCED', 'ctl-1', '2026-12-06T10:00:04.000Z'],
    ]);
    expect(r.replicas).toEqual([{ identity: 'ctl-1', renewedAt: '2026-12-06T10:00:04.000Z', pods: 2 }]);
  });
});
