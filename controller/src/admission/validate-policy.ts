// /validate-agentpolicies (pure): what the CRD schema cannot check, for
// AgentPolicies and ClusterAgentPolicies alike (the chart sends both here). The
// policy is read with parseAnyPolicy and its CEL conditions compiled with
// checkPolicy, as the CLI and the controller do; problems are answered with
// their field paths and rule names, risky patterns with warnings.
import { checkPolicy, isClusterAgentPolicyManifest, parseAnyPolicy, PolicyError, type AgentPolicy } from '../../../policy/src/index.js';
import { checkCondition } from '../../../policy/src/cel.js';
import type { FieldProblem } from '../../../policy/src/errors.js';
import { isJsonObject, type JsonObject } from '../inject/json.js';
import { allow, deny, type AdmissionRequest, type AdmissionResponse } from './review.js';
import { policyWarnings } from './policy-warnings.js';

/** The policies whose rules may add taints a policy in `namespace` reads ("" for a ClusterAgentPolicy: all). */
export type PoliciesInScope = (namespace: string) => readonly AgentPolicy[];

export function reviewAgentPolicy(request: AdmissionRequest, inScope?: PoliciesInScope): AdmissionResponse {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow(request.uid);
  // Status updates (the controller's) are not the author's to fix.
  if (request.subResource === 'status') return allow(request.uid);
  const object = request.object;
  if (object === undefined) return deny(request.uid, 400, 'BadRequest', 'agentwarden: request.object: the AgentPolicy is missing');
  const declared = metadata(object)['name'];
  const metaName = typeof declared === 'string' ? declared : request.name;
  const name = isClusterAgentPolicyManifest(object) ? `ClusterAgentPolicy ${metaName}` : `AgentPolicy ${request.namespace}/${metaName}`;
  let policy: AgentPolicy;
  try {
    policy = parseAnyPolicy(object, 'admission', request.namespace);
    checkPolicy(policy);
  } catch (e: unknown) {
    if (!(e instanceof PolicyError)) throw e;
    const all = [...e.problems, ...conditionProblems(object, e.problems)];
    const problems = all.map((p) => `${p.field}${ruleName(object, p.field, p.message)}: ${p.message}`);
    return deny(request.uid, 422, 'Invalid', `${name} is invalid: ${problems.join('; ')}`);
  }
  return allow(request.uid, { warnings: policyWarnings(policy, inScope?.(policy.namespace) ?? []) });
}

/**
 * When the manifest does not parse, checkPolicy never runs: its CEL checks are
 * run here on the raw rules, so one answer reports every problem.
 */
function conditionProblems(object: JsonObject, reported: readonly FieldProblem[]): FieldProblem[] {
  const spec = object['spec'];
  const rules = isJsonObject(spec) ? spec['rules'] : undefined;
  if (!Array.isArray(rules)) return [];
  const out: FieldProblem[] = [];
  rules.forEach((rule, i) => {
    const field = `spec.rules[${i}].when`;
    if (!isJsonObject(rule) || typeof rule['when'] !== 'string' || reported.some((p) => p.field === field)) return;
    const checked = checkCondition(rule['when']);
    if (typeof checked === 'string') out.push({ field, message: `rule "${typeof rule['name'] === 'string' ? rule['name'] : ''}": ${checked}` });
  });
  return out;
}

function metadata(object: JsonObject): JsonObject {
  const m = object['metadata'];
  return isJsonObject(m) ? m : {};
}

/** ' (rule "read")' for a problem under spec.rules[i], unless the message names the rule already. */
function ruleName(object: JsonObject, field: string, message: string): string {
  const m = /^spec\.rules\[(\d+)\]/.exec(field);
  if (m === null || message.startsWith('rule "')) return '';
  const spec = object['spec'];
  const rules = isJsonObject(spec) ? spec['rules'] : undefined;
  const rule = Array.isArray(rules) ? rules[Number(m[1])] : undefined;
  const name = isJsonObject(rule) ? rule['name'] : undefined;
  return typeof name === 'string' && name !== '' ? ` (rule "${name}")` : '';
}
