// One ext_authz Check: bytes in, CheckResponse bytes out. Decodes defensively,
// decides with the evaluator against the snapshot in force, records the audit
// span and metrics. Never throws: anything unexpected becomes a deny with a
// reason, so a `failure_mode_allow` Envoy never turns an error into an allow.
import { decodeCheckRequest, evaluate, headerMapValue, RULE_INVALID_REQUEST, RULE_NO_POLICY_LOADED, type CheckRequestFields, type Decision } from '../../../policy/src/index.js';
import type { PolicyState } from '../state.js';
import type { SidecarMetrics } from '../metrics.js';
import type { AuditTracer } from '../telemetry/tracing.js';
import { decisionAttributes } from '../telemetry/attributes.js';
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
}

/** CheckRequest bytes in, CheckResponse bytes out. */
export type CheckHandler = (bytes: Uint8Array) => Uint8Array;

export function createCheckHandler(deps: CheckHandlerDeps): CheckHandler {
  return (bytes) => {
    const started = performance.now();
    const startMs = deps.clock();
    let check: CheckRequestFields | undefined;
    let decision: Decision;
    const loaded = deps.state.snapshot;
    try {
      if (bytes.length > deps.maxRequestBytes) {
        decision = refuse(RULE_INVALID_REQUEST, `CheckRequest of ${bytes.length} bytes exceeds the limit of ${deps.maxRequestBytes}`);
      } else {
        // Only the fields the decision reads, as protobuf-es would decode them (check-request-wire.ts).
        check = decodeCheckRequest(bytes);
        decision = loaded === undefined
          ? refuse(RULE_NO_POLICY_LOADED, 'no policy snapshot loaded yet: every request is denied until one is')
          : evaluate(loaded, check, { nowMs: startMs, rateLimiter: deps.state.rateLimiter });
      }
    } catch (e: unknown) {
      deps.metrics.malformedRequests++;
      decision = refuse(RULE_INVALID_REQUEST, `malformed CheckRequest: ${e instanceof Error ? e.message.slice(0, 200) : 'undecodable'}`);
    }
    let decisionId = '';
    try {
      const headers = check?.attributes?.request?.http?.headers;
      const traceparent = headers === undefined ? undefined : (headers['traceparent'] ?? headerFromMap(check, 'traceparent'));
      const tracestate = headers === undefined ? undefined : (headers['tracestate'] ?? headerFromMap(check, 'tracestate'));
      decisionId = deps.tracer.record(decisionAttributes(decision, loaded?.version ?? '', deps.pod), traceparent, tracestate, startMs);
    } catch (e: unknown) {
      deps.log.log('warn', 'audit span not recorded', { error: e instanceof Error ? e.message : String(e) });
    }
    deps.metrics.recordDecision(decision.allowed, decision.policy, decision.rule, (performance.now() - started) / 1000);
    return encodeCheckResponse(decision, decisionId);
  };
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
