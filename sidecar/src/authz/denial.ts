// What every answer to Envoy shares, whichever way it is encoded (respond.ts
// with protobuf-es messages, response-wire.ts straight to bytes): the header
// names the agent and the upstream see, and the body of a denied request.
import type { Decision } from '../../../policy/src/index.js';
import { REASON_APPROVAL_REQUIRED } from '../../../policy/src/decision.js';

/** JSON-RPC server-defined error code used for policy denials. */
export const JSONRPC_DENIED = -32001;

export const DECISION_HEADER = 'x-agentwarden-decision';
export const DECISION_ID_HEADER = 'x-agentwarden-decision-id';
export const AUDIT_HEADER = 'x-agentwarden-audit-decision';
export const RULE_HEADER = 'x-agentwarden-rule';

const HTTP_OK = 200;
const HTTP_FORBIDDEN = 403;

/**
 * The HTTP status of a denied response. A JSON-RPC request (it has an id) is
 * answered 200 with the JSON-RPC error: the StreamableHTTP client transport of
 * @modelcontextprotocol/sdk (1.32, client/streamableHttp.js send()) throws a
 * transport-level StreamableHTTPError on any non-2xx status, and only hands a
 * 200 application/json body to the protocol layer, which raises McpError with
 * its code, message and data. Notifications (no id) and other requests: 403.
 * Either way `x-agentwarden-decision: deny` marks the answer as a denial.
 */
export function deniedStatus(d: Decision): number {
  const id = d.request?.mcpId;
  return d.request !== undefined && d.request.mcpMethod !== '' && (typeof id === 'string' || typeof id === 'number') ? HTTP_OK : HTTP_FORBIDDEN;
}

/**
 * The x-agentwarden-* headers the agent sent that an allow removes upstream:
 * all of them but those the answer sets itself (`set`), since Envoy applies
 * headers_to_remove after the headers it sets.
 */
export function upstreamHeadersToRemove(d: Decision, set: readonly (readonly [string, string])[]): string[] {
  const sent = d.headersToRemove;
  if (sent === undefined || sent.length === 0) return [];
  return sent.filter((name) => !set.some(([k]) => k.toLowerCase() === name));
}

/** The denied response's body: a JSON-RPC error carrying the request's id for MCP calls, else the JSON error object. */
export function deniedBody(d: Decision, decisionId: string, namespace = ''): string {
  const isMcp = d.request !== undefined && d.request.mcpMethod !== '';
  if (d.approval !== undefined) return approvalBody(d, d.approval.name, decisionId, namespace, isMcp);
  return isMcp
    ? JSON.stringify({ jsonrpc: '2.0', id: d.request.mcpId ?? null, error: { code: JSONRPC_DENIED, message: `denied by agentwarden: ${d.reason}`, data: { policy: d.policy, rule: d.rule, decisionId } } })
    : JSON.stringify({ error: 'denied by agentwarden', policy: d.policy, rule: d.rule, reason: d.reason, decisionId });
}

/** What the agent may do about a RequireApproval deny: the command a human runs, then the same request again. */
export function approvalRetry(namespace: string, name: string): string {
  return `a human approves with: agentwarden approve ${namespace}/${name}; then send the same request again`;
}

/**
 * A RequireApproval deny (DESIGN.md point 11): names the AgentAccessRequest the
 * controller creates and says how to retry. For MCP the same fields are the
 * JSON-RPC error's `data`, so the SDK's McpError carries them.
 */
function approvalBody(d: Decision, name: string, decisionId: string, namespace: string, isMcp: boolean): string {
  const fields = { error: REASON_APPROVAL_REQUIRED, policy: d.policy, rule: d.rule, reason: d.reason, decisionId, approvalRequest: name, namespace, retry: approvalRetry(namespace, name) };
  return isMcp
    ? JSON.stringify({ jsonrpc: '2.0', id: d.request?.mcpId ?? null, error: { code: JSONRPC_DENIED, message: `denied by agentwarden: ${d.reason}`, data: fields } })
    : JSON.stringify(fields);
}
