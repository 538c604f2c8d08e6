// Decision -> audit span attributes, exactly DESIGN.md's list (pure). Never a
// credential, header value or body (a break-glass decision's MCP arguments come
// redacted by the policy core).
import type { Attributes } from '@opentelemetry/api';
import type { Decision } from '../../../policy/src/index.js';

export const SPAN_NAME = 'agentwarden.decision';
/** The instrumentation scope of every decision span. */
export const DECISION_SCOPE: { readonly name: string; readonly version: string } = { name: 'agentwarden-sidecar', version: '0.1.0' };

/**
 * The arguments of decisionAttributes, kept until the span is encoded: the
 * default span queue writes them straight to OTLP (decision-attributes-wire.ts)
 * without building the attribute record; anything else reads toAttributes().
 */
export class DecisionAttributes {
  constructor(readonly decision: Decision, readonly policyVersion: string, readonly pod: { readonly namespace: string; readonly name: string }) {}

  toAttributes(): Attributes {
    return decisionAttributes(this.decision, this.policyVersion, this.pod);
  }
}

/** A span's attributes as recorded: a record, or a decision's (DecisionAttributes). */
export type SpanAttributes = Attributes | DecisionAttributes;

export function attributesOf(a: SpanAttributes): Attributes {
  return a instanceof DecisionAttributes ? a.toAttributes() : a;
}

export function decisionAttributes(d: Decision, policyVersion: string, pod: { readonly namespace: string; readonly name: string }): Attributes {
  const attrs: Attributes = {
    'agentwarden.decision': d.allowed ? 'allow' : 'deny',
    'agentwarden.mode': d.mode,
    'agentwarden.policy': d.policy,
    'agentwarden.rule': d.rule,
    'agentwarden.reason': d.reason,
    'agentwarden.policy_version': policyVersion,
    'k8s.namespace.name': pod.namespace,
    'k8s.pod.name': pod.name,
  };
  if (d.auditDecision !== null) attrs['agentwarden.audit.decision'] = d.auditDecision.allowed ? 'allow' : 'deny';
  const r = d.request;
  if (r !== undefined) {
    if (r.method !== '') attrs['http.request.method'] = r.method;
    if (r.host !== '') attrs['server.address'] = r.host;
    if (r.port > 0) attrs['server.port'] = r.port;
    if (r.path !== '') attrs['url.path'] = r.path;
    if (r.mcpMethod !== '') attrs['mcp.method.name'] = r.mcpMethod;
    if (r.mcpTool !== '') attrs['gen_ai.tool.name'] = r.mcpTool;
  }
  if (d.grant !== undefined || d.approval !== undefined || d.detail !== undefined) grantAttributes(d, attrs);
  if (d.session !== undefined) {
    attrs['agentwarden.session.id'] = d.session.id;
    // The session's taints before this request, and those it added.
    attrs['agentwarden.session.taints'] = [...d.session.taints];
    if (d.session.added.length > 0) attrs['agentwarden.session.taints.added'] = [...d.session.added];
  }
  if (d.anomaly !== undefined) {
    // DESIGN.md "The wire": novel-operation | rate-spike.
    attrs['agentwarden.anomaly'] = d.anomaly.kind;
    attrs['agentwarden.anomaly.operation'] = d.anomaly.operation;
    attrs['agentwarden.anomaly.action'] = d.anomaly.action;
    if (d.anomaly.quarantined) attrs['agentwarden.anomaly.quarantined'] = true;
  }
  return attrs;
}

/**
 * What approvals and break-glass add (DESIGN.md "The wire"): the grant that
 * allowed the request and the rule it overrode, the AgentAccessRequest a
 * RequireApproval deny asks for, and a break-glass decision in full detail
 * (query keys, and the MCP arguments as the policy core redacted them).
 */
export function grantAttributes(d: Decision, attrs: Attributes): void {
  if (d.grant !== undefined) {
    attrs['agentwarden.grant'] = d.grant.name;
    attrs['agentwarden.grant.kind'] = d.grant.kind;
    if (d.grant.overriddenRule !== null) attrs['agentwarden.overridden.rule'] = d.grant.overriddenRule;
  }
  if (d.approval !== undefined) attrs['agentwarden.approval.request'] = d.approval.name;
  if (d.detail !== undefined) {
    attrs['agentwarden.detail.query_keys'] = [...d.detail.queryKeys];
    if (d.detail.mcpArguments !== '') attrs['gen_ai.tool.call.arguments'] = d.detail.mcpArguments;
  }
}
