// The baselines of every agent identity the controller has heard of (pure; the
// clock is passed in). The sidecars' operation summaries merge in; an
// AgentBaseline's spec (accepted operations, releases) applies; a restarted
// controller takes a baseline up from its status. What the sidecars judge with
// (Snapshot.baseline, Snapshot.quarantine) and what the leader writes
// (AgentBaseline.status) come out of it. Bounded: operations per identity,
// rate samples, recent anomalies, and the status's encoded size (the API
// server's 1.5 MB object limit); what does not fit is counted.
//
// Every controller replica serves sidecars (issue 20), so summaries of one
// identity arrive at several replicas. The AgentBaseline's status is the shared
// state: each replica's baseline is the stored status plus the summaries it
// merged and has not written yet (pending); every replica writes that on top of
// the version it read (optimistic concurrency: a write on a stale version fails
// and is retried after the new version is taken up), so no replica's summaries
// are lost and the replicas converge on one baseline.
import { create } from '@bufbuild/protobuf';
import type { OperationSummary } from '../../../proto/gen/agentwarden/v1/distribution_pb.js';
import { AnomalyQuarantineSchema, BaselineSchema, type AnomalyQuarantine, type Baseline } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { percentile } from '../../../policy/src/index.js';
import type { AnomalyEntry, BaselineSpec, BaselineStatus, OperationEntry } from './objects.js';

export interface BaselineLimits {
  /** Operations one identity's baseline holds. Default 2000. */
  readonly maxOperations: number;
  /** Rate windows kept for the percentiles. Default 1440. */
  readonly maxRateSamples: number;
  /** Anomalies listed in status.recentAnomalies. Default 20. */
  readonly maxRecentAnomalies: number;
  /** The status's JSON size at most, bytes (the API server refuses objects over 1.5 MB). Default 1 400 000. */
  readonly maxStatusBytes: number;
}

export const DEFAULT_BASELINE_LIMITS: BaselineLimits = Object.freeze({ maxOperations: 2000, maxRateSamples: 1440, maxRecentAnomalies: 20, maxStatusBytes: 1_400_000 });

interface Tally { count: number; firstSeenMs: number; lastSeenMs: number }

/** A summary merged here and not yet in the stored AgentBaseline. */
interface Pending { readonly pod: string; readonly summary: OperationSummary; readonly learnForMs: number; readonly nowMs: number }

/** Summaries kept per identity until written; older ones are dropped (and counted) past it. */
export const MAX_PENDING_SUMMARIES = 256;

/** What one write of an identity's status carries (beginWrite → written or writeFailed). */
export interface PendingWrite {
  readonly status: BaselineStatus;
  /** The stored version it is written on top of ("" when none was seen: the object was just created). */
  readonly version: string;
  /** Pending summaries it includes. */
  readonly included: number;
}

interface Identity {
  readonly namespace: string;
  readonly serviceAccount: string;
  learningStartedMs: number;
  learnForMs: number;
  readonly operations: Map<string, Tally>;
  accepted: ReadonlySet<string>;
  samples: number[];
  windowMs: number;
  anomalies: number;
  recent: AnomalyEntry[];
  readonly quarantined: Map<string, { readonly sinceMs: number; readonly reason: string }>;
  readonly released: Map<string, number>;
  readonly dropped: { operations: number; anomalies: number; summaries: number };
  /** Bumped when what the sidecars judge with changes. */
  revision: number;
  /** status differs from what was last written. */
  dirty: boolean;
  /** The AgentBaseline object exists (the informer has seen it, or a replica created it). */
  exists: boolean;
  baseline: Baseline | undefined;
  /** Merged here, not yet written (bounded by MAX_PENDING_SUMMARIES). */
  pending: Pending[];
  /** The stored resourceVersion this state is built on ("" before any). */
  storedVersion: string;
  /** The newest stored status the informer has shown (taken up after a write in flight ends). */
  latest: { readonly status: Partial<BaselineStatus>; readonly version: string } | undefined;
  writing: boolean;
}

/** What a merged summary brings that someone should hear of (Events). */
export interface MergeOutcome {
  readonly anomalies: readonly AnomalyEntry[];
  readonly quarantined: { readonly sinceMs: number; readonly reason: string } | undefined;
  /** What the sidecars judge with changed: push snapshots. */
  readonly changed: boolean;
}

export class BaselineBook {
  private readonly identities = new Map<string, Identity>();

  constructor(private readonly limits: BaselineLimits = DEFAULT_BASELINE_LIMITS) {}

  keys(): string[] {
    return [...this.identities.keys()];
  }

  dirty(): string[] {
    return [...this.identities].filter(([, i]) => i.dirty).map(([k]) => k);
  }

  exists(key: string): boolean {
    return this.identities.get(key)?.exists === true;
  }

  revision(key: string): number | undefined {
    return this.identities.get(key)?.revision;
  }

  /** One summary of pod `pod` of identity (namespace, serviceAccount), with its policy's learnFor. */
  merge(namespace: string, serviceAccount: string, pod: string, s: OperationSummary, learnForMs: number, nowMs: number): MergeOutcome {
    const id = this.identity(namespace, serviceAccount);
    if (id.pending.length >= MAX_PENDING_SUMMARIES) {
      id.pending.shift();
      id.dropped.summaries++;
    }
    id.pending.push({ pod, summary: s, learnForMs, nowMs });
    return this.apply(id, pod, s, learnForMs, nowMs);
  }

  private apply(id: Identity, pod: string, s: OperationSummary, learnForMs: number, nowMs: number): MergeOutcome {
    let changed = false;
    if (id.learningStartedMs === 0) {
      const reported = Number(s.learningStartedMs);
      id.learningStartedMs = reported > 0 && reported < nowMs ? reported : nowMs;
      changed = true;
    }
    if (learnForMs > 0 && learnForMs !== id.learnForMs) {
      id.learnForMs = learnForMs;
      changed = true;
    }
    const until = id.learningStartedMs + id.learnForMs;
    for (const op of s.operations) {
      const first = Number(op.firstSeenMs);
      const last = Number(op.lastSeenMs);
      const t = id.operations.get(op.operation);
      if (t !== undefined) {
        t.count += op.count;
        t.lastSeenMs = Math.max(t.lastSeenMs, last);
        t.firstSeenMs = Math.min(t.firstSeenMs, first);
      } else if (first < until || id.accepted.has(op.operation)) {
        // Learned (seen while learning) or accepted; after learning, a novel operation is an anomaly, not a baseline entry.
        if (id.operations.size < this.limits.maxOperations) {
          id.operations.set(op.operation, { count: op.count, firstSeenMs: first, lastSeenMs: last });
          changed = true;
        } else {
          id.dropped.operations++;
        }
      }
    }
    id.dropped.operations += s.operationsDropped;
    if (Number(s.toMs) <= until && s.windowCounts.length > 0) {
      const before = this.rateP95(id);
      id.windowMs = Number(s.windowMs);
      id.samples.push(...s.windowCounts);
      if (id.samples.length > this.limits.maxRateSamples) id.samples = id.samples.slice(-this.limits.maxRateSamples);
      if (this.rateP95(id) !== before) changed = true;
    }
    const anomalies: AnomalyEntry[] = s.anomalies.map((a) => ({ kind: a.kind, operation: a.operation, pod, at: new Date(Number(a.atMs)).toISOString(), action: a.action, decisionId: a.decisionId }));
    id.anomalies += anomalies.length + s.anomaliesDropped;
    id.dropped.anomalies += s.anomaliesDropped;
    id.recent = [...id.recent, ...anomalies].slice(-this.limits.maxRecentAnomalies);
    let quarantined: MergeOutcome['quarantined'];
    const q = s.quarantine;
    if (q?.quarantined === true && !id.quarantined.has(pod) && Number(q.sinceMs) > (id.released.get(pod) ?? 0)) {
      quarantined = { sinceMs: Number(q.sinceMs), reason: q.reason };
      id.quarantined.set(pod, quarantined);
      changed = true;
    }
    id.dirty = true;
    if (changed) this.bump(id);
    return { anomalies, quarantined, changed };
  }

  /** A summary that could not be merged (the AgentBaselines were not listed yet). */
  droppedSummary(namespace: string, serviceAccount: string): void {
    this.identity(namespace, serviceAccount).dropped.summaries++;
  }

  /**
   * An AgentBaseline as the informer has it: its spec applies (accepted
   * operations, releases); a baseline not in memory is taken up from its status.
   * Returns the pods released now, and whether what the sidecars judge with changed.
   */
  sync(namespace: string, spec: BaselineSpec, status: Partial<BaselineStatus> | undefined, version?: string): { readonly released: readonly string[]; readonly changed: boolean } {
    const fresh = !this.identities.has(`${namespace}/${spec.serviceAccount}`);
    const id = this.identity(namespace, spec.serviceAccount);
    id.exists = true;
    let changed = false;
    let rebuilt = false;
    if (version !== undefined) id.latest = { status: status ?? {}, version };
    if (fresh) {
      if (status !== undefined) {
        this.takeUp(id, status);
        changed = true;
      }
      if (version !== undefined) id.storedVersion = version;
    } else if (version !== undefined && version !== id.storedVersion && !id.writing) {
      if (status === undefined) {
        // No status stored yet: what this replica holds is all there is.
        id.storedVersion = version;
      } else {
        // Another replica wrote: its status, plus what this one has not written yet.
        this.rebuild(id, status, version);
        rebuilt = true;
        changed = true;
      }
    }
    // After taking another replica's write up, this one writes only what it adds (no write back and forth).
    const dirtyAfterRebuild = id.dirty;
    const accepted = new Set(spec.accepted);
    if (accepted.size !== id.accepted.size || [...accepted].some((a) => !id.accepted.has(a))) {
      id.accepted = accepted;
      changed = true;
      rebuilt = false;
    }
    const released: string[] = [];
    for (const r of spec.releases) {
      if (r.atMs <= (id.released.get(r.pod) ?? 0)) continue;
      id.released.set(r.pod, r.atMs);
      const q = id.quarantined.get(r.pod);
      if (q !== undefined && q.sinceMs <= r.atMs) {
        id.quarantined.delete(r.pod);
        released.push(r.pod);
      }
      changed = true;
      rebuilt = false;
      id.dirty = true;
    }
    if (changed) this.bump(id);
    if (rebuilt) id.dirty = dirtyAfterRebuild;
    return { released, changed };
  }

  /**
   * Forgets the quarantines and releases of pods that no longer exist (`exists`),
   * so that they do not pile up as pods come and go.
   */
  prunePods(key: string, exists: (pod: string) => boolean): void {
    const id = this.identities.get(key);
    if (id === undefined) return;
    let changed = false;
    for (const pod of [...id.quarantined.keys(), ...id.released.keys()]) {
      if (exists(pod)) continue;
      changed = id.quarantined.delete(pod) || changed;
      changed = id.released.delete(pod) || changed;
    }
    if (changed) this.bump(id);
  }

  /** The object was created by this controller. */
  created(key: string): void {
    const id = this.identities.get(key);
    if (id !== undefined) id.exists = true;
  }

  written(key: string): void {
    const id = this.identities.get(key);
    if (id !== undefined) id.dirty = false;
  }

  /** The status to write now, on top of the stored version this state is built on. */
  beginWrite(key: string): PendingWrite | undefined {
    const id = this.identities.get(key);
    const status = this.status(key);
    if (id === undefined || status === undefined) return undefined;
    id.writing = true;
    return { status, version: id.storedVersion, included: id.pending.length };
  }

  /** The write of `w` succeeded: the store is at `version` now, with the summaries it included. */
  writtenAt(key: string, w: PendingWrite, version: string): void {
    const id = this.identities.get(key);
    if (id === undefined) return;
    id.writing = false;
    id.pending.splice(0, w.included);
    id.storedVersion = version;
    id.dirty = id.pending.length > 0;
    // A newer version than ours came meanwhile (the informer's echo of ours has `version`; an older one has w.version).
    const latest = id.latest;
    if (latest !== undefined && latest.version !== version && latest.version !== w.version) this.rebuild(id, latest.status, latest.version);
  }

  /** The write failed (another replica wrote first, or the API server refused): take the newest version up; written again later. */
  writeFailed(key: string): void {
    const id = this.identities.get(key);
    if (id === undefined) return;
    id.writing = false;
    id.dirty = true;
    const latest = id.latest;
    if (latest !== undefined && latest.version !== id.storedVersion) this.rebuild(id, latest.status, latest.version);
  }

  /** Snapshot.baseline for the identity; undefined before anything was learned. */
  baseline(key: string): Baseline | undefined {
    const id = this.identities.get(key);
    if (id === undefined || id.learningStartedMs === 0) return undefined;
    id.baseline ??= create(BaselineSchema, {
      learningStartedMs: BigInt(id.learningStartedMs),
      learningUntilMs: BigInt(id.learningStartedMs + id.learnForMs),
      operations: [...new Set([...id.operations.keys(), ...id.accepted])].sort(),
      rateP95: this.rateP95(id),
      rateWindowMs: BigInt(id.windowMs),
    });
    return id.baseline;
  }

  /** Snapshot.quarantine for a pod of the identity; undefined when it was never quarantined nor released. */
  quarantine(key: string, pod: string): AnomalyQuarantine | undefined {
    const id = this.identities.get(key);
    const q = id?.quarantined.get(pod);
    const released = id?.released.get(pod) ?? 0;
    if (q === undefined && released === 0) return undefined;
    return create(AnomalyQuarantineSchema, { quarantined: q !== undefined, sinceMs: BigInt(q?.sinceMs ?? 0), reason: q?.reason ?? '', releasedAtMs: BigInt(released) });
  }

  /** The AgentBaseline status of the identity, within maxStatusBytes. */
  status(key: string): BaselineStatus | undefined {
    const id = this.identities.get(key);
    if (id === undefined) return undefined;
    const iso = (ms: number): string => new Date(ms).toISOString();
    let operations: OperationEntry[] = [...id.operations]
      .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1))
      .map(([operation, t]) => ({ operation, count: t.count, firstSeen: iso(t.firstSeenMs), lastSeen: iso(t.lastSeenMs) }));
    const build = (ops: readonly OperationEntry[], omitted: number): BaselineStatus => ({
      learningStarted: id.learningStartedMs === 0 ? '' : iso(id.learningStartedMs),
      learningUntil: id.learningStartedMs === 0 ? '' : iso(id.learningStartedMs + id.learnForMs),
      operationCount: new Set([...id.operations.keys(), ...id.accepted]).size,
      operations: ops,
      rate: { windowSeconds: id.windowMs / 1000, p50: percentile(id.samples, 0.5), p95: this.rateP95(id), max: Math.max(0, ...id.samples), samples: id.samples },
      anomalies: id.anomalies,
      recentAnomalies: id.recent,
      quarantined: [...id.quarantined].map(([pod, q]) => ({ pod, since: iso(q.sinceMs), reason: q.reason })),
      quarantinedCount: id.quarantined.size,
      released: [...id.released].map(([pod, at]) => ({ pod, at: iso(at) })),
      dropped: { operations: id.dropped.operations + omitted, anomalies: id.dropped.anomalies, summaries: id.dropped.summaries },
    });
    let status = build(operations, 0);
    // The least used operations go first when the object would be too large for the API server.
    while (JSON.stringify(status).length > this.limits.maxStatusBytes && operations.length > 0) {
      operations = operations.slice(0, Math.floor(operations.length * 0.9));
      status = build(operations, id.operations.size - operations.length);
    }
    return status;
  }

  identityOf(key: string): { readonly namespace: string; readonly serviceAccount: string } | undefined {
    const id = this.identities.get(key);
    return id === undefined ? undefined : { namespace: id.namespace, serviceAccount: id.serviceAccount };
  }

  private rateP95(id: Identity): number {
    return percentile(id.samples, 0.95);
  }

  private bump(id: Identity): void {
    id.revision++;
    id.baseline = undefined;
    id.dirty = true;
  }

  private identity(namespace: string, serviceAccount: string): Identity {
    const key = `${namespace}/${serviceAccount}`;
    let id = this.identities.get(key);
    if (id === undefined) {
      id = {
        namespace, serviceAccount, learningStartedMs: 0, learnForMs: 0, operations: new Map(), accepted: new Set(), samples: [], windowMs: 0,
        anomalies: 0, recent: [], quarantined: new Map(), released: new Map(), dropped: { operations: 0, anomalies: 0, summaries: 0 },
        revision: 0, dirty: false, exists: false, baseline: undefined, pending: [], storedVersion: '', latest: undefined, writing: false,
      };
      this.identities.set(key, id);
    }
    return id;
  }

  /** The stored status at `version`, then the summaries merged here and not written yet (no Events: they were raised once). */
  private rebuild(id: Identity, status: Partial<BaselineStatus>, version: string): void {
    id.learningStartedMs = 0;
    id.learnForMs = 0;
    id.operations.clear();
    id.samples = [];
    id.windowMs = 0;
    id.anomalies = 0;
    id.recent = [];
    id.quarantined.clear();
    id.released.clear();
    this.takeUp(id, status);
    for (const p of id.pending) this.apply(id, p.pod, p.summary, p.learnForMs, p.nowMs);
    id.storedVersion = version;
    this.bump(id);
    id.dirty = id.pending.length > 0;
  }

  /** A restarted controller: the baseline as the previous leader wrote it (read defensively: anyone with RBAC may have edited it). */
  private takeUp(id: Identity, s: Partial<BaselineStatus>): void {
    const started = Date.parse(str(s.learningStarted));
    const until = Date.parse(str(s.learningUntil));
    if (!Number.isNaN(started) && !Number.isNaN(until)) {
      id.learningStartedMs = started;
      id.learnForMs = Math.max(0, until - started);
    }
    for (const o of records(s.operations)) {
      const operation = str(o['operation']);
      if (operation === '' || id.operations.size >= this.limits.maxOperations) continue;
      id.operations.set(operation, { count: num(o['count']), firstSeenMs: Date.parse(str(o['firstSeen'])) || 0, lastSeenMs: Date.parse(str(o['lastSeen'])) || 0 });
    }
    const rate: unknown = s.rate;
    const rateFields = isRecord(rate) ? rate : {};
    const samples: unknown = rateFields['samples'];
    if (Array.isArray(samples)) id.samples = (samples as unknown[]).map(num).slice(-this.limits.maxRateSamples);
    id.windowMs = num(rateFields['windowSeconds']) * 1000;
    id.anomalies = num(s.anomalies);
    id.recent = records(s.recentAnomalies).slice(-this.limits.maxRecentAnomalies).map((a) => ({
      kind: str(a['kind']), operation: str(a['operation']), pod: str(a['pod']), at: str(a['at']), action: str(a['action']), decisionId: str(a['decisionId']),
    }));
    for (const q of records(s.quarantined)) {
      const since = Date.parse(str(q['since']));
      if (str(q['pod']) !== '' && !Number.isNaN(since)) id.quarantined.set(str(q['pod']), { sinceMs: since, reason: str(q['reason']) });
    }
    for (const r of records(s.released)) {
      const at = Date.parse(str(r['at']));
      if (str(r['pod']) !== '' && !Number.isNaN(at)) id.released.set(str(r['pod']), at);
    }
    id.dirty = false;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function records(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? (v as unknown[]).filter(isRecord) : [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
