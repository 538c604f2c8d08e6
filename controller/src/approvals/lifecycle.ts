// Time in the life of AgentAccessRequests: one timer armed for the next
// deadline (an approved grant's expiresAt, a pending request's creation +
// --approval-pending-ttl). At a deadline the leader ends the request
// (Approved → Expired, or ReviewRequired for break-glass; Pending → Expired)
// and every replica re-pushes, so snapshots drop the grant (the sidecar
// already stopped honouring it by its own clock). Also the Events of
// transitions seen in the cache (GrantApproved, GrantExpired).
import type { SlimPod } from '../kube/objects.js';
import type { Cache } from '../reconcile/reconciler.js';
import type { JsonObject } from '../inject/json.js';
import type { ApprovalApi } from './api.js';
import { ApprovalMetrics, type GrantEndReason } from './metrics.js';
import { conditionsFor, isBreakGlass, keyOf, specOf, stateOf, statusOf, str, summaryOf, type AccessRequestObject } from './objects.js';
import type { ApprovalOptions } from './options.js';
import { POD_LABEL } from './requests.js';

/** Longest single timer (setTimeout's range is ~24.8 days); re-armed on firing. */
const MAX_TIMER_MS = 3_600_000;
/** Past-due requests not ended here (a failed write, not the leader) are looked at again this much later. */
const RETRY_MS = 5000;

export interface LifecycleDeps {
  readonly api: ApprovalApi;
  readonly requests: Cache<AccessRequestObject>;
  readonly pods: Cache<SlimPod>;
  readonly options: Pick<ApprovalOptions, 'pendingTtlMs'>;
  readonly metrics: ApprovalMetrics;
  readonly mayWrite: () => boolean;
  /** Grants began or ended: recompute and push the snapshots. */
  readonly grantsChanged: () => void;
  readonly event: (pod: SlimPod, reason: 'GrantApproved' | 'GrantExpired', message: string) => void;
  readonly log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
  readonly nowMs?: () => number;
}

/** When `r` ends by time, and how; undefined when it does not (decided, or ended). */
export function deadlineOf(r: AccessRequestObject, pendingTtlMs: number): { readonly atMs: number; readonly reason: GrantEndReason } | undefined {
  const state = stateOf(r);
  if (state === 'Approved') {
    const at = Date.parse(str(statusOf(r)['expiresAt']));
    return Number.isFinite(at) ? { atMs: at, reason: 'expired' } : undefined;
  }
  if (state === 'Pending') {
    const created = Date.parse(typeof r.metadata?.creationTimestamp === 'string' ? r.metadata.creationTimestamp : String(r.metadata?.creationTimestamp ?? ''));
    return Number.isFinite(created) ? { atMs: created + pendingTtlMs, reason: 'pending_ttl' } : undefined;
  }
  return undefined;
}

function versionOf(r: AccessRequestObject): string {
  return `${r.metadata?.uid ?? ''}@${r.metadata?.resourceVersion ?? ''}`;
}

export class GrantLifecycle {
  private timer: NodeJS.Timeout | undefined;
  private readonly states = new Map<string, string>();
  private primed = false;
  private stopped = false;
  /** uid@resourceVersion being ended now (or summarised). */
  private readonly ending = new Set<string>();
  /** uid@resourceVersion ended by this replica (the cache shows the new state soon). */
  private readonly ended = new Set<string>();
  /** uid@resourceVersion whose deadline was announced to the snapshots. */
  private readonly announced = new Set<string>();

  constructor(private readonly d: LifecycleDeps) {}

  private now(): number {
    return (this.d.nowMs ?? Date.now)();
  }

  /** The cache changed: Events for new transitions, and the timer re-armed. */
  changed(): void {
    if (this.stopped) return;
    const seen = new Set<string>();
    let active = 0;
    for (const r of this.d.requests.list()) {
      const uid = r.metadata?.uid ?? keyOf(r);
      seen.add(uid);
      const state = stateOf(r);
      if (state === 'Approved') active++;
      const before = this.states.get(uid);
      this.states.set(uid, state);
      // The controller's own requests get their summary when it creates them (requests.ts).
      if (state === 'Pending' && str(statusOf(r)['summary']) === '' && r.refused === undefined && r.metadata?.labels?.[POD_LABEL] === undefined) this.summarise(r);
      // Transitions seen after the first list only: a restart does not repeat old Events.
      if (!this.primed || before === state) continue;
      if (state === 'Approved') {
        this.podEvent(r, 'GrantApproved', `${keyOf(r)} approved by ${str(statusOf(r)['approvedBy'])} until ${str(statusOf(r)['expiresAt'])}: ${str(statusOf(r)['summary'])}`);
      }
      if (before !== undefined) this.d.grantsChanged();
    }
    for (const uid of [...this.states.keys()]) if (!seen.has(uid)) this.states.delete(uid);
    const versions = new Set(this.d.requests.list().map(versionOf));
    for (const set of [this.ended, this.announced]) for (const v of [...set]) if (!versions.has(v)) set.delete(v);
    this.d.metrics.activeGrants = active;
    if (this.d.requests.stats().synced) this.primed = true;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * Arms the timer for the next future deadline. Past-due requests this replica has not
   * ended (it is not the leader, or a write failed) are looked at again every RETRY_MS,
   * never in a loop: a replica that becomes the leader ends them then.
   */
  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const r of this.d.requests.list()) {
      const d = deadlineOf(r, this.d.options.pendingTtlMs);
      if (d === undefined) continue;
      next = Math.min(next, d.atMs > now ? d.atMs : this.ended.has(versionOf(r)) ? Number.POSITIVE_INFINITY : now + RETRY_MS);
    }
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => { void this.fire(); }, Math.max(0, Math.min(MAX_TIMER_MS, next - now)));
    this.timer.unref();
  }

  /** Ends what is due (the leader); re-pushes when something fell due; re-arms. */
  async fire(): Promise<void> {
    const now = this.now();
    const due = this.d.requests.list().flatMap((r) => {
      const d = deadlineOf(r, this.d.options.pendingTtlMs);
      return d !== undefined && d.atMs <= now && !this.ended.has(versionOf(r)) ? [{ r, reason: d.reason }] : [];
    });
    // Snapshots drop a grant at its deadline, whoever writes the status.
    if (due.some(({ r }) => !this.announced.has(versionOf(r)))) this.d.grantsChanged();
    for (const { r } of due) this.announced.add(versionOf(r));
    if (this.d.mayWrite()) {
      for (const { r, reason } of due) if (await this.end(r, reason, now)) this.ended.add(versionOf(r));
    }
    this.arm();
  }

  private async end(r: AccessRequestObject, reason: GrantEndReason, nowMs: number): Promise<boolean> {
    const version = versionOf(r);
    if (this.ending.has(version)) return false;
    this.ending.add(version);
    const breakGlass = isBreakGlass(specOf(r));
    const to = reason === 'pending_ttl' ? 'Expired' : breakGlass ? 'ReviewRequired' : 'Expired';
    const nowIso = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const status = statusOf(r);
    const message = reason === 'pending_ttl' ? 'request expired: nobody approved or denied it in time' : breakGlass ? 'the break-glass grant ended; a reviewer records notes with agentwarden review' : 'the grant expired';
    const next: JsonObject = { ...status, state: to, conditions: conditionsFor(status['conditions'], to, nowIso, message) };
    try {
      await this.d.api.writeStatus(r.metadata?.namespace ?? '', r.metadata?.name ?? '', r.metadata?.resourceVersion ?? '', next);
      ApprovalMetrics.inc(this.d.metrics.grantsEnded, reason);
      this.d.log('info', 'AgentAccessRequest ended', { request: keyOf(r), state: to, reason });
      if (reason !== 'pending_ttl') this.podEvent(r, 'GrantExpired', `${keyOf(r)} ${to === 'ReviewRequired' ? 'ended; review required' : 'expired'}: ${str(status['summary'])}`);
      return true;
    } catch (e: unknown) {
      // A human may have decided meanwhile (the resourceVersion test fails): the next change re-arms.
      this.d.log('warn', 'cannot end an AgentAccessRequest; retrying', { request: keyOf(r), error: e instanceof Error ? e.message : String(e) });
      return false;
    } finally {
      this.ending.delete(version);
    }
  }

  /** status.summary of a request created without it (by a person: `agentwarden grant`, kubectl). */
  private summarise(r: AccessRequestObject): void {
    const version = versionOf(r);
    if (!this.d.mayWrite() || this.ending.has(version)) return;
    this.ending.add(version);
    const status = { ...statusOf(r), state: 'Pending', summary: summaryOf(specOf(r)) };
    this.d.api.writeStatus(r.metadata?.namespace ?? '', r.metadata?.name ?? '', r.metadata?.resourceVersion ?? '', status).catch((e: unknown) => {
      this.d.log('warn', 'cannot write the summary of an AgentAccessRequest', { request: keyOf(r), error: e instanceof Error ? e.message : String(e) });
    }).finally(() => { this.ending.delete(version); });
  }

  private podEvent(r: AccessRequestObject, reason: 'GrantApproved' | 'GrantExpired', message: string): void {
    const podName = specOf(r)['pod'];
    if (typeof podName !== 'string') return;
    const pod = this.d.pods.get(r.metadata?.namespace ?? '', podName);
    if (pod !== undefined) this.d.event(pod, reason, message);
  }
}
