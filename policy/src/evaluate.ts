// The evaluator (pure): a loaded snapshot + an Envoy CheckRequest -> a
// decision, following DESIGN.md's decision semantics point by point. The clock,
// the rate-limit state and the session taints are passed in.
import type { CheckRequestFields } from './check-request.js';
import {
  RULE_DEFAULT_DENY, RULE_INVALID_REQUEST,
  type AnomalyFacts, type AuditDecision, type Decision, type DecisionSession, type RequestFacts,
} from './decision.js';
import type { GrantLedger } from './grant-ledger.js';
import { approvalGrantStep, breakGlassStep, requireApprovalStep } from './grant-steps.js';
import { lookupHost } from './hosts.js';
import type { LoadedCredential, LoadedRule, LoadedSnapshot } from './load.js';
import type { RateLimiter } from './ratelimit.js';
import { readCheckRequest } from './request.js';
import { RequestSession } from './request-session.js';
import { SessionFacts } from './session-facts.js';
import type { SessionStore, TaintOrigin } from './session-store.js';
import type { AnomalyDetector } from './anomaly.js';
import { judgeAnomaly, quarantineReason, RULE_QUARANTINED } from './anomaly-verdict.js';
import { allowByRule, credentialUsable, describeRequest, inScope, policyOf, type Scope, type Verdict } from './verdict.js';

export interface EvaluateContext {
  /** The clock, used when the CheckRequest carries no attributes.request.time (point 5). */
  readonly nowMs: number;
  readonly rateLimiter: RateLimiter;
  /**
   * When each grant was first seen and how often it was used (the sidecar keeps
   * one across snapshots). Without it, a grant ends only at its expiresAt and
   * its uses are not counted.
   */
  readonly grants?: GrantLedger;
  /**
   * The pod's session taints (point 12). Without a store, sessions are empty
   * and no decision adds to them.
   */
  readonly sessions?: SessionStore;
  /** The span context this decision's audit span will have: stored with the taints it adds, for links. */
  readonly origin?: TaintOrigin;
  /**
   * The pod's anomaly state (DESIGN.md "Behaviour"). Without it, or without
   * spec.anomaly in a governing policy, nothing is learned or judged.
   */
  readonly anomalies?: AnomalyDetector;
}

export function evaluate(loaded: LoadedSnapshot, check: CheckRequestFields, ctx: EvaluateContext): Decision {
  const read = readCheckRequest(check, { body: loaded.needsBody, headers: loaded.needsHeaders });
  if (!read.ok) {
    // Point 7: ambiguous requests are denied before any rule is looked at, in every mode.
    const reason = `invalid request: ${read.reason}`;
    return {
      allowed: false, mode: loaded.hasEnforce || !loaded.hasAudit ? 'Enforce' : 'Audit', policy: '', rule: RULE_INVALID_REQUEST, reason,
      auditDecision: loaded.hasAudit ? { allowed: false, policy: '', rule: RULE_INVALID_REQUEST, reason } : null,
      headers: [],
      request: { method: read.method, host: read.host, port: 0, path: read.path, mcpMethod: '', mcpTool: '', mcpId: undefined },
    };
  }
  const view = read.view;
  const facts: RequestFacts = {
    method: view.method, host: view.host, port: view.port, path: view.path,
    mcpMethod: view.mcp?.method ?? '', mcpTool: view.mcp?.tool ?? '', mcpId: view.mcp?.id,
  };
  // Point "Data plane": x-agentwarden-* headers the agent sent never reach the upstream.
  const removal = view.ownHeadersSent.length === 0 ? undefined : view.ownHeadersSent;
  if (loaded.rules.length === 0 && loaded.snapshot.policies.length === 0) {
    return deny(facts, RULE_DEFAULT_DENY, '', `no AgentPolicy governs pod ${loaded.agent.namespace}/${loaded.agent.name}`, removal);
  }
  const quarantine = ctx.anomalies?.quarantined();
  if (quarantine !== undefined) {
    // Point 10: right after invalid-request, before any rule.
    const a = loaded.agent;
    return deny(facts, RULE_QUARANTINED, loaded.anomaly?.policy ?? '', quarantineReason(a.namespace, a.name, quarantine), removal);
  }
  const nowMs = view.timeMs ?? ctx.nowMs;
  const sessions = loaded.sessionKeys.length === 0 ? undefined : new SessionFacts(ctx.sessions, check, loaded.agent.name, nowMs);
  const session = new RequestSession(loaded, view, nowMs, sessions);
  const candidates = lookupHost(loaded.hosts, view.host, view.ipLiteral);

  if (!loaded.hasAudit) {
    const { verdict: v, anomaly } = judged(session, decide(session, candidates, 'enforce', ctx, true), ctx, true);
    return withAnomaly(finish(v, 'Enforce', null, facts, removal, settle(session, v, true, ctx.origin), nowMs), anomaly);
  }
  if (!loaded.hasEnforce) {
    // Point 3: only Audit policies: allowed; the would-be decision is recorded.
    const { verdict: wouldBe, anomaly } = judged(session, decide(session, candidates, 'all', ctx, false), ctx, false);
    const audit = toAudit(wouldBe);
    const settled = settle(session, wouldBe, false, ctx.origin);
    return {
      allowed: true, mode: 'Audit', policy: audit.policy, rule: audit.rule,
      reason: `Audit mode: would ${audit.allowed ? 'allow' : 'deny'}: ${audit.reason}`,
      auditDecision: audit, headers: wouldBe.allowed ? credentialHeaders(wouldBe.credential ?? wouldBe.rule?.credential, nowMs) : [], request: facts,
      ...(removal === undefined ? {} : { headersToRemove: removal }),
      // Nothing was denied: no AgentAccessRequest to ask for, only the grant that would have allowed.
      ...grantFields(wouldBe, false),
      ...(settled === undefined ? {} : { session: settled }),
      ...(anomaly === undefined ? {} : { anomaly }),
    };
  }
  // Point 4: effective decision from Enforce policies, would-be with all of them.
  // The would-be decision looks at the rate limits before the effective one counts this request.
  const wouldBe = decide(session, candidates, 'all', ctx, false);
  const { verdict: effective, anomaly } = judged(session, decide(session, candidates, 'enforce', ctx, true), ctx, true);
  return withAnomaly(finish(effective, 'Enforce', toAudit(wouldBe), facts, removal, settle(session, effective, true, ctx.origin), nowMs), anomaly);
}

/** Behaviour baselines: the verdict judged against the pod's baseline (anomaly-verdict.ts); unchanged on the fast path. */
function judged(session: RequestSession, v: Verdict, ctx: EvaluateContext, act: boolean): { readonly verdict: Verdict; readonly anomaly: AnomalyFacts | undefined } {
  if (ctx.anomalies === undefined || session.loaded.anomaly === undefined) return { verdict: v, anomaly: undefined };
  return judgeAnomaly(session, v, ctx.anomalies, act);
}

function withAnomaly(d: Decision, anomaly: AnomalyFacts | undefined): Decision {
  return anomaly === undefined ? d : { ...d, anomaly };
}

/**
 * Point 12: the decision was made on the session as it was; now an effective
 * allow (`effective`) by a rule with taints adds them. Decision.session reports
 * the tainting rule's session, else the deciding rule's, else the first.
 */
function settle(session: RequestSession, v: Verdict, effective: boolean, origin: TaintOrigin | undefined): DecisionSession | undefined {
  const facts = session.sessions;
  if (facts === undefined) return undefined;
  const keys = session.loaded.sessionKeys;
  const tainting = effective && v.allowed ? taintingRule(session, v) : undefined;
  const deciding = v.rule;
  const own = deciding !== undefined && keys.some((k) => k.spec === deciding.session.spec) ? deciding.session : undefined;
  const reporting = tainting?.session ?? own ?? keys[0];
  if (reporting === undefined) return undefined;
  return facts.settle(reporting, tainting, deciding, origin);
}

/** The rule whose taints an allow adds: the allowing rule, or the RequireApproval rule an approval grant stands for. */
function taintingRule(session: RequestSession, v: Verdict): LoadedRule | undefined {
  const rule = v.rule ?? (v.grant?.kind === 'approval'
    ? session.loaded.rules.find((r) => r.approval && !r.cluster && r.name === v.ruleName && r.policyName === v.policyName)
    : undefined);
  return rule?.taints === undefined ? undefined : rule;
}

function finish(v: Verdict, mode: 'Enforce', audit: AuditDecision | null, facts: RequestFacts, removal: readonly string[] | undefined, settled: DecisionSession | undefined, nowMs: number): Decision {
  const d: Decision = {
    allowed: v.allowed, mode, policy: v.rule?.policyName ?? v.policyName ?? '', rule: v.ruleName, reason: v.reason,
    auditDecision: audit, headers: v.allowed ? credentialHeaders(v.credential ?? v.rule?.credential, nowMs) : [], request: facts,
    ...(removal === undefined ? {} : { headersToRemove: removal }),
    ...grantFields(v, true),
  };
  // Built after the fact: the fast path (no sessions) spreads nothing more.
  return settled === undefined ? d : { ...d, session: settled };
}

/** Decision.grant, .approval (`withApproval`) and .detail of a verdict, present only when set. */
function grantFields(v: Verdict, withApproval: boolean): Pick<Decision, 'grant' | 'approval' | 'detail'> {
  if (v.grant === undefined && v.approval === undefined) return {};
  return {
    ...(v.grant === undefined ? {} : { grant: v.grant }),
    ...(v.approval === undefined || !withApproval ? {} : { approval: v.approval }),
    ...(v.detail === undefined ? {} : { detail: v.detail }),
  };
}

function deny(facts: RequestFacts, rule: string, policy: string, reason: string, removal: readonly string[] | undefined): Decision {
  return {
    allowed: false, mode: 'Enforce', policy, rule, reason, auditDecision: null, headers: [], request: facts,
    ...(removal === undefined ? {} : { headersToRemove: removal }),
  };
}

function toAudit(v: Verdict): AuditDecision {
  return { allowed: v.allowed, policy: v.rule?.policyName ?? v.policyName ?? '', rule: v.ruleName, reason: v.reason };
}

function credentialHeaders(c: LoadedCredential | undefined, nowMs: number): (readonly [string, string])[] {
  // Never a stale token: an expired OAuth token is not sent (the allowing verdict already denied; Audit mode sends none).
  if (c?.value === undefined || !credentialUsable(c, nowMs)) return [];
  return [[c.header, c.prefix + c.value]];
}

/**
 * Points 3, 10 and 11, first that applies wins: a matching ClusterAgentPolicy
 * Deny rule; a break-glass grant's rule; a namespaced Deny rule; an approval
 * grant of this exact operation; a RequireApproval rule; the first matching
 * Allow rule (the ceiling, its rate limit and credential permitting); default-deny.
 */
function decide(session: RequestSession, candidates: readonly number[], scope: Scope, ctx: EvaluateContext, consume: boolean): Verdict {
  const loaded = session.loaded;
  const clusterDenied = firstDeny(session, candidates, scope, true);
  if (clusterDenied !== undefined) return clusterDenied;
  const hasGrants = loaded.grants.length > 0;
  if (hasGrants) {
    const granted = breakGlassStep(session, candidates, scope, ctx, consume);
    if (granted !== undefined) return granted;
  }
  const denied = firstDeny(session, candidates, scope, false);
  if (denied !== undefined) return denied;
  if (hasGrants) {
    const approved = approvalGrantStep(session, candidates, scope, ctx, consume);
    if (approved !== undefined) return approved;
  }
  if (loaded.hasApproval) {
    const required = requireApprovalStep(session, candidates, scope);
    if (required !== undefined) return required;
  }
  const notes: string[] = [];
  for (const i of candidates) {
    const rule = loaded.rules[i];
    if (rule === undefined || rule.deny || rule.approval || rule.grant !== undefined || !inScope(scope, rule.audit)) continue;
    const outcome = session.outcome(rule);
    if (!outcome.match) {
      if (outcome.note !== undefined) notes.push(`rule "${rule.name}" did not match: ${outcome.note}`);
      continue;
    }
    return allowByRule(session, candidates, scope, ctx.rateLimiter, consume, rule);
  }
  const detail = notes.length === 0 ? '' : `; ${notes.slice(0, 3).join('; ')}`;
  return { allowed: false, rule: undefined, ruleName: RULE_DEFAULT_DENY, reason: `no rule allows ${describeRequest(session.view)}${detail}` };
}

/** The first matching Deny rule of the ClusterAgentPolicies (`cluster`) or of the namespaced policies. */
function firstDeny(session: RequestSession, candidates: readonly number[], scope: Scope, cluster: boolean): Verdict | undefined {
  for (const i of candidates) {
    const rule = session.loaded.rules[i];
    if (rule === undefined || !rule.deny || rule.cluster !== cluster || !inScope(scope, rule.audit)) continue;
    const outcome = session.outcome(rule);
    if (outcome.match) {
      const why = outcome.note === undefined ? '' : `; ${outcome.note}`;
      return { allowed: false, rule, ruleName: rule.name, reason: `denied by rule "${rule.name}" of ${policyOf(rule)}${why}` };
    }
  }
  return undefined;
}
