// What one pass of the evaluator decides (a Verdict), and the checks every
// allow goes through, whether a rule or a grant allows (DESIGN.md points 9 and
// 10): the ceiling, the rate limit, the credential.
import { REASON_CREDENTIAL_UNAVAILABLE, RULE_CLUSTER_CEILING, type ApprovalFacts, type DecisionDetail, type GrantFacts } from './decision.js';
import type { LoadedCredential, LoadedRule } from './load.js';
import type { RateLimiter } from './ratelimit.js';
import type { RequestView } from './request-view.js';
import type { RequestSession } from './request-session.js';

export interface Verdict {
  readonly allowed: boolean;
  readonly rule: LoadedRule | undefined;
  readonly ruleName: string;
  readonly reason: string;
  /** The deciding policy when no rule decided (cluster-ceiling, an approval grant). */
  readonly policyName?: string;
  /** Injected on allow when no rule carries it (an approval grant's origin rule's). */
  readonly credential?: LoadedCredential;
  readonly grant?: GrantFacts;
  readonly approval?: ApprovalFacts;
  readonly detail?: DecisionDetail;
}

/** Which policies a pass decides with: the Enforce ones (effective) or all (would-be, point 4). */
export type Scope = 'enforce' | 'all';

export function inScope(scope: Scope, audit: boolean): boolean {
  return scope === 'all' || !audit;
}

/** What verdicts say of a rule, written once per rule: an allow's reason is the same text every time, and a string used again keeps its hash for the span's attribute cache. */
interface RuleTexts {
  /** `rule "name" of policy "p"` */
  readonly named: string;
  readonly allowed: string;
}

const ruleTexts = new WeakMap<LoadedRule, RuleTexts>();

function textsOf(rule: LoadedRule): RuleTexts {
  let t = ruleTexts.get(rule);
  if (t === undefined) {
    const named = `rule "${rule.name}" of ${policyOf(rule)}`;
    t = { named, allowed: `allowed by ${named}` };
    ruleTexts.set(rule, t);
  }
  return t;
}

export function policyOf(rule: LoadedRule): string {
  if (rule.grant !== undefined) return `break-glass grant "${rule.grant.name}"`;
  return `${rule.cluster ? 'ClusterAgentPolicy' : 'policy'} "${rule.policyName}"`;
}

export function describeRequest(v: RequestView): string {
  const call = v.mcp === undefined ? '' : ` (MCP ${v.mcp.method}${v.mcp.tool === '' ? '' : ` ${v.mcp.tool}`})`;
  return v.kind === 'tls' ? `a TLS connection to ${v.host}:${v.port}` : `${v.method} ${v.host}${v.path}${call}`;
}

/**
 * Point 10: where ceiling ClusterAgentPolicies govern the pod, an allow (by
 * `what`: a rule or a grant) that no Allow rule of theirs matches becomes a deny
 * with rule cluster-ceiling. Undefined when the request is within the ceiling
 * (or there is none, or `exempt`: the allowing rule is a ceiling rule itself).
 */
export function outsideCeiling(session: RequestSession, candidates: readonly number[], scope: Scope, what: string, exempt: boolean): Verdict | undefined {
  if (exempt || session.loaded.ceilings.length === 0) return undefined;
  const ceilings = session.loaded.ceilings.filter((c) => inScope(scope, c.audit));
  if (ceilings.length === 0) return undefined;
  for (const i of candidates) {
    const rule = session.loaded.rules[i];
    if (rule === undefined || !rule.ceiling || rule.deny || !inScope(scope, rule.audit)) continue;
    if (session.outcome(rule).match) return undefined;
  }
  const names = ceilings.map((c) => `"${c.name}"`).join(', ');
  return {
    allowed: false, rule: undefined, ruleName: RULE_CLUSTER_CEILING, policyName: ceilings[0]?.name ?? '',
    reason: `${what} would allow ${describeRequest(session.view)}, but no Allow rule of ClusterAgentPolicy ${names} (ceiling) does`,
  };
}

/** A matching Allow (or break-glass) rule: allowed, unless the ceiling, its rate limit or a missing credential says no. */
export function allowByRule(session: RequestSession, candidates: readonly number[], scope: Scope, limiter: RateLimiter, consume: boolean, rule: LoadedRule): Verdict {
  // Checked before the rate limit counts: a request the ceiling refuses was not allowed.
  const capped = outsideCeiling(session, candidates, scope, textsOf(rule).named, rule.ceiling);
  if (capped !== undefined) return capped;
  const limit = rule.rateLimit;
  if (limit !== undefined && !limiter.admit(rule.key, limit.requests, limit.perMillis, session.nowMs, consume)) {
    return { allowed: false, rule, ruleName: rule.name, reason: `${textsOf(rule).named} allows at most ${limit.requests} requests per ${limit.perMillis} ms; limit reached` };
  }
  if (rule.credential !== undefined && !credentialUsable(rule.credential, session.nowMs)) {
    return { allowed: false, rule, ruleName: rule.name, reason: `${REASON_CREDENTIAL_UNAVAILABLE}: ${textsOf(rule).named} allows, but ${credentialProblem(rule.credential, session.nowMs)}` };
  }
  return { allowed: true, rule, ruleName: rule.name, reason: textsOf(rule).allowed };
}

/** A static value is there, or a brokered OAuth token is there and unexpired by this sidecar's clock (never a stale token). */
export function credentialUsable(c: LoadedCredential, nowMs: number): boolean {
  return c.value !== undefined && (c.usableUntilMs === undefined || nowMs < c.usableUntilMs);
}

/** Why `c` cannot be injected, in words (never the value). */
export function credentialProblem(c: LoadedCredential, nowMs: number): string {
  if (c.usableUntilMs === undefined) return `its credential "${c.name}" is not available`;
  const which = `its OAuth credential "${c.name}" (scopes ${c.scopes?.join(' ') || 'none'})`;
  if (c.value !== undefined && nowMs >= c.usableUntilMs) return `${which} has no unexpired token (the last one expired ${nowMs - c.usableUntilMs} ms ago)`;
  return `${which} has no token: ${c.unavailableReason === undefined || c.unavailableReason === '' ? 'none fetched yet' : c.unavailableReason}`;
}
