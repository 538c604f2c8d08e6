// The controller's /debug/syncz answer (its metrics port): per connected pod,
// the snapshot version it runs, ACK/NACK state and age, like istioctl
// proxy-status. Written by controller/src/observe/syncz.ts, read by
// `agentwarden status` (cli/src/status/).

/**
 * The states of the controller's agentwarden_pod_sync metric (observe/sync-metrics.ts), in
 * capitals. SYNCED: the pod ACKed the snapshot it should enforce. PENDING: not yet (a newer
 * one is sent, or none compiled yet). NACKED: the pod rejected the latest one (it keeps
 * enforcing the version it ACKed before). STALE: the pod's policies do not compile now; it
 * keeps its last good snapshot.
 */
export type SyncState = 'SYNCED' | 'PENDING' | 'NACKED' | 'STALE';
export const SYNC_STATES: readonly SyncState[] = ['SYNCED', 'PENDING', 'NACKED', 'STALE'];

export interface SynczPod {
  readonly namespace: string;
  readonly pod: string;
  readonly state: SyncState;
  /** The version the pod last ACKed (what it enforces); "" when none yet. */
  readonly acked: string;
  /** The version last sent, and the one compiled for the pod now ("" when none). */
  readonly sent: string;
  readonly desired: string;
  /** The last NACK's error, when the latest push was rejected. */
  readonly nackError: string | null;
  /** The last ACK or NACK, else the stream's start (RFC 3339). */
  readonly lastChange: string;
  readonly connectedAt: string;
  /** Streams open for the pod. */
  readonly streams: number;
  /**
   * The controller replica serving the pod when it is not the one that answered: its
   * state comes from that replica's report Lease (controller/src/replicas), which
   * carries states only (acked, sent and desired are "", lastChange is the report's time).
   */
  readonly replica?: string;
}

/** Another live controller replica, from its report Lease. */
export interface SynczReplica {
  readonly identity: string;
  /** When its report was last renewed (RFC 3339). */
  readonly renewedAt: string;
  readonly pods: number;
}

export interface SynczReport {
  /** The replica that answered (every replica serves sidecars; the leader writes status). */
  readonly controller: { readonly identity: string; readonly leader: boolean };
  readonly generatedAt: string;
  /** This replica's pods, then every other live replica's (with `replica` set). */
  readonly pods: readonly SynczPod[];
  /** The other live replicas; absent from a controller older than replica reports (only its leader served). */
  readonly replicas?: readonly SynczReplica[];
}

export const SYNCZ_PATH = '/debug/syncz';
