// What `approve`, `deny` and `review` write (pure): the merge patch of an
// AgentAccessRequest's status, after checking the transition the way the
// validating webhook will (a clear message before a round trip; the webhook
// stays the authority and stamps who and when).
import type { AccessRequestState } from '../../../policy/src/index.js';
import type { AccessRequestObject } from './kube.js';

export type Verdict =
  | { readonly kind: 'approve'; readonly duration: string | undefined; readonly reason: string | undefined }
  | { readonly kind: 'deny'; readonly reason: string | undefined }
  | { readonly kind: 'review'; readonly notes: string };

/** The states each verdict may leave (DESIGN.md "Approvals and break-glass", transitions). */
const FROM: Readonly<Record<Verdict['kind'], readonly AccessRequestState[]>> = {
  approve: ['Pending'],
  deny: ['Pending', 'Approved'],
  review: ['ReviewRequired'],
};

const TO: Readonly<Record<Verdict['kind'], AccessRequestState>> = { approve: 'Approved', deny: 'Denied', review: 'Reviewed' };

/** status.state, absent meaning Pending. */
export function stateOf(object: AccessRequestObject): string {
  const state = object.status?.['state'];
  return typeof state === 'string' && state !== '' ? state : 'Pending';
}

/**
 * The status merge patch for `verdict` on `object`; a string says why the
 * transition is refused. The patch carries metadata.resourceVersion, so a
 * request that changed since it was read is refused (409) rather than decided
 * blind.
 */
export function statusPatch(object: AccessRequestObject, verdict: Verdict): Readonly<Record<string, unknown>> | string {
  const state = stateOf(object);
  const ref = `AgentAccessRequest ${object.metadata.namespace}/${object.metadata.name}`;
  if (!(FROM[verdict.kind] as readonly string[]).includes(state)) {
    return `${ref} is ${state}: ${verdict.kind} moves it from ${FROM[verdict.kind].join(' or ')} to ${TO[verdict.kind]} only${hint(state)}`;
  }
  const status: Record<string, unknown> = { state: TO[verdict.kind] };
  if (verdict.kind === 'approve' && verdict.duration !== undefined) status['duration'] = verdict.duration;
  if (verdict.kind !== 'review' && verdict.reason !== undefined) status['reason'] = verdict.reason;
  if (verdict.kind === 'review') status['reviewNotes'] = verdict.notes;
  const resourceVersion = object.metadata.resourceVersion;
  return resourceVersion === undefined ? { status } : { metadata: { resourceVersion }, status };
}

function hint(state: string): string {
  switch (state) {
    case 'Expired': return ' (it expired; the agent asks again by sending the request again)';
    case 'ReviewRequired': return ' (the break-glass grant ended; review it with agentwarden review)';
    default: return '';
  }
}
