// The AgentAccessRequest webhooks (contract-15):
// - /validate-agentaccessrequests (create, update): what the CRD schema cannot
//   check: durations within --max-grant-duration, the pod of spec.pod exists and
//   runs as spec.serviceAccount, break-glass rules compile (CEL included);
// - /mutate-agentaccessrequests-status: stamps approvedBy/approvedAt/expiresAt,
//   deniedBy, reviewedBy/reviewedAt from userInfo and the server clock,
//   whatever the client sent;
// - /validate-agentaccessrequests-status: the transitions (approvals/transitions.ts).
import { checkPolicy, parseAccessRequest, parseAgentPolicy, PolicyError } from '../../../policy/src/index.js';
import { parseDurationMs } from '../../../policy/src/duration.js';
import { isJsonObject, jsonEqual, type JsonObject, type JsonValue } from '../inject/json.js';
import { isBreakGlass, specOf, stateOf, statusOf, str } from '../approvals/objects.js';
import { reviewTransition } from '../approvals/transitions.js';
import { formatDuration, type ApprovalOptions } from '../approvals/options.js';
import { allow, deny, type AdmissionRequest, type AdmissionResponse } from './review.js';

/** The pod's ServiceAccount; undefined when the pod does not exist. Read fresh for each review. */
export type PodLookup = (namespace: string, name: string) => Promise<{ readonly serviceAccount: string } | undefined>;

export interface AccessRequestWebhookDeps {
  readonly options: Pick<ApprovalOptions, 'maxGrantDurationMs' | 'pendingTtlMs' | 'controllerUsername'>;
  readonly pod: PodLookup;
  /** The server clock, ms. Default Date.now. */
  readonly nowMs?: () => number;
}

function objectName(request: AdmissionRequest): string {
  const meta = request.object?.['metadata'];
  const name = isJsonObject(meta) && typeof meta['name'] === 'string' && meta['name'] !== '' ? meta['name'] : request.name;
  return `AgentAccessRequest ${request.namespace}/${name}`;
}

/** /validate-agentaccessrequests: creates and spec updates. */
export async function reviewAccessRequest(request: AdmissionRequest, deps: AccessRequestWebhookDeps): Promise<AdmissionResponse> {
  if (request.operation !== 'CREATE' || request.subResource !== '') return allow(request.uid);
  const object = request.object;
  if (object === undefined) return deny(request.uid, 400, 'BadRequest', 'agentwarden: request.object: the AgentAccessRequest is missing');
  const name = objectName(request);
  const spec = specOf(object);
  const problems: string[] = [];
  const duration = str(spec['duration']);
  const ms = parseDurationMs(duration);
  if (ms === undefined || ms <= 0) problems.push(`spec.duration: "${duration}" is not a duration above 0 (e.g. 15m)`);
  else if (ms > deps.options.maxGrantDurationMs) problems.push(`spec.duration: ${duration} is above the maximum grant duration ${formatDuration(deps.options.maxGrantDurationMs)} (--max-grant-duration)`);
  if (isBreakGlass(spec) && str(spec['justification']).trim() === '') problems.push('spec.justification: required for a break-glass request (spec.rules non-empty)');
  if (!isBreakGlass(spec) && !isJsonObject(spec['operation'])) problems.push('spec.operation: required for an approval request (spec.rules empty)');
  if ((typeof spec['pod'] === 'string') === isJsonObject(spec['podSelector'])) problems.push('spec: exactly one of pod and podSelector');
  const sa = str(spec['serviceAccount']);
  if (sa === '') problems.push('spec.serviceAccount: required');
  if (isBreakGlass(spec)) problems.push(...ruleProblems(spec['rules'] as JsonValue[], request.namespace));
  // Everything else the policy core reads (operation fields, selector, origin), as the controller will.
  for (const p of parseProblems(object, request.namespace)) if (!problems.some((q) => q.startsWith(p.split(':')[0] ?? ''))) problems.push(p);
  if (typeof spec['pod'] === 'string' && spec['pod'] !== '') {
    const pod = await deps.pod(request.namespace, spec['pod']);
    if (pod === undefined) problems.push(`spec.pod: pod ${request.namespace}/${spec['pod']} does not exist`);
    else if (sa !== '' && pod.serviceAccount !== sa) problems.push(`spec.serviceAccount: pod ${request.namespace}/${spec['pod']} runs as ServiceAccount ${pod.serviceAccount}, not ${sa}`);
  }
  if (problems.length > 0) return deny(request.uid, 422, 'Invalid', `${name} is invalid: ${problems.join('; ')}`);
  return allow(request.uid);
}

function parseProblems(object: JsonObject, namespace: string): string[] {
  const meta = isJsonObject(object['metadata']) ? object['metadata'] : {};
  // The status is the webhook's and the controller's; a generated name may not be there yet.
  const rest = Object.fromEntries(Object.entries(object).filter(([k]) => k !== 'status'));
  try {
    parseAccessRequest({ ...rest, metadata: { name: 'request', ...meta, namespace } }, 'admission');
    return [];
  } catch (e: unknown) {
    if (!(e instanceof PolicyError)) throw e;
    return e.problems.map((p) => `${p.field}: ${p.message}`);
  }
}

/** Break-glass rules parsed and their CEL compiled as an AgentPolicy's would be (credentials are resolved later, against the pod's policies). */
function ruleProblems(rules: readonly JsonValue[], namespace: string): string[] {
  const stripped = rules.map((r) => {
    if (!isJsonObject(r)) return r;
    const copy: JsonObject = { ...r };
    delete copy['credential'];
    return copy;
  });
  try {
    const policy = parseAgentPolicy({ apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'break-glass', namespace }, spec: { podSelector: {}, rules: stripped } }, 'admission', namespace);
    checkPolicy(policy);
  } catch (e: unknown) {
    if (!(e instanceof PolicyError)) throw e;
    return e.problems.map((p) => `${p.field}: ${p.message}`);
  }
  const problems: string[] = [];
  rules.forEach((r, i) => {
    const action = isJsonObject(r) ? r['action'] : undefined;
    if (action !== undefined && action !== 'Allow') problems.push(`spec.rules[${i}].action: a break-glass grant only allows (got ${JSON.stringify(action)})`);
  });
  return problems;
}

function transitionOf(request: AdmissionRequest, deps: AccessRequestWebhookDeps): ReturnType<typeof reviewTransition> | undefined {
  if (request.operation !== 'UPDATE' || request.subResource !== 'status' || request.object === undefined || request.oldObject === undefined) return undefined;
  return reviewTransition({
    namespace: request.namespace, name: request.name,
    old: request.oldObject,
    next: request.object,
    username: request.userInfo.username,
    nowMs: (deps.nowMs ?? Date.now)(),
    options: deps.options,
  });
}

/** /mutate-agentaccessrequests-status: the stored status with the stamps of this transition. */
export function mutateAccessRequestStatus(request: AdmissionRequest, deps: AccessRequestWebhookDeps): AdmissionResponse {
  const t = transitionOf(request, deps);
  // Refusals are the validating webhook's to answer (it sees the same change).
  if (t === undefined || !t.ok) return allow(request.uid);
  const current = statusOf(request.object ?? {});
  if (jsonEqual(current, t.status)) return allow(request.uid);
  return allow(request.uid, { patch: [{ op: 'add', path: '/status', value: t.status }] });
}

/** /validate-agentaccessrequests-status: the transition is allowed, and stamped as the mutating webhook does. */
export function validateAccessRequestStatus(request: AdmissionRequest, deps: AccessRequestWebhookDeps): AdmissionResponse {
  const t = transitionOf(request, deps);
  if (t === undefined) return allow(request.uid);
  if (!t.ok) return deny(request.uid, t.code, t.code === 403 ? 'Forbidden' : 'Invalid', `agentwarden: ${t.message}`);
  // The stamps must be there: a status update that bypassed the mutating webhook is refused.
  const status = statusOf(request.object ?? {});
  for (const f of ['approvedBy', 'deniedBy', 'reviewedBy'] as const) {
    if (str(t.status[f]) !== str(status[f])) return deny(request.uid, 403, 'Forbidden', `agentwarden: AgentAccessRequest ${request.namespace}/${request.name}: status.${f} is stamped by the agentwarden webhook from the authenticated user, not written by clients`);
  }
  if (stateOf({ status }) !== t.to) return deny(request.uid, 422, 'Invalid', `agentwarden: AgentAccessRequest ${request.namespace}/${request.name}: unexpected state`);
  return allow(request.uid);
}
