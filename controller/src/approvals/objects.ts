// AgentAccessRequest objects as the controller reads them: the state, the
// summary line a human sees (OPERATION column, notifications), and the
// condition that mirrors a state. Pure.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { AccessRequestState } from '../../../policy/src/index.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../inject/json.js';
import type { Refusal } from '../kube/budget.js';

export const ACCESS_REQUEST_PLURAL = 'agentaccessrequests';
export const ACCESS_REQUEST_KIND = 'AgentAccessRequest';

/** An AgentAccessRequest as stored by the API server (or a stub the cache limits kept instead). */
export interface AccessRequestObject extends KubernetesObject {
  readonly spec?: unknown;
  readonly status?: unknown;
  /** Refused by the controller's cache limits: the spec is not kept, and it never becomes a grant. */
  readonly refused?: Refusal;
}

const STATES: readonly AccessRequestState[] = ['Pending', 'Approved', 'Denied', 'Expired', 'ReviewRequired', 'Reviewed'];

/** status.state; absent (or unknown) is Pending. */
export function stateOf(obj: { readonly status?: unknown }): AccessRequestState {
  const s = isJsonObject(obj.status) ? obj.status['state'] : undefined;
  return typeof s === 'string' && (STATES as readonly string[]).includes(s) ? (s as AccessRequestState) : 'Pending';
}

/** Ended requests: never a grant again; an approval request of the same name may be created anew. */
export function isEnded(state: AccessRequestState): boolean {
  return state === 'Expired' || state === 'Denied' || state === 'Reviewed' || state === 'ReviewRequired';
}

export function field(obj: JsonValue | undefined, ...path: string[]): JsonValue | undefined {
  let v: JsonValue | undefined = obj;
  for (const k of path) v = isJsonObject(v) ? v[k] : undefined;
  return v;
}

export function str(v: JsonValue | undefined): string {
  return typeof v === 'string' ? v : '';
}

export function specOf(obj: { readonly spec?: unknown }): JsonObject {
  return isJsonObject(obj.spec) ? obj.spec : {};
}

export function statusOf(obj: { readonly status?: unknown }): JsonObject {
  return isJsonObject(obj.status) ? obj.status : {};
}

/** Break-glass when spec.rules is non-empty, else approval. */
export function isBreakGlass(spec: JsonObject): boolean {
  const rules = spec['rules'];
  return Array.isArray(rules) && rules.length > 0;
}

/** "POST mcp.support.internal/mcp tools/call issue_refund", or "break-glass: rules a, b". Bounded. */
export function summaryOf(spec: JsonObject): string {
  let line: string;
  if (isBreakGlass(spec)) {
    const names = (spec['rules'] as JsonValue[]).map((r) => str(field(r, 'name')));
    line = `break-glass: rules ${names.join(', ')}`;
  } else {
    const op = spec['operation'];
    const port = field(op, 'port');
    const host = str(field(op, 'host'));
    const hostPort = typeof port === 'number' && port !== 443 && port !== 80 ? `${host}:${port}` : host;
    const query = str(field(op, 'query'));
    const mcp = [str(field(op, 'mcp', 'method')), str(field(op, 'mcp', 'tool'))].filter((s) => s !== '').join(' ');
    line = [`${str(field(op, 'method'))} ${hostPort}${str(field(op, 'path'))}${query === '' ? '' : `?${query}`}`, mcp].filter((s) => s !== '').join(' ');
  }
  return line.length > 1024 ? `${line.slice(0, 1021)}...` : line;
}

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False';
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

/** The conditions after entering `state`: its own type True (added or replaced), others kept. */
export function conditionsFor(previous: JsonValue | undefined, state: AccessRequestState, nowIso: string, message: string): JsonValue[] {
  const kept = Array.isArray(previous) ? previous.filter((c) => str(field(c, 'type')) !== state) : [];
  if (state === 'Pending') return kept;
  const reason = state;
  const condition: JsonObject = { type: state, status: 'True', lastTransitionTime: nowIso, reason, message: message.slice(0, 4096) };
  return [...kept, condition];
}

/** "ns/name" of an object. */
export function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}
