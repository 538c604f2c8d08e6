// The other replicas' reports (replicas/report.ts), from an informer on the
// report Leases: which pods each live replica serves and whether they are
// synced. A report whose renewTime + leaseDurationSeconds has passed is
// ignored (its replica is lost; its pods count as not synced until they
// reconnect to a live one), and onChange fires when one expires so that
// status is written again. Every replica watches them (/debug/syncz shows
// every replica's pods); the leader writes status from them.
import type { V1Lease } from '@kubernetes/client-node';
import type { PodSyncState } from '../observe/sync-metrics.js';
import { decodeReport, REPORT_ANNOTATION, type ReplicaReport } from './report.js';

/** One live replica's report as the leader reads it. */
export interface LiveReport {
  readonly identity: string;
  readonly renewedAtMs: number;
  readonly expiresAtMs: number;
  readonly report: ReplicaReport;
}

export interface ReportSource {
  list(): readonly V1Lease[];
}

export interface ReplicaReportsOptions {
  /** This replica (its own report is not read back: its streams are read directly). */
  readonly identity: string;
  readonly leases: ReportSource;
  /** A report expired: status is due. */
  readonly onExpired: () => void;
  readonly log: (level: 'warn', msg: string, fields?: Record<string, unknown>) => void;
  readonly now?: () => number;
}

export class ReplicaReports {
  /** Decoded reports by Lease uid and resourceVersion (decoded once per write). */
  private decoded = new Map<string, { readonly rv: string; readonly report: ReplicaReport | undefined }>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = Number.POSITIVE_INFINITY;
  /** Reports that could not be decoded (metrics). */
  invalid = 0;

  constructor(private readonly options: ReplicaReportsOptions) {}

  /** The other replicas' live reports now; arms a timer for the next expiry. */
  live(): LiveReport[] {
    const now = (this.options.now ?? Date.now)();
    const out: LiveReport[] = [];
    const seen = new Set<string>();
    let nextExpiry = Number.POSITIVE_INFINITY;
    for (const lease of this.options.leases.list()) {
      const identity = lease.spec?.holderIdentity ?? '';
      if (identity === '' || identity === this.options.identity) continue;
      const renewedAtMs = lease.spec?.renewTime === undefined ? 0 : new Date(lease.spec.renewTime).getTime();
      const expiresAtMs = renewedAtMs + (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
      if (expiresAtMs <= now) continue;
      const report = this.decode(lease);
      const uid = lease.metadata?.uid ?? '';
      seen.add(uid);
      if (report === undefined) continue;
      nextExpiry = Math.min(nextExpiry, expiresAtMs);
      out.push({ identity, renewedAtMs, expiresAtMs, report });
    }
    for (const uid of [...this.decoded.keys()]) if (!seen.has(uid)) this.decoded.delete(uid);
    this.armExpiry(nextExpiry, now);
    return out.sort((a, b) => (a.identity < b.identity ? -1 : 1));
  }

  stop(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  private decode(lease: V1Lease): ReplicaReport | undefined {
    const uid = lease.metadata?.uid ?? '';
    const rv = lease.metadata?.resourceVersion ?? '';
    const cached = this.decoded.get(uid);
    if (cached?.rv === rv) return cached.report;
    const value = lease.metadata?.annotations?.[REPORT_ANNOTATION];
    let report: ReplicaReport | undefined;
    if (value !== undefined) {
      try {
        report = decodeReport(value);
      } catch (e: unknown) {
        this.invalid++;
        this.options.log('warn', 'ignoring a replica report', { lease: `${lease.metadata?.namespace ?? ''}/${lease.metadata?.name ?? ''}`, error: e instanceof Error ? e.message : String(e) });
      }
    }
    this.decoded.set(uid, { rv, report });
    return report;
  }

  /** onExpired when the earliest live report expires (a renewal before then moves it on the next read). */
  private armExpiry(at: number, now: number): void {
    if (at === this.expiryAt && this.expiryTimer !== undefined) return;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryAt = at;
    if (!Number.isFinite(at)) return;
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      this.expiryAt = Number.POSITIVE_INFINITY;
      this.options.onExpired();
    }, Math.max(0, at - now) + 50);
    this.expiryTimer.unref();
  }
}

/**
 * Whether a pod is synced for a policy on some live replica: the replica holding
 * its stream says SYNCED and compiled the policy at the same generation as the
 * caller (a replica behind or ahead of the leader does not count until both agree).
 */
export function remoteSynced(reports: readonly LiveReport[], podKey: string, policyKey: string, generation: number): boolean {
  return reports.some((r) => r.report.pods.get(podKey) === 'synced' && r.report.generations.get(policyKey) === generation);
}

/** Every live replica's pods with the replica serving each (for /debug/syncz). */
export function remotePods(reports: readonly LiveReport[]): { readonly podKey: string; readonly state: PodSyncState; readonly replica: string; readonly renewedAtMs: number }[] {
  return reports.flatMap((r) => [...r.report.pods].map(([podKey, state]) => ({ podKey, state, replica: r.identity, renewedAtMs: r.renewedAtMs })));
}
