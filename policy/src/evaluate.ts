// The evaluator (pure): a loaded snapshot + an Envoy CheckRequest -> a
// decision, following DESIGN.md's decision semantics point by point. The clock
// and the rate-limit state are passed in.
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { CelBindings } from './cel.js';
import type { CheckRequestFields } from './check-request.js';
import {
  RULE_CLUSTER_CEILING, RULE_DEFAULT_DENY, RULE_INVALID_REQUEST,
  type AuditDecision, type Decision, type RequestFacts,
} from './decision.js';
import { lookupHost } from './hosts.js';
import type { LoadedRule, LoadedSnapshot } from './load.js';
import { matchTrie } from './paths.js';
import type { RateLimiter } from './ratelimit.js';
import { parseQuery, readCheckRequest, type RequestView } from './request.js';
import { inWindows } from './schedule.js';

export interface EvaluateContext {
  /** The clock, used when the CheckRequest carries no attributes.request.time (point 5). */
  readonly nowMs: number;
  readonly rateLimiter: RateLimiter;
}

/** How one rule relates to one request. */
type RuleOutcome =
  | { readonly match: false; readonly note?: string }
  | { readonly match: true; readonly note?: string; readonly params: ReadonlyMap<string, string> };

const NO_MATCH: RuleOutcome = { match: false };

interface Verdict {
  readonly allowed: boolean;
  readonly rule: LoadedRule | undefined;
  readonly ruleName: string;
  readonly reason: string;
  /** The deciding policy when no rule decided (cluster-ceiling). */
  readonly policyName?: string;
}

/** Which policies a pass decides with: the Enforce ones (effective) or all (would-be, point 4). */
type Scope = 'enforce' | 'all';

function inScope(scope: Scope, audit: boolean): boolean {
  return scope === 'all' || !audit;
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
  const nowMs = view.timeMs ?? ctx.nowMs;
  const session = new RequestSession(loaded, view, nowMs);
  const candidates = lookupHost(loaded.hosts, view.host, view.ipLiteral);

  if (!loaded.hasAudit) {
    const v = decide(session, candidates, 'enforce', ctx, true);
    return finish(v, 'Enforce', null, facts, removal);
  }
  if (!loaded.hasEnforce) {
    // Point 3: only Audit policies: allowed; the would-be decision is recorded.
    const wouldBe = decide(session, candidates, 'all', ctx, false);
    const audit = toAudit(wouldBe);
    return {
      allowed: true, mode: 'Audit', policy: audit.policy, rule: audit.rule,
      reason: `Audit mode: would ${audit.allowed ? 'allow' : 'deny'}: ${audit.reason}`,
      auditDecision: audit, headers: wouldBe.allowed ? credentialHeaders(wouldBe.rule) : [], request: facts,
      ...(removal === undefined ? {} : { headersToRemove: removal }),
    };
  }
  // Point 4: effective decision from Enforce policies, would-be with all of them.
  // The would-be decision looks at the rate limits before the effective one counts this request.
  const wouldBe = decide(session, candidates, 'all', ctx, false);
  const effective = decide(session, candidates, 'enforce', ctx, true);
  return finish(effective, 'Enforce', toAudit(wouldBe), facts, removal);
}

function finish(v: Verdict, mode: 'Enforce', audit: AuditDecision | null, facts: RequestFacts, removal: readonly string[] | undefined): Decision {
  return {
    allowed: v.allowed, mode, policy: v.rule?.policyName ?? v.policyName ?? '', rule: v.ruleName, reason: v.reason,
    auditDecision: audit, headers: v.allowed ? credentialHeaders(v.rule) : [], request: facts,
    ...(removal === undefined ? {} : { headersToRemove: removal }),
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

function credentialHeaders(rule: LoadedRule | undefined): (readonly [string, string])[] {
  const c = rule?.credential;
  if (c?.value === undefined) return [];
  return [[c.header, c.prefix + c.value]];
}

/**
 * Points 3 and 10: a matching ClusterAgentPolicy Deny rule denies; else any
 * matching namespaced Deny rule; else the first matching Allow rule allows (the
 * ceiling, its rate limit and credential permitting); else default-deny.
 */
function decide(session: RequestSession, candidates: readonly number[], scope: Scope, ctx: EvaluateContext, consume: boolean): Verdict {
  const rules = session.loaded.rules;
  const notes: string[] = [];
  const denied = firstDeny(session, candidates, scope, true) ?? firstDeny(session, candidates, scope, false);
  if (denied !== undefined) return denied;
  for (const i of candidates) {
    const rule = rules[i];
    if (rule === undefined || rule.deny || !inScope(scope, rule.audit)) continue;
    const outcome = session.outcome(rule);
    if (!outcome.match) {
      if (outcome.note !== undefined) notes.push(`rule "${rule.name}" did not match: ${outcome.note}`);
      continue;
    }
    // Checked before the rate limit counts: a request the ceiling refuses was not allowed.
    const capped = outsideCeiling(session, candidates, scope, rule);
    if (capped !== undefined) return capped;
    const limit = rule.rateLimit;
    if (limit !== undefined && !ctx.rateLimiter.admit(rule.key, limit.requests, limit.perMillis, session.nowMs, consume)) {
      return { allowed: false, rule, ruleName: rule.name, reason: `rule "${rule.name}" of ${policyOf(rule)} allows at most ${limit.requests} requests per ${limit.perMillis} ms; limit reached` };
    }
    if (rule.credential !== undefined && rule.credential.value === undefined) {
      return { allowed: false, rule, ruleName: rule.name, reason: `rule "${rule.name}" of ${policyOf(rule)} allows, but its credential "${rule.credential.name}" is not available` };
    }
    return { allowed: true, rule, ruleName: rule.name, reason: `allowed by rule "${rule.name}" of ${policyOf(rule)}` };
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

/**
 * Point 10: where ceiling ClusterAgentPolicies govern the pod, an allow by
 * `allowing` that no Allow rule of theirs matches becomes a deny with rule
 * cluster-ceiling. Undefined when the request is within the ceiling (or there is none).
 */
function outsideCeiling(session: RequestSession, candidates: readonly number[], scope: Scope, allowing: LoadedRule): Verdict | undefined {
  const ceilings = session.loaded.ceilings.filter((c) => inScope(scope, c.audit));
  if (ceilings.length === 0 || allowing.ceiling) return undefined;
  for (const i of candidates) {
    const rule = session.loaded.rules[i];
    if (rule === undefined || !rule.ceiling || rule.deny || !inScope(scope, rule.audit)) continue;
    if (session.outcome(rule).match) return undefined;
  }
  const names = ceilings.map((c) => `"${c.name}"`).join(', ');
  return {
    allowed: false, rule: undefined, ruleName: RULE_CLUSTER_CEILING, policyName: ceilings[0]?.name ?? '',
    reason: `rule "${allowing.name}" of ${policyOf(allowing)} would allow ${describeRequest(session.view)}, but no Allow rule of ClusterAgentPolicy ${names} (ceiling) does`,
  };
}

function policyOf(rule: LoadedRule): string {
  return `${rule.cluster ? 'ClusterAgentPolicy' : 'policy'} "${rule.policyName}"`;
}

function describeRequest(v: RequestView): string {
  const call = v.mcp === undefined ? '' : ` (MCP ${v.mcp.method}${v.mcp.tool === '' ? '' : ` ${v.mcp.tool}`})`;
  return v.kind === 'tls' ? `a TLS connection to ${v.host}:${v.port}` : `${v.method} ${v.host}${v.path}${call}`;
}

/** Per-request state: bindings built once; with Audit and Enforce policies both, each rule matched once. */
class RequestSession {
  private readonly outcomes: (RuleOutcome | undefined)[] | undefined;
  private baseBindings: CelBindings | undefined;

  constructor(readonly loaded: LoadedSnapshot, readonly view: RequestView, readonly nowMs: number) {
    // Two passes (effective and would-be) only when both kinds of policy govern the pod.
    this.outcomes = loaded.hasAudit && loaded.hasEnforce ? new Array<RuleOutcome | undefined>(loaded.rules.length) : undefined;
  }

  outcome(rule: LoadedRule): RuleOutcome {
    if (this.outcomes === undefined) return this.match(rule);
    let o = this.outcomes[rule.index];
    if (o === undefined) {
      o = this.match(rule);
      this.outcomes[rule.index] = o;
    }
    return o;
  }

  private match(rule: LoadedRule): RuleOutcome {
    const v = this.view;
    if (rule.ports !== undefined && !rule.ports.has(v.port)) return NO_MATCH;
    if (v.kind === 'tls' && rule.operationLevel) {
      // Envoy sees no operation inside TLS the agent opened itself. An Allow rule
      // that names one cannot allow the connection (it would allow every operation);
      // a Deny rule that names one denies it, as a condition that cannot be
      // evaluated does (point 2): the operation it forbids may be inside.
      if (!inSchedule(rule, this.nowMs)) return { match: false, note: 'outside its schedule' };
      return rule.deny ? { match: true, note: TLS_NOTE_DENY, params: EMPTY_PARAMS } : { match: false, note: TLS_NOTE_ALLOW };
    }
    const session = rule.mcp !== undefined && rule.mcp.methods.has('initialize') && isMcpSessionRequest(v);
    // The session's own GET (stream) and DELETE (end) belong to the rule that may open it, whatever
    // methods its http part names for the JSON-RPC messages (POST).
    if (!session && rule.methods !== undefined && !rule.methods.has(v.method)) return NO_MATCH;
    let params: ReadonlyMap<string, string> = EMPTY_PARAMS;
    if (rule.paths !== undefined) {
      // Deny tries hold lower-cased literals (load.ts): match them with lower-cased segments.
      const captured = matchTrie(rule.paths, v.segments, rule.deny ? v.foldedSegments : v.segments);
      if (captured === undefined) return NO_MATCH;
      params = captured;
    }
    if (rule.mcp !== undefined && !session) {
      const call = v.mcp;
      if (call === undefined) {
        const note = v.bodyNote ?? 'body is not one JSON-RPC 2.0 request';
        // A body that cannot be read as one JSON-RPC request (partial, too large, a batch, not
        // JSON) may hide a forbidden call: like a condition that fails, Deny rules match it.
        return rule.deny && v.bodyUnreadable ? { match: true, note, params } : { match: false, note };
      }
      if (!rule.mcp.methods.has(call.method)) return NO_MATCH;
      if (rule.mcp.tools !== undefined && !rule.mcp.tools.has(call.tool)) return NO_MATCH;
    }
    if (!inSchedule(rule, this.nowMs)) return { match: false, note: 'outside its schedule' };
    if (rule.when !== undefined) {
      const result = rule.when(this.bindings(params));
      if (!result.ok) {
        // Point 2: a condition that fails to evaluate, or runs out of its cost budget:
        // Allow rules do not match, Deny rules do.
        const note = result.budgetExceeded === true ? `when ${result.error}` : `when failed to evaluate (${result.error})`;
        return rule.deny ? { match: true, note, params } : { match: false, note };
      }
      if (!result.value) return NO_MATCH;
    }
    return { match: true, params };
  }

  private bindings(params: ReadonlyMap<string, string>): CelBindings {
    if (this.baseBindings === undefined) {
      const v = this.view;
      const a = this.loaded.agent;
      this.baseBindings = {
        request: { method: v.method, host: v.host, port: BigInt(v.port), path: v.path, query: parseQuery(v.rawQuery), headers: v.headers, params: EMPTY_PARAMS, body: v.body },
        mcp: { method: v.mcp?.method ?? '', tool: v.mcp?.tool ?? '', arguments: v.mcp?.arguments ?? {} },
        agent: { namespace: a.namespace, name: a.name, serviceAccount: a.serviceAccount, labels: a.labels },
        now: this.loaded.needsNow ? timestampFromMs(this.nowMs) : null,
      };
    }
    if (params.size === 0) return this.baseBindings;
    return { ...this.baseBindings, request: { ...this.baseBindings.request, params } };
  }
}

const EMPTY_PARAMS: ReadonlyMap<string, string> = new Map();

/**
 * A Streamable HTTP session's own request (DESIGN.md point 8): GET (the server's
 * stream) or DELETE (end of session) with an mcp-session-id header and no body.
 */
function isMcpSessionRequest(v: RequestView): boolean {
  return (v.method === 'GET' || v.method === 'DELETE') && v.headers.has(MCP_SESSION_HEADER) && v.body === null && !v.bodyUnreadable;
}

const MCP_SESSION_HEADER = 'mcp-session-id';

const TLS_ORIGINATION = 'use TLS origination (agentwarden.io/tls-origination) for operation-level rules';
const TLS_NOTE_ALLOW = `its http, mcp or when constraints cannot be checked on TLS that the agent opened itself; ${TLS_ORIGINATION}`;
const TLS_NOTE_DENY = `the operation it forbids may be inside TLS that the agent opened itself, where its http, mcp or when constraints cannot be checked; ${TLS_ORIGINATION}`;

function inSchedule(rule: LoadedRule, nowMs: number): boolean {
  return rule.schedule === undefined || inWindows(rule.schedule.clock.at(nowMs), rule.schedule.windows);
}
