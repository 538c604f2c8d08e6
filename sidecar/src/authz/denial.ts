// What every answer to Envoy shares, whichever way it is encoded (respond.ts
// with protobuf-es messages, response-wire.ts straight to bytes): the header
// names the agent and the upstream see, and the body of a denied request.
import type { Decision } from '../../../policy/src/index.js';

/** JSON-RPC server-defined error code used for policy denials. */
export const JSONRPC_DENIED = -32001;

export const DECISION_HEADER = 'x-agentwarden-decision';
export const DECISION_ID_HEADER = 'x-agentwarden-decision-id';
export const AUDIT_HEADER = 'x-agentwarden-audit-decision';
export const RULE_HEADER = 'x-agentwarden-rule';

/** The denied response's body: a JSON-RPC error carrying the request's id for MCP calls, else the JSON error object. */
export function deniedBody(d: Decision, decisionId: string): string {
  const isMcp = d.request !== undefined && d.request.mcpMethod !== '';
  return isMcp
    ? JSON.stringify({ jsonrpc: '2.0', id: d.request.mcpId ?? null, error: { code: JSONRPC_DENIED, message: `denied by agentwarden: ${d.reason}`, data: { policy: d.policy, rule: d.rule, decisionId } } })
    : JSON.stringify({ error: 'denied by agentwarden', policy: d.policy, rule: d.rule, reason: d.reason, decisionId });
}
