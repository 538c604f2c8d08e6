// Writes AgentPolicy.status: one pass computes every policy's status from the
// caches and writes those that changed. Passes run one after another; a failed
// write is logged and retried on the next change, and one failed pass never
// stops the passes after it.
import type { NamespaceLabelsLookup, PolicyEntry } from '../reconcile/snapshots.js';
import type { SlimPod } from '../kube/objects.js';
import { computeStatus, sameStatus, type PodSynced, type SecretLookup, type TokenStatusLookup } from './compute.js';

export interface StatusWriterOptions {
  /** Only the leader writes (always true without leader election). */
  readonly mayWrite: () => boolean;
  readonly entries: () => readonly PolicyEntry[];
  readonly pods: () => readonly SlimPod[];
  readonly podSynced: PodSynced;
  /** The credential Secrets cache, so that Ready says which credential is unavailable. */
  readonly secret?: SecretLookup;
  /** Brokered OAuth tokens of a policy (status.tokens). */
  readonly tokens?: TokenStatusLookup;
  /** Namespace labels, for the pods a ClusterAgentPolicy selects. */
  readonly namespaceLabels?: NamespaceLabelsLookup;
  /** namespace "" for a ClusterAgentPolicy. */
  readonly write: (namespace: string, name: string, status: unknown) => Promise<void>;
  readonly log: (level: 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;
  /** Default: the clock. */
  readonly now?: () => Date;
}

export class StatusWriter {
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly options: StatusWriterOptions) {}

  /** Queues one pass over the current caches (nothing when this replica may not write). */
  pass(): void {
    const o = this.options;
    if (!o.mayWrite()) return;
    const nowIso = (o.now?.() ?? new Date()).toISOString();
    const entries = o.entries();
    const pods = o.pods();
    // Each link catches its own failure, so one bad pass never stops later status writes.
    this.last = this.last.then(async () => {
      for (const entry of entries) {
        const status = computeStatus(entry, pods, o.podSynced, nowIso, o.secret, o.namespaceLabels, o.tokens);
        if (sameStatus(entry.object.status, status)) continue;
        const ns = entry.object.metadata?.namespace ?? '';
        const name = entry.object.metadata?.name ?? '';
        try {
          await o.write(ns, name, status);
        } catch (e: unknown) {
          o.log('warn', 'status write failed; will retry on the next change', { policy: `${ns}/${name}`, error: e instanceof Error ? e.message : String(e) });
        }
      }
    }).catch((e: unknown) => {
      o.log('error', 'status pass failed', { error: e instanceof Error ? e.message : String(e) });
    });
  }

  /** Resolves when every queued pass has finished. */
  idle(): Promise<void> {
    return this.last;
  }
}
