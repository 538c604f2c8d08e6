// /debug/syncz's report from the distribution server's streams (pure).
import { syncReport, syncState } from '../src/observe/syncz.js';
import type { PodStreamSync } from '../src/distribution/server.js';

const T0 = Date.parse('2026-12-06T10:00:00Z');

function stream(podKey: string, desired: string | undefined, acked: string, o: { nackError?: string; ackedAtMs?: number; nackedAtMs?: number } = {}): PodStreamSync {
  return { podKey, streams: 1, desired, sync: { sent: desired ?? '', acked, nackError: o.nackError, ackedAtMs: o.ackedAtMs ?? 0, connectedAtMs: T0, nackedAtMs: o.nackedAtMs ?? 0 } };
}

describe('syncState', () => {
  it('is SYNCED when the pod ACKed the version compiled for it now, STALE while a newer one is not ACKed', () => {
    expect(syncState(stream('a/p', 'sha256:2', 'sha256:2'))).toBe('SYNCED');
    expect(syncState(stream('a/p', 'sha256:3', 'sha256:2'))).toBe('STALE');
  });

  it('is NACK when the pod rejected the latest push, and NOT SENT when nothing is compiled for it', () => {
    expect(syncState(stream('a/p', 'sha256:3', 'sha256:2', { nackError: 'credentials on TCP' }))).toBe('NACK');
    expect(syncState(stream('a/p', undefined, ''))).toBe('NOT SENT');
  });
});

describe('syncReport', () => {
  it('splits the pod key, dates the last ACK or NACK, and sorts by namespace and pod', () => {
    const r = syncReport([
      stream('b/p1', 'v2', 'v1', { nackError: 'bad', ackedAtMs: T0 + 1000, nackedAtMs: T0 + 5000 }),
      stream('a/p2', 'v1', 'v1', { ackedAtMs: T0 + 2000 }),
      stream('a/p1', undefined, ''),
    ], { identity: 'ctl-0', leader: true }, T0 + 9000);
    expect(r.controller).toEqual({ identity: 'ctl-0', leader: true });
    expect(r.generatedAt).toBe('2026-12-06T10:00:09.000Z');
    expect(r.pods.map((p) => [p.namespace, p.pod, p.state, p.lastChange, p.nackError])).toEqual([
      ['a', 'p1', 'NOT SENT', '2026-12-06T10:00:00.000Z', null],
      ['a', 'p2', 'SYNCED', '2026-12-06T10:00:02.000Z', null],
      ['b', 'p1', 'NACK', '2026-12-06T10:00:05.000Z', 'bad'],
    ]);
  });
});
