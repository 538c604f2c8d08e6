// Operations (DESIGN.md point 11): one request as a human approves it, its
// canonical forms, and the deterministic name of the AgentAccessRequest that
// asks for it. The sidecar names the request in its deny; the controller
// recomputes the name from the stream's authenticated pod and refuses a mismatch.
import { isPlain } from './fields.js';
import type { OperationSpec } from './model.js';
import type { RequestView } from './request-view.js';
const { createHash } = process.getBuiltinModule('node:crypto');

/** Characters of the pod name an AgentAccessRequest name keeps (the hash follows). */
export const NAME_POD_PREFIX_MAX = 40;
/** Hex digits of the sha256 in an AgentAccessRequest name. */
export const NAME_HASH_HEX = 12;
/** Keys whose values break-glass detail never shows. */
export const SECRET_LOOKING_KEY = /pass|secret|token|key|auth|credential|cookie/i;
export const REDACTED = '[redacted]';

/** The operation of a request, as an approval grant must match it exactly. */
export function operationOf(view: RequestView): OperationSpec {
  const op = { method: view.method, host: view.host, port: view.port, path: view.path, query: view.rawQuery };
  return view.mcp === undefined ? op : { ...op, mcp: { method: view.mcp.method, tool: view.mcp.tool, arguments: view.mcp.arguments } };
}

/** JSON with object keys sorted (recursively) and no spaces: one text per value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value, false));
}

/** canonicalJson with the values of secret-looking keys (at any depth) replaced by "[redacted]". */
export function redactedJson(value: unknown): string {
  return JSON.stringify(sortKeys(value, true));
}

function sortKeys(value: unknown, redact: boolean): unknown {
  if (Array.isArray(value)) return value.map((v: unknown) => sortKeys(v, redact));
  if (!isPlain(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = value[key];
    if (v === undefined) continue;
    // defineProperty: a "__proto__" key stays a key instead of setting the prototype.
    Object.defineProperty(out, key, { value: redact && SECRET_LOOKING_KEY.test(key) ? REDACTED : sortKeys(v, redact), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The canonical JSON of an operation's MCP arguments; "" when it is not an MCP call. */
export function canonicalArguments(op: OperationSpec): string {
  return op.mcp === undefined ? '' : canonicalJson(op.mcp.arguments);
}

/**
 * The key approval grants are looked up by: equal keys, equal operations.
 * `mcpArguments` is canonical JSON ("" when not MCP).
 */
export function operationKey(method: string, host: string, port: number, path: string, query: string, mcpMethod: string, mcpTool: string, mcpArguments: string): string {
  return JSON.stringify([method, host, port, path, query, mcpMethod, mcpTool, mcpArguments]);
}

export function operationKeyOf(op: OperationSpec): string {
  return operationKey(op.method, op.host, op.port, op.path, op.query, op.mcp?.method ?? '', op.mcp?.tool ?? '', canonicalArguments(op));
}

/**
 * `<pod name cut to 40, trailing "-" and "." removed>-<first 12 hex of sha256(JSON
 * [policy, rule, method, host, port, path, query, mcpMethod, mcpTool, canonical arguments])>`:
 * one AgentAccessRequest per pod, rule and operation; always a valid DNS subdomain name.
 */
export function approvalRequestName(podName: string, policy: string, rule: string, op: OperationSpec): string {
  const text = JSON.stringify([policy, rule, op.method, op.host, op.port, op.path, op.query, op.mcp?.method ?? '', op.mcp?.tool ?? '', canonicalArguments(op)]);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, NAME_HASH_HEX);
  const prefix = podName.toLowerCase().slice(0, NAME_POD_PREFIX_MAX).replace(/[-.]+$/, '');
  return prefix === '' ? hash : `${prefix}-${hash}`;
}

/** "POST mcp.support.internal/mcp tools/call issue_refund": what a human reads. */
export function operationSummary(op: OperationSpec): string {
  const port = op.port === 443 || op.port === 80 || op.port === 0 ? '' : `:${op.port}`;
  const query = op.query === '' ? '' : `?${op.query}`;
  const mcp = op.mcp === undefined ? '' : ` ${op.mcp.method}${op.mcp.tool === '' ? '' : ` ${op.mcp.tool}`}`;
  return `${op.method} ${op.host}${port}${op.path}${query}${mcp}`;
}
