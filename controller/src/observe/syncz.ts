// /debug/syncz (pure): the distribution server's streams as a SynczReport, in
// the states of the agentwarden_pod_sync metric (the reconciler decides them).
import type { PodStreamSync } from '../distribution/server.js';
import type { PodSyncState } from './sync-metrics.js';
import type { SyncState, SynczPod, SynczReport } from '../../../common/syncz.js';
import type { LiveReport } from '../replicas/index.js';

const STATE: Readonly<Record<PodSyncState, SyncState>> = { synced: 'SYNCED', pending: 'PENDING', nacked: 'NACKED', stale: 'STALE' };

/**
 * `states`: the reconciler's podSyncStates (pod key -> state); a pod missing
 * from it (connected between the two reads) is PENDING.
 */
export function syncReport(streams: readonly PodStreamSync[], states: ReadonlyMap<string, PodSyncState>, controller: { readonly identity: string; readonly leader: boolean }, nowMs: number, others: readonly LiveReport[] = []): SynczReport {
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
  // The other replicas' pods, from their reports (states only).
  const remote = others.flatMap((r) => [...r.report.pods].map(([key, state]): SynczPod => {
    const [namespace = '', pod = ''] = key.split('/');
    const at = new Date(r.renewedAtMs).toISOString();
    return { namespace, pod, state: STATE[state], acked: '', sent: '', desired: '', nackError: null, lastChange: at, connectedAt: at, streams: 1, replica: r.identity };
  }));
  remote.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.pod.localeCompare(b.pod) || (a.replica ?? '').localeCompare(b.replica ?? ''));
  const replicas = others.map((r) => ({ identity: r.identity, renewedAt: new Date(r.renewedAtMs).toISOString(), pods: r.report.pods.size }));
  return { controller, generatedAt: new Date(nowMs).toISOString(), pods: [...pods, ...remote], replicas };
}
