// Per pod sync state on /metrics, as `istioctl proxy-status` shows it:
// agentwarden_pod_sync{namespace, pod, state} is 1 for the state the pod's sidecar is in
// and 0 for the others, for every pod with a sidecar connected to this replica.
import { renderLines, type Sample } from '../../../common/prometheus.js';

/**
 * synced: the sidecar acknowledged the snapshot it should enforce; pending: not yet;
 * nacked: it rejected the last one sent; stale: the pod's policies do not compile and it keeps its last good snapshot.
 */
export const POD_SYNC_STATES = ['synced', 'pending', 'nacked', 'stale'] as const;
export type PodSyncState = (typeof POD_SYNC_STATES)[number];

export interface PodSyncSource {
  /** namespace/name of every pod with a connected sidecar, and its state. */
  podSyncStates(): readonly { readonly pod: string; readonly state: PodSyncState }[];
  /** Pod snapshots that failed to compile (counted per pod and pass). */
  readonly compileFailures: number;
}

export class PodSyncMetrics {
  constructor(private readonly source: PodSyncSource) {}

  render(): string[] {
    const samples: Sample[] = [];
    for (const { pod, state } of this.source.podSyncStates()) {
      const slash = pod.indexOf('/');
      const namespace = pod.slice(0, slash);
      const name = pod.slice(slash + 1);
      for (const s of POD_SYNC_STATES) samples.push({ labels: { namespace, pod: name, state: s }, value: s === state ? 1 : 0 });
    }
    return renderLines([
      { name: 'agentwarden_pod_sync', type: 'gauge', help: '1 for the sync state of each connected pod\'s sidecar: synced, pending, nacked (rejected the snapshot), stale (its policies do not compile).', samples },
      { name: 'agentwarden_snapshot_compile_failures_total', type: 'counter', help: 'Pod snapshots that did not compile (a broken policy); the pod kept its last good snapshot.', samples: [{ value: this.source.compileFailures }] },
    ]);
  }
}
