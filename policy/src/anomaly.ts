// Per-pod anomaly state (DESIGN.md "Behaviour: baselines and anomalies"): pure
// state, like SessionStore, that the sidecar keeps for its lifetime (across
// snapshots). It learns the operations its agent uses while the identity's
// baseline is learning, counts allowed requests per rate window, finds novel
// operations and rate spikes after learning, quarantines the pod after N
// anomalies within W, and collects what the periodic summary to the controller
// carries. Time is passed in. Bounded everywhere; what is dropped is counted.
import type { LoadedAnomaly } from './anomaly-load.js';
import type { AnomalyActionName } from './model.js';

export type AnomalyKind = 'novel-operation' | 'rate-spike';

/** What one decision's operation was found to be. */
export interface AnomalyFinding {
  readonly kind: AnomalyKind;
  readonly operation: string;
  /** What spec.anomaly says to do (an Audit policy's: Alert). */
  readonly action: Exclude<AnomalyActionName, 'Off'>;
  /** This request quarantined the pod. */
  readonly quarantined: boolean;
  /** A rate spike already found in this window (Deny denies it again; nothing more is recorded). */
  readonly repeat: boolean;
}

export interface AnomalyDetectorOptions {
  /** Operations learned locally; beyond it, new ones are not learned (counted). Default DEFAULT_MAX_OPERATIONS. */
  readonly maxOperations?: number;
  /** Distinct operations one summary reports; beyond it, counted as dropped. Default DEFAULT_MAX_SUMMARY_OPERATIONS. */
  readonly maxSummaryOperations?: number;
  /** Closed rate windows one summary reports, and learning windows kept for the local percentile. */
  readonly maxWindows?: number;
  /** Collect what summaries carry (controller mode); false in standalone mode, where nothing drains them. Default true. */
  readonly summaries?: boolean;
}

export const DEFAULT_MAX_OPERATIONS = 4096;
export const DEFAULT_MAX_SUMMARY_OPERATIONS = 512;
export const DEFAULT_MAX_WINDOWS = 256;

export interface OperationTally {
  count: number;
  readonly firstSeenMs: number;
  lastSeenMs: number;
}

/** What the sidecar sends the controller (distribution.proto OperationSummary), drained at once. */
export interface SummaryDraft {
  readonly fromMs: number;
  readonly toMs: number;
  readonly operations: ReadonlyMap<string, OperationTally>;
  readonly operationsDropped: number;
  readonly windowCounts: readonly number[];
  readonly windowMs: number;
  readonly learningStartedMs: number;
  readonly quarantine: { readonly sinceMs: number; readonly reason: string } | undefined;
}

export interface AnomalyStats {
  readonly learned: number;
  readonly learnedDropped: number;
  readonly summaryOperationsDropped: number;
  readonly quarantined: boolean;
}

export class AnomalyDetector {
  private readonly maxOperations: number;
  private readonly maxSummaryOperations: number;
  private readonly maxWindows: number;
  private readonly summaries: boolean;
  private localStartMs: number | undefined;
  private readonly learned = new Set<string>();
  private learnedDropped = 0;
  private pending = new Map<string, OperationTally>();
  private pendingDropped = 0;
  private summaryDroppedTotal = 0;
  private fromMs: number | undefined;
  private closedWindows: number[] = [];
  private readonly learningWindows: number[] = [];
  private windowMs = 0;
  private windowStartMs = 0;
  private windowCount = 0;
  private spikeFlagged = false;
  private recent: number[] = [];
  private quarantine: { sinceMs: number; reason: string } | undefined;
  private releasedAtMs = 0;

  constructor(options: AnomalyDetectorOptions = {}) {
    this.maxOperations = Math.max(1, options.maxOperations ?? DEFAULT_MAX_OPERATIONS);
    this.maxSummaryOperations = Math.max(1, options.maxSummaryOperations ?? DEFAULT_MAX_SUMMARY_OPERATIONS);
    this.maxWindows = Math.max(1, options.maxWindows ?? DEFAULT_MAX_WINDOWS);
    this.summaries = options.summaries ?? true;
  }

  /**
   * A snapshot was installed: a release recorded by the controller that is not
   * older than the pod's quarantine ends it; a quarantine the controller knows
   * of (this pod's, from before a sidecar restart) begins again here.
   */
  sync(a: LoadedAnomaly | undefined): void {
    const q = a?.quarantine;
    if (q === undefined) return;
    if (q.releasedAtMs > this.releasedAtMs) this.releasedAtMs = q.releasedAtMs;
    if (this.quarantine !== undefined && this.releasedAtMs >= this.quarantine.sinceMs) {
      this.quarantine = undefined;
      this.recent = [];
    }
    if (this.quarantine === undefined && q.quarantined && q.sinceMs > this.releasedAtMs) this.quarantine = { sinceMs: q.sinceMs, reason: q.reason };
  }

  /** The pod's quarantine, when it is quarantined. */
  quarantined(): { readonly sinceMs: number; readonly reason: string } | undefined {
    return this.quarantine;
  }

  /**
   * One request the rules allowed, as operation `fp` at `nowMs`: counted for the
   * summary and the rate window, learned while learning, judged after.
   */
  observe(a: LoadedAnomaly, fp: string, nowMs: number): AnomalyFinding | undefined {
    this.tally(fp, nowMs);
    const b = a.baseline;
    this.localStartMs ??= nowMs;
    const until = b !== undefined && b.learningUntilMs > 0 ? b.learningUntilMs : this.localStartMs + a.learnForMs;
    const learning = nowMs < until;
    const overThreshold = this.countWindow(a, nowMs, learning);
    if (learning) {
      if (!this.learned.has(fp)) {
        if (this.learned.size < this.maxOperations) this.learned.add(fp);
        else this.learnedDropped++;
      }
      return undefined;
    }
    if (a.novel !== 'Off' && b?.operations.has(fp) !== true && !this.learned.has(fp)) {
      return this.found(a, 'novel-operation', fp, a.novel, nowMs, true);
    }
    if (overThreshold && a.spike !== 'Off') {
      // An anomaly once per window; with Deny, every request over the threshold is denied.
      const first = !this.spikeFlagged;
      this.spikeFlagged = true;
      if (!first && (a.spike === 'Alert' || a.audit)) return undefined;
      return this.found(a, 'rate-spike', fp, a.spike, nowMs, first);
    }
    return undefined;
  }

  /** What the next summary carries, and a fresh start for the one after. */
  drain(nowMs: number): SummaryDraft {
    const draft: SummaryDraft = {
      fromMs: this.fromMs ?? nowMs, toMs: nowMs,
      operations: this.pending, operationsDropped: this.pendingDropped,
      windowCounts: this.closedWindows, windowMs: this.windowMs,
      learningStartedMs: this.localStartMs ?? 0,
      quarantine: this.quarantine,
    };
    this.pending = new Map();
    this.pendingDropped = 0;
    this.closedWindows = [];
    this.fromMs = undefined;
    return draft;
  }

  stats(): AnomalyStats {
    return { learned: this.learned.size, learnedDropped: this.learnedDropped, summaryOperationsDropped: this.summaryDroppedTotal, quarantined: this.quarantine !== undefined };
  }

  private tally(fp: string, nowMs: number): void {
    if (!this.summaries) return;
    this.fromMs ??= nowMs;
    const t = this.pending.get(fp);
    if (t !== undefined) {
      t.count++;
      t.lastSeenMs = nowMs;
    } else if (this.pending.size < this.maxSummaryOperations) {
      this.pending.set(fp, { count: 1, firstSeenMs: nowMs, lastSeenMs: nowMs });
    } else {
      this.pendingDropped++;
      this.summaryDroppedTotal++;
    }
  }

  /** Counts the request in its rate window; true when the window is over the spike threshold. */
  private countWindow(a: LoadedAnomaly, nowMs: number, learning: boolean): boolean {
    if (a.spikeFactor === 0) return false;
    if (this.windowMs !== a.spikeOverMs || nowMs >= this.windowStartMs + this.windowMs) {
      if (this.windowCount > 0 && this.windowMs === a.spikeOverMs) this.closeWindow(learning);
      this.windowMs = a.spikeOverMs;
      this.windowStartMs = nowMs;
      this.windowCount = 0;
      this.spikeFlagged = false;
    }
    this.windowCount++;
    if (learning) return false;
    return this.windowCount > a.spikeFactor * Math.max(1, this.learnedRate(a));
  }

  private closeWindow(learning: boolean): void {
    if (this.summaries && this.closedWindows.length < this.maxWindows) this.closedWindows.push(this.windowCount);
    if (learning) {
      this.learningWindows.push(this.windowCount);
      if (this.learningWindows.length > this.maxWindows) this.learningWindows.shift();
    }
  }

  /** Allowed requests per window while learning: the baseline's 95th percentile, else this sidecar's own. */
  private learnedRate(a: LoadedAnomaly): number {
    const b = a.baseline;
    if (b !== undefined && b.rateWindowMs === a.spikeOverMs && b.rateP95 > 0) return b.rateP95;
    return percentile95(this.learningWindows);
  }

  private found(a: LoadedAnomaly, kind: AnomalyKind, operation: string, action: Exclude<AnomalyActionName, 'Off'>, nowMs: number, counts: boolean): AnomalyFinding {
    let quarantined = false;
    if (counts && !a.audit && a.quarantineAnomalies > 0 && this.quarantine === undefined) {
      const from = nowMs - a.quarantineWithinMs;
      this.recent = this.recent.filter((t) => t > from);
      this.recent.push(nowMs);
      if (this.recent.length >= a.quarantineAnomalies) {
        this.quarantine = { sinceMs: nowMs, reason: `${this.recent.length} anomalies within ${a.quarantineWithinMs} ms, the last a ${kind}: ${operation}` };
        quarantined = true;
      }
    }
    return { kind, operation, action: a.audit ? 'Alert' : action, quarantined, repeat: !counts };
  }
}

/** The 95th percentile (nearest rank) of `values`; 0 for none. */
export function percentile95(values: readonly number[]): number {
  return percentile(values, 0.95);
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
}
