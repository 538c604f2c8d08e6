// Risky but valid AgentPolicy patterns, returned as admission warnings (pure):
// kubectl prints them and applies the policy anyway.
import type { AgentPolicy, Rule } from '../../../policy/src/index.js';
import { parseDurationMs } from '../../../policy/src/duration.js';

/**
 * `inScope`: the other policies whose rules may add the taints this one reads
 * (for an AgentPolicy, those of its namespace and the ClusterAgentPolicies; for
 * a ClusterAgentPolicy, all). A stored version of `policy` itself is ignored.
 */
export function policyWarnings(policy: AgentPolicy, inScope: readonly AgentPolicy[] = []): string[] {
  const warnings: string[] = [];
  if (policy.mode === 'Audit') warnings.push('spec.mode: Audit: requests are decided and recorded but never denied; set mode Enforce to enforce this policy');
  policy.rules.forEach((rule, i) => {
    const at = `spec.rules[${i}] (rule "${rule.name}")`;
    if (rule.action === 'Allow' && rule.to.hosts.includes('*')) {
      const narrowed = rule.http !== undefined || rule.mcp !== undefined || rule.when !== undefined;
      warnings.push(`${at}: allows host "*": the agent may reach any host${narrowed ? ' that its http, mcp and when conditions accept' : ' with any request'}`);
    }
    const never = neverMatches(rule);
    if (never !== undefined) warnings.push(`${at}: can never match: ${never}`);
    if (rule.action === 'Deny' && rule.credential !== undefined) warnings.push(`${at}: credential "${rule.credential}" is never injected: credentials go with Allow rules only`);
    const oauth2 = policy.credentials.find((c) => c.name === rule.credential)?.oauth2;
    if (oauth2 !== undefined && rule.action !== 'Deny' && rule.credentialScopes === undefined && oauth2.scopes.length > 1) {
      warnings.push(`${at}: gets a token with every scope of oauth2 credential "${rule.credential}" (${oauth2.scopes.join(' ')}); name the ones it needs: credential: {name: ${rule.credential}, scopes: [...]}`);
    }
  });
  warnings.push(...unaddedTaints(policy, inScope), ...agentChosenSession(policy), ...anomalyWarnings(policy, inScope));
  return warnings;
}

/**
 * A rule that reads session.taints under a session key the request carries
 * (a header, or the W3C trace id): whoever writes the request picks the
 * session, and a fresh or absent key starts with no taints. A Deny on a
 * taint, or an Allow on its absence, can be walked around that way; with
 * key pod (the default) it cannot.
 */
function agentChosenSession(policy: AgentPolicy): string[] {
  const key = policy.session?.key ?? 'pod';
  if (key === 'pod') return [];
  const carried = key === 'trace' ? 'traceparent' : `the ${key.slice('header:'.length)} header`;
  return policy.rules.flatMap((rule, i) => (/\bsession\.taints\b/.test(rule.when ?? '')
    ? [`spec.rules[${i}] (rule "${rule.name}"): when reads session.taints, but spec.session.key ${key} is chosen by whoever writes the request: a request with another value of ${carried}, or none, starts a session with no taints, so a Deny on a taint (or an Allow on its absence) can be walked around; use key pod to hold every request of the pod to its taints`]
    : []));
}

/** spec.anomaly that does less, or more, than it seems to (DESIGN.md "Behaviour: baselines and anomalies"). */
function anomalyWarnings(policy: AgentPolicy, inScope: readonly AgentPolicy[]): string[] {
  const a = policy.anomaly;
  if (a === undefined) return [];
  const out: string[] = [];
  const acts = a.novelOperation === 'Deny' || a.novelOperation === 'RequireApproval' || a.rateSpike?.action === 'Deny' || a.quarantineAfter !== undefined;
  if (policy.mode === 'Audit' && acts) out.push('spec.anomaly: the policy is in Audit mode: anomalies are recorded only, never denied, and no pod is quarantined');
  const learnMs = parseDurationMs(a.learnFor) ?? 0;
  if ((a.novelOperation === 'Deny' || a.novelOperation === 'RequireApproval') && learnMs < SHORT_LEARNING_MS) {
    out.push(`spec.anomaly.learnFor: ${a.learnFor} is short for novelOperation ${a.novelOperation}: every operation the agent does not use within it is ${a.novelOperation === 'Deny' ? 'denied' : 'held for approval'} afterwards`);
  }
  const others = inScope.filter((p) => p.cluster === undefined && p.namespace === policy.namespace && p.name !== policy.name && p.anomaly !== undefined).map((p) => p.name);
  if (others.length > 0) {
    const first = [...others, policy.name].sort()[0] ?? policy.name;
    out.push(`spec.anomaly: AgentPolicy ${others.map((n) => `"${n}"`).join(', ')} in namespace ${policy.namespace} also ${others.length === 1 ? 'has' : 'have'} spec.anomaly; where several govern a pod, the first by name applies ("${first}")`);
  }
  return out;
}

/** A learning window shorter than this, with novel operations denied, is worth a warning. */
const SHORT_LEARNING_MS = 3_600_000;

/** `'x' in session.taints` (either quote): the labels a condition tests. */
const TAINT_TEST = /(['"])([a-z0-9]([-a-z0-9]*[a-z0-9])?)\1\s+in\s+session\.taints\b/g;

/** A `when` that tests a taint no rule in scope adds: it never sees it (DESIGN.md point 12). */
function unaddedTaints(policy: AgentPolicy, inScope: readonly AgentPolicy[]): string[] {
  const others = inScope.filter((p) => !(p.name === policy.name && p.namespace === policy.namespace && (p.cluster === undefined) === (policy.cluster === undefined)));
  const added = new Set([...policy.rules, ...others.flatMap((p) => p.rules)].flatMap((r) => r.taints ?? []));
  const where = policy.cluster === undefined ? `namespace ${policy.namespace} and the ClusterAgentPolicies` : 'the cluster';
  const out: string[] = [];
  policy.rules.forEach((rule, i) => {
    const tested = new Set([...(rule.when ?? '').matchAll(TAINT_TEST)].map((m) => m[2] ?? ''));
    for (const label of tested) {
      if (!added.has(label)) out.push(`spec.rules[${i}] (rule "${rule.name}"): when tests taint "${label}", which no rule of the policies in ${where} adds: session.taints never holds it`);
    }
  });
  return out;
}

function neverMatches(rule: Rule): string | undefined {
  if (rule.mcp !== undefined && rule.http !== undefined && rule.http.methods.length > 0 && !rule.http.methods.includes('POST')) {
    return `MCP requests are sent with POST, and http.methods [${rule.http.methods.join(', ')}] does not include POST`;
  }
  if (rule.schedule !== undefined && (rule.schedule.windows.length === 0 || rule.schedule.windows.every((w) => w.days.length === 0))) {
    return 'its schedule has no window, and outside every window a rule does not match';
  }
  if (rule.http !== undefined && rule.http.paths.length > 0 && rule.http.methods.length > 0 && rule.http.methods.every((m) => m === 'CONNECT')) {
    return 'CONNECT requests have no path, and http.paths is not empty';
  }
  return undefined;
}
