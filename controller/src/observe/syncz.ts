// /debug/syncz (pure): the distribution server's streams as a SynczReport, in
// the states of the agentwarden_pod_sync metric (the reconciler decides them).
import type { PodStreamSync } from '../distribution/server.js';
import type { PodSyncState } from './sync-metrics.js';
import type { SyncState, SynczPod, SynczReport } from '../../../common/syncz.js';

const STATE: Readonly<Record<PodSyncState, SyncState>> = { synced: 'SYNCED', pending: 'PENDING', nacked: 'NACKED', stale: 'STALE' };

/**
 * `states`: the reconciler's podSyncStates (pod key -> state); a pod missing
 * from it (connected between the two reads) is PENDING.
 */
export function syncReport(streams: readonly PodStreamSync[], states: ReadonlyMap<string, PodSyncState>, controller: { readonly identity: string; readonly leader: boolean }, nowMs: number): SynczReport {
  const pods = streams.map((s): SynczPod => {
    const [namespace = '', pod = ''] = s.podKey.split('/');
    const state = STATE[states.get(s.podKey) ?? 'pending'];
    const last = Math.max(s.sync.ackedAtMs, s.sync.nackedAtMs, s.sync.connectedAtMs);
    return {
      namespace, pod, state, acked: s.sync.acked, sent: s.sync.sent, desired: s.desired ?? '',
      nackError: s.sync.nackError ?? null, lastChange: new Date(last).toISOString(), connectedAt: new Date(s.sync.connectedAtMs).toISOString(), streams: s.streams,
    };
  });
  pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.pod.localeCompare(b.pod));
  return { controller, generatedAt: new Date(nowMs).toISOString(), pods };
}
