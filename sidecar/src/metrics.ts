// Prometheus metrics of the sidecar, rendered in the text exposition format.
// Hand-rolled on purpose: a decision increments two numbers in a Map, where an
// OpenTelemetry metrics instrument with attributes costs about a microsecond.
import { conditionBudgetExceeded, type BudgetExceededCounter } from '../../policy/src/cel-budget.js';

const LATENCY_BUCKETS_SECONDS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];
/** Distinct (decision, policy, rule) series kept; beyond it, series fold into rule="other". */
const MAX_DECISION_SERIES = 2048;

interface DecisionSeries { readonly decision: string; readonly policy: string; readonly rule: string; count: number }

export class SidecarMetrics {
  /** policy -> rule -> [allow series, deny series]: looked up without building a key string per decision. */
  private readonly decisions = new Map<string, Map<string, [DecisionSeries | undefined, DecisionSeries | undefined]>>();
  private series = 0;
  private readonly buckets = new Array<number>(LATENCY_BUCKETS_SECONDS.length).fill(0);
  private latencyCount = 0;
  private latencySum = 0;
  reloadErrors = 0;
  malformedRequests = 0;
  /** CEL evaluations cut by their cost budget (counted by the policy core, per policy and rule). */
  conditionBudget: Pick<BudgetExceededCounter, 'entries'> = conditionBudgetExceeded;
  /** Controller mode: the distribution stream's state. */
  controllerState: (() => string) | undefined;

  recordDecision(allowed: boolean, policy: string, rule: string, seconds: number): void {
    this.seriesFor(allowed, policy, rule).count++;
    this.latencyCount++;
    this.latencySum += seconds;
    for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) {
      if (seconds <= (LATENCY_BUCKETS_SECONDS[i] ?? 0)) {
        this.buckets[i] = (this.buckets[i] ?? 0) + 1;
        break;
      }
    }
  }

  private seriesFor(allowed: boolean, policy: string, rule: string): DecisionSeries {
    const slot = allowed ? 0 : 1;
    const known = this.decisions.get(policy)?.get(rule)?.[slot];
    if (known !== undefined) return known;
    const full = this.series >= MAX_DECISION_SERIES;
    const p = full ? 'other' : policy;
    const r = full ? 'other' : rule;
    let rules = this.decisions.get(p);
    if (rules === undefined) {
      rules = new Map();
      this.decisions.set(p, rules);
    }
    let pair = rules.get(r);
    if (pair === undefined) {
      pair = [undefined, undefined];
      rules.set(r, pair);
    }
    let s = pair[slot];
    if (s === undefined) {
      s = { decision: allowed ? 'allow' : 'deny', policy: p, rule: r, count: 0 };
      pair[slot] = s;
      this.series++;
    }
    return s;
  }

  render(extra: { readonly ready: boolean; readonly snapshotVersion: string; readonly spansExported: number; readonly spansDropped: number }): string {
    const lines: string[] = [];
    lines.push('# HELP agentwarden_decisions_total Decisions by outcome, policy and rule.', '# TYPE agentwarden_decisions_total counter');
    for (const rules of this.decisions.values()) {
      for (const pair of rules.values()) {
        for (const s of pair) {
          if (s !== undefined) lines.push(`agentwarden_decisions_total{decision="${s.decision}",policy="${esc(s.policy)}",rule="${esc(s.rule)}"} ${s.count}`);
        }
      }
    }
    lines.push('# HELP agentwarden_check_duration_seconds Time from receiving a CheckRequest to answering it.', '# TYPE agentwarden_check_duration_seconds histogram');
    let cumulative = 0;
    LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
      cumulative += this.buckets[i] ?? 0;
      lines.push(`agentwarden_check_duration_seconds_bucket{le="${le}"} ${cumulative}`);
    });
    lines.push(`agentwarden_check_duration_seconds_bucket{le="+Inf"} ${this.latencyCount}`);
    lines.push(`agentwarden_check_duration_seconds_sum ${this.latencySum}`, `agentwarden_check_duration_seconds_count ${this.latencyCount}`);
    lines.push('# HELP agentwarden_spans_exported_total Audit spans exported.', '# TYPE agentwarden_spans_exported_total counter', `agentwarden_spans_exported_total ${extra.spansExported}`);
    lines.push('# HELP agentwarden_spans_dropped_total Audit spans dropped (queue full or export failed).', '# TYPE agentwarden_spans_dropped_total counter', `agentwarden_spans_dropped_total ${extra.spansDropped}`);
    lines.push('# HELP agentwarden_policy_reload_errors_total Policy reloads that failed; the last good snapshot stayed in force.', '# TYPE agentwarden_policy_reload_errors_total counter', `agentwarden_policy_reload_errors_total ${this.reloadErrors}`);
    lines.push('# HELP agentwarden_malformed_requests_total CheckRequests that could not be decoded (denied).', '# TYPE agentwarden_malformed_requests_total counter', `agentwarden_malformed_requests_total ${this.malformedRequests}`);
    lines.push('# HELP agentwarden_condition_budget_exceeded_total CEL conditions stopped by their cost budget (the condition failed: Allow rules did not match, Deny rules did).', '# TYPE agentwarden_condition_budget_exceeded_total counter');
    for (const s of this.conditionBudget.entries()) lines.push(`agentwarden_condition_budget_exceeded_total{policy="${esc(s.policy)}",rule="${esc(s.rule)}"} ${s.count}`);
    lines.push('# HELP agentwarden_snapshot_info The snapshot in force.', '# TYPE agentwarden_snapshot_info gauge', `agentwarden_snapshot_info{version="${esc(extra.snapshotVersion)}"} 1`);
    if (this.controllerState !== undefined) {
      const state = this.controllerState();
      lines.push('# HELP agentwarden_controller_sync 1 for the state the controller stream is in.', '# TYPE agentwarden_controller_sync gauge');
      for (const s of ['connecting', 'synced', 'disconnected']) lines.push(`agentwarden_controller_sync{state="${s}"} ${s === state ? 1 : 0}`);
    }
    lines.push('# HELP agentwarden_ready 1 once a snapshot is loaded.', '# TYPE agentwarden_ready gauge', `agentwarden_ready ${extra.ready ? 1 : 0}`);
    return `${lines.join('\n')}\n`;
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
