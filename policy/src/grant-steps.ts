// The grant steps of DESIGN.md point 10 and the RequireApproval step of point
// 11. Grants are honoured by the sidecar's own clock (ctx.nowMs), never by the
// request's attributes.request.time, and only while the ledger says so.
import { REASON_APPROVAL_REQUIRED, REASON_CREDENTIAL_UNAVAILABLE } from './decision.js';
import type { GrantLedger } from './grant-ledger.js';
import { routeKey, type LoadedGrant, type LoadedRule } from './load.js';
import { approvalRequestName, redactedJson } from './operation.js';
import type { RateLimiter } from './ratelimit.js';
import { parseQuery } from './request.js';
import type { RequestSession } from './request-session.js';
import { allowByRule, credentialProblem, credentialUsable, describeRequest, inScope, outsideCeiling, policyOf, type Scope, type Verdict } from './verdict.js';

/** What the grant steps read of EvaluateContext. */
export interface GrantClock {
  /** The sidecar's clock: grants end by it alone. */
  readonly nowMs: number;
  readonly rateLimiter: RateLimiter;
  readonly grants?: GrantLedger;
}

function honoured(grant: LoadedGrant, ctx: GrantClock): boolean {
  // Without a ledger (a one-off decision) only expiresAt applies.
  return ctx.grants === undefined ? ctx.nowMs < grant.expiresAtMs : ctx.grants.honours(grant, ctx.nowMs);
}

/** The first matching namespaced rule that restricts: Deny or RequireApproval (`approvalOnly`: RequireApproval). */
function firstRestricting(session: RequestSession, candidates: readonly number[], scope: Scope, approvalOnly: boolean): LoadedRule | undefined {
  for (const i of candidates) {
    const rule = session.loaded.rules[i];
    if (rule === undefined || rule.cluster || !(rule.approval || (!approvalOnly && rule.deny)) || !inScope(scope, rule.audit)) continue;
    if (session.outcome(rule).match) return rule;
  }
  return undefined;
}

function ruleRef(rule: LoadedRule | undefined): string | null {
  return rule === undefined ? null : `${rule.policyName}/${rule.name}`;
}

/**
 * A break-glass grant's matching rule allows, over namespaced Deny and
 * RequireApproval rules (never over a ClusterAgentPolicy: its Deny step came
 * first, and the ceiling still applies). The decision names the grant, the rule
 * it overrode, and carries the operation in detail for the audit span.
 */
export function breakGlassStep(session: RequestSession, candidates: readonly number[], scope: Scope, ctx: GrantClock, consume: boolean): Verdict | undefined {
  for (const i of candidates) {
    const rule = session.loaded.rules[i];
    const grant = rule?.grant;
    if (rule === undefined || grant === undefined || !session.outcome(rule).match || !honoured(grant, ctx)) continue;
    const v = allowByRule(session, candidates, scope, ctx.rateLimiter, consume, rule);
    if (!v.allowed) return v;
    if (consume) ctx.grants?.use(grant, ctx.nowMs);
    const overridden = ruleRef(firstRestricting(session, candidates, scope, false));
    const view = session.view;
    return {
      ...v,
      reason: `allowed by rule "${rule.name}" of break-glass grant "${grant.name}" (approved by ${grant.approvedBy === '' ? 'unknown' : grant.approvedBy})${overridden === null ? '' : `, overriding rule ${overridden}`}`,
      grant: { name: grant.name, kind: 'break-glass', overriddenRule: overridden },
      detail: { queryKeys: [...parseQuery(view.rawQuery).keys()].sort(), mcpArguments: view.mcp === undefined ? '' : redactedJson(view.mcp.arguments) },
    };
  }
  return undefined;
}

/**
 * An approval grant allows exactly its operation (method, host, port, path,
 * query, MCP method, tool and arguments), over RequireApproval rules only: the
 * namespaced Deny step came first.
 */
export function approvalGrantStep(session: RequestSession, candidates: readonly number[], scope: Scope, ctx: GrantClock, consume: boolean): Verdict | undefined {
  const view = session.view;
  const byKey = session.loaded.approvalGrants.get(view.host)?.get(routeKey(view.method, view.port, view.path));
  if (byKey === undefined) return undefined;
  const grants = byKey.get(session.operation().key);
  const grant = grants?.find((g) => honoured(g, ctx));
  if (grant === undefined) return undefined;
  const what = `approval grant "${grant.name}"`;
  const capped = outsideCeiling(session, candidates, scope, what, false);
  if (capped !== undefined) return capped;
  const base = { rule: undefined, ruleName: grant.originRuleName === '' ? grant.name : grant.originRuleName, policyName: grant.originPolicy };
  if (grant.credential !== undefined && !credentialUsable(grant.credential, session.nowMs)) {
    return { ...base, allowed: false, reason: `${REASON_CREDENTIAL_UNAVAILABLE}: ${what} allows, but for rule ${grant.originRule} ${credentialProblem(grant.credential, session.nowMs)}` };
  }
  if (consume) ctx.grants?.use(grant, ctx.nowMs);
  const overridden = ruleRef(firstRestricting(session, candidates, scope, true));
  return {
    ...base, allowed: true,
    reason: `allowed by ${what} (approved by ${grant.approvedBy === '' ? 'unknown' : grant.approvedBy}) for ${describeRequest(session.view)}${grant.uses > 0 ? `, ${grant.uses} use(s)` : ''}`,
    ...(grant.credential === undefined ? {} : { credential: grant.credential }),
    grant: { name: grant.name, kind: 'approval', overriddenRule: overridden },
  };
}

/** Point 11: a matching RequireApproval rule denies, naming the AgentAccessRequest that asks a human. */
export function requireApprovalStep(session: RequestSession, candidates: readonly number[], scope: Scope): Verdict | undefined {
  const rule = firstRestricting(session, candidates, scope, true);
  if (rule === undefined) return undefined;
  const op = session.operation().spec;
  const name = approvalRequestName(session.loaded.agent.name, rule.policyName, rule.name, op);
  const note = session.outcome(rule).note;
  return {
    allowed: false, rule, ruleName: rule.name,
    reason: `${REASON_APPROVAL_REQUIRED}: rule "${rule.name}" of ${policyOf(rule)} needs a human to approve ${describeRequest(session.view)} (AgentAccessRequest ${session.loaded.agent.namespace}/${name})${note === undefined ? '' : `; ${note}`}`,
    approval: { name, operation: op },
  };
}
