// Prometheus metrics of the sidecar, rendered in the text exposition format
// (common/prometheus.ts). Hand-rolled on purpose: a decision increments two
// numbers in a Map, where an OpenTelemetry metrics instrument with attributes
// costs about a microsecond.
import { histogramSamples, renderExposition, single, type MetricFamily, type Sample } from '../../common/prometheus.js';
import { AUTHZ_LIMITS, GRPC_STATUS_NAMES, type AuthzServerStats } from './authz/server-api.js';
import { conditionBudgetExceeded, type BudgetExceededCounter } from '../../policy/src/cel-budget.js';
import type { GrantOutboxCounters } from './distribution/grant-outbox.js';
import type { SessionStats } from '../../policy/src/session-store.js';
import type { AnomalyStats } from '../../policy/src/anomaly.js';
import type { AnomalyFacts } from '../../policy/src/decision.js';
import { runtimeFamilies } from './telemetry/runtime-metrics.js';

const LATENCY_BUCKETS_SECONDS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];
/** Distinct (decision, policy, rule) series kept; beyond it, series fold into rule="other". */
const MAX_DECISION_SERIES = 2048;

/** The gRPC errors the Check server answers with: always exposed, so that an alert can name them; others once they occur. */
const GRPC_ERROR_CODES: readonly number[] = [4, 8, 12, 13];
const HTTP_ERROR_STATUSES: readonly string[] = ['405', '415', '431'];

export interface MetricsExtra {
  readonly ready: boolean;
  readonly snapshotVersion: string;
  readonly spansExported: number;
  readonly spansDropped: number;
  /** The Check server's counters; absent before it listens. */
  readonly authz?: AuthzServerStats;
  /** The session store's counts (PolicyState.sessions). */
  readonly sessions?: SessionStats;
}

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
  /** Controller mode: what the sidecar told the controller about approvals and grant uses. */
  grantOutbox: GrantOutboxCounters | undefined;

  /** kind -> action -> count (agentwarden_anomalies_total): at most 2 × 3 series. */
  private readonly anomalies = new Map<string, number>();
  /** The pod's anomaly state (PolicyState.anomalies). */
  anomalyStats: (() => AnomalyStats) | undefined;

  recordAnomaly(a: AnomalyFacts): void {
    const key = `${a.kind} ${a.action}`;
    this.anomalies.set(key, (this.anomalies.get(key) ?? 0) + 1);
  }

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

  render(extra: MetricsExtra): string {
    const decisions: Sample[] = [];
    for (const rules of this.decisions.values()) {
      for (const pair of rules.values()) {
        for (const d of pair) if (d !== undefined) decisions.push({ labels: { decision: d.decision, policy: d.policy, rule: d.rule }, value: d.count });
      }
    }
    const families: MetricFamily[] = [
      { name: 'agentwarden_decisions_total', type: 'counter', help: 'Decisions by outcome, policy and rule.', samples: decisions },
      {
        name: 'agentwarden_check_duration_seconds', type: 'histogram', help: 'Time from receiving a CheckRequest to answering it.',
        samples: histogramSamples(LATENCY_BUCKETS_SECONDS, this.buckets, this.latencySum, this.latencyCount),
      },
      single('agentwarden_spans_exported_total', 'counter', 'Audit spans exported.', extra.spansExported),
      single('agentwarden_spans_dropped_total', 'counter', 'Audit spans dropped (queue full or export failed).', extra.spansDropped),
      single('agentwarden_policy_reload_errors_total', 'counter', 'Policy loads that failed or were refused; the last good snapshot stayed in force.', this.reloadErrors),
      single('agentwarden_malformed_requests_total', 'counter', 'CheckRequests that could not be decoded (denied).', this.malformedRequests),
      {
        name: 'agentwarden_condition_budget_exceeded_total', type: 'counter',
        help: 'CEL conditions stopped by their cost budget (the condition failed: Allow rules did not match, Deny rules did).',
        samples: [...this.conditionBudget.entries()].map((b) => ({ labels: { policy: b.policy, rule: b.rule }, value: b.count })),
      },
      { name: 'agentwarden_snapshot_info', type: 'gauge', help: 'The snapshot in force.', samples: [{ labels: { version: extra.snapshotVersion }, value: 1 }] },
      ...(extra.authz === undefined ? [] : authzFamilies(extra.authz)),
      ...(extra.sessions === undefined ? [] : [
        single('agentwarden_sessions', 'gauge', 'Sessions with taints kept by this sidecar.', extra.sessions.sessions),
        single('agentwarden_session_taints', 'gauge', 'Taints kept, across sessions.', extra.sessions.taints),
        single('agentwarden_sessions_evicted_total', 'counter', 'Sessions dropped, least recently used first, because --max-sessions was reached.', extra.sessions.evicted),
        single('agentwarden_session_taints_dropped_total', 'counter', 'Taints not added because their session held --max-taints-per-session already.', extra.sessions.taintsDropped),
      ]),
    ];
    if (this.controllerState !== undefined) {
      const state = this.controllerState();
      families.push({
        name: 'agentwarden_controller_sync', type: 'gauge', help: '1 for the state the controller stream is in.',
        samples: ['connecting', 'synced', 'disconnected'].map((s) => ({ labels: { state: s }, value: s === state ? 1 : 0 })),
      });
    }
    if (this.grantOutbox !== undefined) families.push(...grantFamilies(this.grantOutbox));
    families.push(...anomalyFamilies(this.anomalies, this.anomalyStats?.()));
    families.push(single('agentwarden_ready', 'gauge', '1 once a snapshot is loaded.', extra.ready ? 1 : 0));
    families.push(...runtimeFamilies());
    return renderExposition(families);
  }
}

/** Behaviour baselines (issue 17): anomalies by kind and action, what was learned and dropped, the quarantine. */
function anomalyFamilies(counts: ReadonlyMap<string, number>, stats: AnomalyStats | undefined): MetricFamily[] {
  const samples: Sample[] = [];
  for (const kind of ['novel-operation', 'rate-spike']) {
    for (const action of ['Alert', 'Deny', 'RequireApproval']) {
      const value = counts.get(`${kind} ${action}`);
      if (value !== undefined || action === 'Alert') samples.push({ labels: { kind, action }, value: value ?? 0 });
    }
  }
  const out: MetricFamily[] = [{ name: 'agentwarden_anomalies_total', type: 'counter', help: 'Anomalies found on the decision path (spec.anomaly), by kind and the action taken.', samples }];
  if (stats !== undefined) {
    out.push(
      single('agentwarden_baseline_operations_learned', 'gauge', 'Distinct operations this sidecar learned while its baseline was learning.', stats.learned),
      single('agentwarden_baseline_operations_dropped_total', 'counter', 'Operations not learned (--max-baseline-operations reached) or not reported (a summary was full).', stats.learnedDropped + stats.summaryOperationsDropped),
      single('agentwarden_quarantined', 'gauge', '1 while the pod is quarantined (every request denied with rule quarantined).', stats.quarantined ? 1 : 0),
    );
  }
  return out;
}

/** ApprovalNeeded and GrantUsed on the distribution stream (distribution/grant-outbox.ts). */
function grantFamilies(c: GrantOutboxCounters): MetricFamily[] {
  return [
    single('agentwarden_approval_needed_sent_total', 'counter', 'ApprovalNeeded messages sent to the controller (one per request name, again after 60 s while still denied).', c.approvalNeededSent),
    {
      name: 'agentwarden_approval_needed_dropped_total', type: 'counter', help: 'ApprovalNeeded messages not sent, by reason: the stream was down, or the per-minute limit was reached.',
      samples: [{ labels: { reason: 'stream-down' }, value: c.approvalNeededDroppedStreamDown }, { labels: { reason: 'rate-limit' }, value: c.approvalNeededDroppedRateLimit }],
    },
    single('agentwarden_grant_uses_total', 'counter', 'Requests allowed by approval grants that count their uses.', c.grantUses),
    single('agentwarden_grant_used_sent_total', 'counter', 'GrantUsed messages sent to the controller.', c.grantUsedSent),
    single('agentwarden_grant_used_dropped_total', 'counter', 'GrantUsed counts dropped because too many grants waited for the stream.', c.grantUsedDropped),
  ];
}

/** The Check server's counters: what it refused, by limit and by status, and the buffer it holds. */
function authzFamilies(stats: AuthzServerStats): MetricFamily[] {
  return [
    single('agentwarden_check_calls_total', 'counter', 'Check calls that reached the decision (the others are counted below).', stats.checks),
    single('agentwarden_check_compressed_calls_total', 'counter', 'Of those, calls whose message came compressed.', stats.compressed),
    {
      name: 'agentwarden_check_limit_refusals_total', type: 'counter', help: 'Check calls, streams or requests refused because a limit of the Check server was reached, by limit.',
      samples: AUTHZ_LIMITS.map((limit) => ({ labels: { limit }, value: stats.limitsHit[limit] })),
    },
    {
      name: 'agentwarden_check_grpc_errors_total', type: 'counter', help: 'Check calls answered with a gRPC error status instead of a decision, by code.',
      samples: stats.grpcErrors.flatMap((value, code) => (GRPC_ERROR_CODES.includes(code) || value > 0 ? [{ labels: { code: GRPC_STATUS_NAMES[code] ?? String(code) }, value }] : [])),
    },
    {
      name: 'agentwarden_check_http_errors_total', type: 'counter', help: 'Requests to the Check server refused at the HTTP level, by status.',
      samples: HTTP_ERROR_STATUSES.map((status) => ({ labels: { status }, value: stats.httpErrors[status] ?? 0 })),
    },
    single('agentwarden_check_connection_errors_total', 'counter', 'HTTP/2 connections to the Check server ended with an error (GOAWAY).', stats.connectionErrors),
    single('agentwarden_check_buffered_bytes', 'gauge', 'Bytes of request messages held while they arrive or inflate, across connections.', stats.bufferedBytes),
    single('agentwarden_check_buffer_limit_bytes', 'gauge', 'The most those may be; a call that would pass it is refused (limit="buffer").', stats.bufferLimitBytes),
  ];
}

