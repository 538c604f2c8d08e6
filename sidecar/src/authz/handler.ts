// One ext_authz Check: bytes in, CheckResponse bytes out. Decodes defensively,
// decides with the evaluator against the snapshot in force, records the audit
// span and metrics. Never throws: anything unexpected becomes a deny with a
// reason, so a `failure_mode_allow` Envoy never turns an error into an allow.
import { decodeCheckRequest, evaluate, headerMapValue, RULE_INVALID_REQUEST, RULE_NO_POLICY_LOADED, type AnomalyFacts, type CheckRequestFields, type Decision } from '../../../policy/src/index.js';
import type { PolicyState } from '../state.js';
import type { SidecarMetrics } from '../metrics.js';
import type { AuditTracer, DecisionTrace } from '../telemetry/tracing.js';
import { DecisionAttributes } from '../telemetry/attributes.js';
import { encodeCheckResponse } from './response-wire.js';
import type { Logger } from '../log.js';

export interface CheckHandlerDeps {
  readonly state: PolicyState;
  readonly metrics: SidecarMetrics;
  readonly tracer: AuditTracer;
  readonly log: Logger;
  readonly maxRequestBytes: number;
  readonly pod: { readonly namespace: string; readonly name: string };
  readonly clock: () => number;
  /**
   * Told of each decision that asks for approval, and of each a grant allowed
   * (controller mode: distribution/grant-outbox.ts). Returns at once; what it
   * sends goes after the answer.
   */
  readonly grantEvents?: GrantEvents;
  /** Told of each anomaly (controller mode: anomaly/summaries.ts, for the next summary). */
  readonly anomalyEvents?: AnomalyEvents;
}

export interface AnomalyEvents {
  anomaly(a: AnomalyFacts, decisionId: string): void;
}

export interface GrantEvents {
  approvalNeeded(d: Decision, decisionId: string): void;
  grantUsed(): void;
}

/** CheckRequest bytes in, CheckResponse bytes out. */
export type CheckHandler = (bytes: Uint8Array) => Uint8Array;

export function createCheckHandler(deps: CheckHandlerDeps): CheckHandler {
  return (bytes) => {
    const started = performance.now();
    const startMs = deps.clock();
    let check: CheckRequestFields | undefined;
    let decision: Decision;
    // The span's ids are chosen first: a taint this decision adds keeps them as its origin.
    let trace: DecisionTrace | undefined;
    const loaded = deps.state.snapshot;
    try {
      if (bytes.length > deps.maxRequestBytes) {
        decision = refuse(RULE_INVALID_REQUEST, `CheckRequest of ${bytes.length} bytes exceeds the limit of ${deps.maxRequestBytes}`);
      } else {
        // Only the fields the decision reads, as protobuf-es would decode them (check-request-wire.ts).
        check = decodeCheckRequest(bytes);
        trace = beginTrace(deps, check, startMs);
        decision = loaded === undefined
          ? refuse(RULE_NO_POLICY_LOADED, 'no policy snapshot loaded yet: every request is denied until one is')
          : evaluate(loaded, check, { nowMs: startMs, rateLimiter: deps.state.rateLimiter, grants: deps.state.grants, sessions: deps.state.sessions, anomalies: deps.state.anomalies, origin: trace });
      }
    } catch (e: unknown) {
      deps.metrics.malformedRequests++;
      decision = refuse(RULE_INVALID_REQUEST, `malformed CheckRequest: ${e instanceof Error ? e.message.slice(0, 200) : 'undecodable'}`);
    }
    let decisionId = '';
    try {
      trace ??= deps.tracer.begin(undefined, undefined, startMs);
      decisionId = deps.tracer.end(trace, new DecisionAttributes(decision, loaded?.version ?? '', deps.pod), decision.session?.links);
    } catch (e: unknown) {
      deps.log.log('warn', 'audit span not recorded', { error: e instanceof Error ? e.message : String(e) });
    }
    deps.metrics.recordDecision(decision.allowed, decision.policy, decision.rule, (performance.now() - started) / 1000);
    if (decision.anomaly !== undefined && decision.anomaly.repeat !== true) {
      deps.metrics.recordAnomaly(decision.anomaly);
      deps.anomalyEvents?.anomaly(decision.anomaly, decisionId);
    }
    if (deps.grantEvents !== undefined && (decision.approval !== undefined || decision.grant !== undefined)) noteGrantEvent(deps.grantEvents, decision, decisionId, deps.log);
    return encodeCheckResponse(decision, decisionId, deps.pod.namespace);
  };
}

/** The decision span's ids: in the trace of the request's traceparent (a child of the caller's span) when it has a valid one. */
function beginTrace(deps: CheckHandlerDeps, check: CheckRequestFields, startMs: number): DecisionTrace {
  const headers = check.attributes?.request?.http?.headers;
  const traceparent = headers === undefined ? undefined : (headers['traceparent'] ?? headerFromMap(check, 'traceparent'));
  const tracestate = headers === undefined ? undefined : (headers['tracestate'] ?? headerFromMap(check, 'tracestate'));
  return deps.tracer.begin(traceparent, tracestate, startMs);
}

function noteGrantEvent(events: GrantEvents, decision: Decision, decisionId: string, log: Logger): void {
  try {
    if (decision.approval !== undefined) events.approvalNeeded(decision, decisionId);
    else events.grantUsed();
  } catch (e: unknown) {
    log.log('warn', 'grant event not noted', { error: e instanceof Error ? e.message : String(e) });
  }
}

function refuse(rule: string, reason: string): Decision {
  return { allowed: false, mode: 'Enforce', policy: '', rule, reason, auditDecision: null, headers: [], request: undefined };
}

function headerFromMap(check: CheckRequestFields | undefined, name: string): string | undefined {
  for (const h of check?.attributes?.request?.http?.headerMap?.headers ?? []) {
    if (h.key.toLowerCase() === name) return headerMapValue(h);
  }
  return undefined;
}
