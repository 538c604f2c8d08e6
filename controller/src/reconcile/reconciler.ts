// The reconcile pass: once every cache has been listed, recompute the snapshot
// of each connected pod from the caches, keep the last good snapshot of a pod
// whose new inputs do not compile (fail closed, never open), forget pods that
// left, and push. Sidecars that connect in between get their snapshot on demand.
import type { Snapshot } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import type { AgentPolicyObject, SlimPod, SlimSecret } from '../kube/objects.js';
import type { InformerStats } from '../kube/informer.js';
import type { PodSync } from '../distribution/server.js';
import type { AccessRequest, AgentPolicy } from '../../../policy/src/index.js';
import { parsePolicies, SnapshotBook, type NamespaceLabelsLookup, type PolicyEntry, type TokenSource } from './snapshots.js';
import type { PodSyncState } from '../observe/sync-metrics.js';

/** What the reconciler reads of an informer. */
export interface Cache<T> {
  list(): T[];
  get(namespace: string | undefined, name: string): T | undefined;
  stats(): InformerStats;
}

export interface ReconcilerOptions {
  readonly policies: Cache<AgentPolicyObject>;
  readonly pods: Cache<SlimPod>;
  readonly secrets: Cache<SlimSecret>;
  /** Pods (namespace/name) with a sidecar connected now. */
  readonly connectedPods: () => readonly string[];
  /** Sends every connected sidecar its current snapshot. */
  readonly pushAll: () => void;
  /** After each completed pass (status is due). */
  readonly onReconciled: () => void;
  readonly log: (level: 'warn', msg: string, fields: Record<string, unknown>) => void;
  /**
   * The secrets cache keeps only the keys policies read: false postpones the pass
   * until the cache has been refilled for these policies (it reports a change then).
   */
  readonly secretsFollow?: (policies: readonly AgentPolicy[]) => boolean;
  /** Namespace labels, for ClusterAgentPolicy namespaceSelectors (controller/src/cluster). */
  readonly namespaceLabels?: NamespaceLabelsLookup;
  /** The pod's active grants now (controller/src/approvals); none without. */
  readonly grants?: (pod: SlimPod) => readonly AccessRequest[];
  /** Whether the grants' cache has been listed: before, a pass could take an active grant away from a sidecar. */
  readonly grantsSynced?: () => boolean;
  /** Brokered OAuth tokens (controller/src/oauth); without, oauth2 credentials are unresolved. */
  readonly tokens?: TokenSource;
  /** Adds what is the pod's own beyond its policies (controller/src/baselines: its baseline and quarantine). */
  readonly decorate?: (pod: SlimPod, snapshot: Snapshot) => Snapshot;
}

export class Reconciler {
  private readonly book = new SnapshotBook();
  private entries: PolicyEntry[] = [];
  private readonly snapshots = new Map<string, Snapshot>();
  /** Pods whose current inputs do not compile: they keep (and are not synced to) their last good snapshot. */
  private readonly stalePods = new Set<string>();
  /**
   * Nothing is sent before every cache has been listed and reconciled once: a snapshot
   * computed from half-filled caches could take rules away from a sidecar.
   */
  private reconciled = false;
  private passes = 0;
  /** Pod snapshots that did not compile, counted at each attempt (for /metrics). */
  compileFailures = 0;

  /** One function for the whole pass: the SnapshotBook shares results within a pass only for the same inputs. */
  private readonly secret = (namespace: string, name: string): SlimSecret | undefined => this.options.secrets.get(namespace, name);

  constructor(private readonly options: ReconcilerOptions) {}

  /** Completed passes. */
  get reconciles(): number {
    return this.passes;
  }

  /** Distinct compiled snapshots kept. */
  get compiledSnapshots(): number {
    return this.book.size;
  }

  /** The policies as of the last pass, parsed. */
  policyEntries(): readonly PolicyEntry[] {
    return this.entries;
  }

  /** The snapshot a pod's sidecar should enforce; undefined before the first pass or when it does not compile. */
  snapshotFor(podKey: string): Snapshot | undefined {
    return this.snapshots.get(podKey) ?? this.computeFor(podKey);
  }

  /** The pod's sidecar has acknowledged the snapshot it should enforce. */
  podSynced(pod: SlimPod, sync: (podKey: string) => PodSync | undefined): boolean {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const want = this.snapshots.get(key)?.version;
    const acked = sync(key)?.acked;
    return !this.stalePods.has(key) && want !== undefined && acked === want;
  }

  /** Every connected pod and its sync state (observe/sync-metrics.ts): stale, nacked, synced or pending. */
  podSyncStates(sync: (podKey: string) => PodSync | undefined): { readonly pod: string; readonly state: PodSyncState }[] {
    return this.options.connectedPods().map((pod) => {
      const s = sync(pod);
      const want = this.snapshots.get(pod)?.version;
      const state: PodSyncState = this.stalePods.has(pod) ? 'stale'
        : s?.nackError !== undefined ? 'nacked'
          : want !== undefined && s?.acked === want ? 'synced' : 'pending';
      return { pod, state };
    });
  }

  /** One pass over the caches; does nothing until all three (and the grants) have been listed and the secrets follow the policies. */
  reconcile(): void {
    const { policies, pods, secrets } = this.options;
    if (![policies, pods, secrets].every((c) => c.stats().synced) || this.options.grantsSynced?.() === false) return;
    const entries = parsePolicies(policies.list());
    if (this.options.secretsFollow?.(entries.flatMap((e) => (e.parsed === undefined ? [] : [e.parsed]))) === false) return;
    this.reconciled = true;
    this.passes++;
    this.entries = entries;
    this.book.beginPass();
    const connected = new Set(this.options.connectedPods());
    for (const podKey of connected) {
      const before = this.snapshots.get(podKey);
      this.snapshots.delete(podKey);
      // A pod whose new inputs fail to compile keeps the snapshot it has (fail closed, never open).
      if (this.computeFor(podKey) === undefined && before !== undefined) this.snapshots.set(podKey, before);
    }
    for (const key of [...this.snapshots.keys()]) if (!connected.has(key)) this.snapshots.delete(key);
    for (const key of [...this.stalePods]) if (!connected.has(key)) this.stalePods.delete(key);
    this.book.endPass();
    this.options.pushAll();
    this.options.onReconciled();
  }

  private computeFor(podKey: string): Snapshot | undefined {
    if (!this.reconciled) return undefined;
    const [ns, name] = podKey.split('/');
    const pod = this.options.pods.get(ns, name ?? '');
    if (pod === undefined) return undefined;
    const result = this.book.forPod(pod, this.entries, this.secret, this.options.namespaceLabels, this.options.grants?.(pod) ?? [], this.options.tokens);
    if (!result.ok) {
      this.compileFailures++;
      this.stalePods.add(podKey);
      this.options.log('warn', 'pod snapshot does not compile; the sidecar keeps its last good one', { pod: podKey, error: result.error });
      return undefined;
    }
    this.stalePods.delete(podKey);
    const snapshot = this.options.decorate?.(pod, result.snapshot) ?? result.snapshot;
    this.snapshots.set(podKey, snapshot);
    return snapshot;
  }
}
