// /debug/syncz (pure): the distribution server's streams as a SynczReport.
import type { PodStreamSync } from '../distribution/server.js';
import type { SyncState, SynczPod, SynczReport } from '../../../common/syncz.js';

export function syncState(s: PodStreamSync): SyncState {
  if (s.desired === undefined) return 'NOT SENT';
  if (s.sync.nackError !== undefined) return 'NACK';
  return s.sync.acked === s.desired ? 'SYNCED' : 'STALE';
}

export function syncReport(streams: readonly PodStreamSync[], controller: { readonly identity: string; readonly leader: boolean }, nowMs: number): SynczReport {
  const pods = streams.map((s): SynczPod => {
    const [namespace = '', pod = ''] = s.podKey.split('/');
    const last = Math.max(s.sync.ackedAtMs, s.sync.nackedAtMs, s.sync.connectedAtMs);
    return {
      namespace, pod, state: syncState(s), acked: s.sync.acked, sent: s.sync.sent, desired: s.desired ?? '',
      nackError: s.sync.nackError ?? null, lastChange: new Date(last).toISOString(), connectedAt: new Date(s.sync.connectedAtMs).toISOString(), streams: s.streams,
    };
  });
  pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.pod.localeCompare(b.pod));
  return { controller, generatedAt: new Date(nowMs).toISOString(), pods };
}
