// The status transitions of an AgentAccessRequest (contract-15 "Transitions"):
// who may move a request from one state to another, and what the webhook
// stamps when they do. Pure: the admission webhooks (validating and mutating
// on agentaccessrequests/status) and the tests call it with the user the API
// server authenticated and the server's clock.
import type { AccessRequestState } from '../../../policy/src/index.js';
import { parseDurationMs } from '../../../policy/src/duration.js';
import type { JsonObject } from '../inject/json.js';
import { conditionsFor, isBreakGlass, specOf, stateOf, statusOf, str } from './objects.js';
import { formatDuration, type ApprovalOptions } from './options.js';

/** Fields only the webhook writes, whatever the client sends. */
export const STAMPED_FIELDS = ['approvedBy', 'approvedAt', 'expiresAt', 'deniedBy', 'reviewedBy', 'reviewedAt'] as const;

export interface StatusChange {
  readonly namespace: string;
  readonly name: string;
  /** The stored object and the one the client sent (status subresource). */
  readonly old: { readonly metadata?: { readonly creationTimestamp?: unknown }; readonly spec?: unknown; readonly status?: unknown };
  readonly next: { readonly status?: unknown };
  /** userInfo.username of the AdmissionReview. */
  readonly username: string;
  readonly nowMs: number;
  readonly options: Pick<ApprovalOptions, 'maxGrantDurationMs' | 'pendingTtlMs' | 'controllerUsername'>;
}

export type TransitionResult =
  | { readonly ok: true; readonly from: AccessRequestState; readonly to: AccessRequestState; /** The status as it must be stored. */ readonly status: JsonObject }
  | { readonly ok: false; readonly code: 403 | 422; readonly message: string };

/** Who a human is not: the pod's own ServiceAccount or any ServiceAccount of the request's namespace. */
function refusedApprover(c: StatusChange, spec: JsonObject, verb: string): string | undefined {
  const sa = str(spec['serviceAccount']);
  const object = `AgentAccessRequest ${c.namespace}/${c.name}`;
  if (c.username === `system:serviceaccount:${c.namespace}:${sa}`) {
    return `${object}: ${c.username} is the ServiceAccount of the agent the request is for; an agent can never ${verb} its own request`;
  }
  if (c.username.startsWith(`system:serviceaccount:${c.namespace}:`)) {
    return `${object}: ${c.username} is a ServiceAccount of the request's namespace ${c.namespace}, where agents run; a person must ${verb} it`;
  }
  if (c.username === c.options.controllerUsername) return `${object}: the agentwarden controller never decides requests; a person must ${verb} it`;
  return undefined;
}

/** The requested duration (status.duration, else spec.duration), ms, or why it is refused. */
function grantDuration(c: StatusChange, spec: JsonObject, status: JsonObject): { readonly ms: number } | { readonly error: string } {
  const chosen = str(status['duration']) !== '' ? str(status['duration']) : str(spec['duration']);
  const where = str(status['duration']) !== '' ? 'status.duration' : 'spec.duration';
  const ms = parseDurationMs(chosen);
  const object = `AgentAccessRequest ${c.namespace}/${c.name}`;
  if (ms === undefined || ms <= 0) return { error: `${object}: ${where} "${chosen}" is not a duration above 0 (e.g. 15m)` };
  if (ms > c.options.maxGrantDurationMs) return { error: `${object}: ${where} ${chosen} is above the maximum grant duration ${formatDuration(c.options.maxGrantDurationMs)} (--max-grant-duration)` };
  return { ms };
}

export function reviewTransition(c: StatusChange): TransitionResult {
  const spec = specOf(c.old);
  const oldStatus = statusOf(c.old);
  const next = statusOf(c.next);
  const from = stateOf(c.old);
  const to = stateOf(c.next);
  const object = `AgentAccessRequest ${c.namespace}/${c.name}`;
  const nowIso = new Date(c.nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const isController = c.username === c.options.controllerUsername;
  // Stamped fields keep their stored values unless this transition stamps them.
  const status: JsonObject = Object.fromEntries(Object.entries(next).filter(([k]) => !(STAMPED_FIELDS as readonly string[]).includes(k)));
  for (const f of STAMPED_FIELDS) {
    const kept = oldStatus[f];
    if (kept !== undefined) status[f] = kept;
  }
  const refuse = (code: 403 | 422, message: string): TransitionResult => ({ ok: false, code, message });
  const withCondition = (message: string): JsonObject => ({ ...status, state: to, conditions: conditionsFor(next['conditions'] ?? oldStatus['conditions'], to, nowIso, message) });

  if (from === to) {
    // Bookkeeping within a state (summary, used, conditions): the controller's; a person may
    // only restate what is there. A changed duration or reason after the decision changes nothing.
    if (!isController) {
      for (const f of ['summary', 'used', 'duration'] as const) {
        if (JSON.stringify(next[f] ?? null) !== JSON.stringify(oldStatus[f] ?? null)) return refuse(403, `${object}: status.${f} is the controller's or fixed at the decision; only the state may be changed (${from} → ...)`);
      }
    }
    return { ok: true, from, to, status };
  }

  const created = Date.parse(typeof c.old.metadata?.creationTimestamp === 'string' ? c.old.metadata.creationTimestamp : '');
  const transition = `${from} → ${to}`;
  const human = (verb: string): string | undefined => refusedApprover(c, spec, verb);

  if (from === 'Pending' && to === 'Approved') {
    const who = human('approve');
    if (who !== undefined) return refuse(403, who);
    if (Number.isFinite(created) && c.nowMs > created + c.options.pendingTtlMs) {
      return refuse(422, `${object}: request expired: it was pending for more than ${formatDuration(c.options.pendingTtlMs)} (--approval-pending-ttl); the agent asks again by retrying`);
    }
    const d = grantDuration(c, spec, next);
    if ('error' in d) return refuse(422, d.error);
    const expiresIso = new Date(c.nowMs + d.ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { ok: true, from, to, status: { ...withCondition(`approved by ${c.username} until ${expiresIso}`), approvedBy: c.username, approvedAt: nowIso, expiresAt: expiresIso } };
  }
  if ((from === 'Pending' || from === 'Approved') && to === 'Denied') {
    const who = human(from === 'Pending' ? 'deny' : 'revoke');
    if (who !== undefined) return refuse(403, who);
    return { ok: true, from, to, status: { ...withCondition(`${from === 'Pending' ? 'denied' : 'revoked'} by ${c.username}`), deniedBy: c.username } };
  }
  if (from === 'ReviewRequired' && to === 'Reviewed') {
    const who = human('review');
    if (who !== undefined) return refuse(403, who);
    if (str(next['reviewNotes']).trim() === '') return refuse(422, `${object}: status.reviewNotes is required to review a break-glass grant (agentwarden review --notes ...)`);
    return { ok: true, from, to, status: { ...withCondition(`reviewed by ${c.username}`), reviewedBy: c.username, reviewedAt: nowIso } };
  }
  const controllerOnly = (from === 'Pending' && to === 'Expired')
    || (from === 'Approved' && to === (isBreakGlass(spec) ? 'ReviewRequired' : 'Expired'));
  if (controllerOnly) {
    if (!isController) return refuse(403, `${object}: ${transition} is made by the agentwarden controller only (at expiry), not by ${c.username}`);
    return { ok: true, from, to, status: { ...status, state: to, conditions: next['conditions'] ?? conditionsFor(oldStatus['conditions'], to, nowIso, 'ended') } };
  }
  const hint = from === 'Expired' ? ' (the request expired; the agent asks again by retrying)' : isEndedHint(from);
  return refuse(403, `${object}: the transition ${transition} is not allowed${hint}`);
}

function isEndedHint(from: AccessRequestState): string {
  return from === 'Denied' || from === 'Reviewed' ? ` (${from} is final)` : '';
}
