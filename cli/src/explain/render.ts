// `agentwarden explain`'s text (pure): one block per decision of the trace.
import { stringify } from 'yaml';
import type { DecisionRecord } from './trace.js';
import type { PolicyNow } from './kube.js';

/** What the API server said about the decision's policy and grant; each part absent when not asked, an error when it failed. */
export interface Current {
  readonly policy?: PolicyNow | 'none' | { readonly error: string };
  readonly requests?: readonly (readonly [name: string, description: string | { readonly error: string }])[];
}

/** Rules the policy core names, not written in any policy. */
const BUILT_IN: Readonly<Record<string, string>> = {
  'default-deny': 'no rule allowed the request, so it was denied (the default)',
  'invalid-request': 'the request was refused before any rule was read',
  'no-policy-loaded': 'the sidecar held no policy yet',
  'cluster-ceiling': 'a ClusterAgentPolicy\'s ceiling refused it',
  'anomaly-novel-operation': 'the operation is not in the agent\'s learned baseline, and the policy\'s spec.anomaly denies novel operations',
  'quarantined': 'the pod is quarantined after repeated anomalies; agentwarden release ends it',
};

/** Whether the policy core names this rule itself (no rule text exists in any policy). */
export function isBuiltInRule(rule: string): boolean {
  return BUILT_IN[rule] !== undefined;
}

function request(d: DecisionRecord): string {
  const port = d.port === '' || d.port === '443' || d.port === '80' ? '' : `:${d.port}`;
  const mcp = d.mcpMethod === null ? '' : ` (MCP ${d.mcpMethod}${d.tool === null ? '' : ` ${d.tool}`})`;
  return `${d.method} ${d.host}${port}${d.path}${mcp}`;
}

function row(key: string, value: string): string {
  return `  ${key.padEnd(10)} ${value}`;
}

export function renderDecision(d: DecisionRecord, current: Current): string[] {
  const lines = [
    `decision ${d.traceId}: ${d.decision.toUpperCase()} at ${d.startMs > 0 ? new Date(d.startMs).toISOString() : '(time not recorded)'}, pod ${d.namespace}/${d.pod}`,
    row('span', `${d.spanId}${d.parentSpanId === null ? '' : `, a child of the caller's span ${d.parentSpanId}`}`),
    row('request', request(d)),
    row('policy', `${d.policy === '' ? '(none)' : d.policy}, mode ${d.mode}, snapshot ${d.policyVersion === '' ? '(not recorded)' : d.policyVersion}`),
    row('rule', BUILT_IN[d.rule] === undefined ? d.rule : `${d.rule} (built in: ${BUILT_IN[d.rule] ?? ''})`),
    row('reason', d.reason),
  ];
  if (d.audit !== null) lines.push(row('audit', `the Audit policies would ${d.audit} it (recorded, not enforced)`));
  if (d.sessionId !== null) lines.push(row('session', `${d.sessionId}; taints before: ${d.taints.length === 0 ? 'none' : d.taints.join(', ')}${d.taintsAdded.length === 0 ? '' : `; added: ${d.taintsAdded.join(', ')}`}`));
  if (d.grant !== null) lines.push(row('grant', `${d.grant} (${d.grantKind ?? 'approval'})${d.overriddenRule === null ? '' : `, over rule ${d.overriddenRule}`}`));
  if (d.approvalRequest !== null) lines.push(row('approval', `asks for AgentAccessRequest ${d.approvalRequest}: agentwarden approve ${d.namespace}/${d.approvalRequest}`));
  if (d.anomaly !== null) lines.push(row('anomaly', d.anomaly));
  for (const l of d.links) lines.push(row('linked', `decision ${l.traceId} (span ${l.spanId}) added a taint this decision turned on: agentwarden explain ${l.traceId}`));
  for (const [name, what] of current.requests ?? []) lines.push(row('now', typeof what === 'string' ? what : `AgentAccessRequest ${d.namespace}/${name}: not read (${what.error})`));
  lines.push(...ruleNow(d, current.policy));
  return lines;
}

function ruleNow(d: DecisionRecord, policy: Current['policy']): string[] {
  if (policy === undefined) return [];
  if (d.policy === '' || BUILT_IN[d.rule] !== undefined) return [];
  if (policy === 'none') return [row('rule now', `no AgentPolicy ${d.namespace}/${d.policy} nor ClusterAgentPolicy ${d.policy} exists any more`)];
  if ('error' in policy) return [row('rule now', `not read from the API server (${policy.error})`)];
  const rule = policy.rules.find((r) => r['name'] === d.rule);
  const where = `${policy.object}${policy.generation === undefined ? '' : `, generation ${policy.generation}`}`;
  if (rule === undefined) return [row('rule now', `${where} has no rule ${d.rule} any more (its rules: ${policy.rules.map((r) => String(r['name'])).join(', ')})`)];
  // The API server returns keys sorted; name and action first, as policies are written.
  const { name, action, ...rest } = rule;
  return [row('rule now', `${where}:`), ...stringify([{ name, action, ...rest }]).trimEnd().split('\n').map((l) => `    ${l}`)];
}
