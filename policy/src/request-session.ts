// One request as the evaluator matches rules against it (DESIGN.md points 2, 6-8):
// the CEL bindings built once, each rule's outcome kept when two passes
// (effective and would-be) look at it, and the request's operation (point 11)
// computed only when a RequireApproval rule or an approval grant needs it.
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { celMap, type CelInput, type CelMap } from '@bufbuild/cel';
import type { CelBindings } from './cel.js';
import type { LoadedRule, LoadedSnapshot } from './load.js';
import type { OperationSpec } from './model.js';
import { operationKeyOf, operationOf } from './operation.js';
import { matchTrie } from './paths.js';
import { parseQuery, type RequestView } from './request.js';
import { inWindows } from './schedule.js';
import type { SessionFacts } from './session-facts.js';

/** How one rule relates to one request. */
export type RuleOutcome =
  | { readonly match: false; readonly note?: string }
  | { readonly match: true; readonly note?: string; readonly params: ReadonlyMap<string, string> };

const NO_MATCH: RuleOutcome = { match: false };

/** Per-request state: bindings built once; with Audit and Enforce policies both, each rule matched once. */
export class RequestSession {
  private readonly outcomes: (RuleOutcome | undefined)[] | undefined;
  private baseBindings: CelBindings | undefined;
  /** request.query, for a rule's bindings with its own params. */
  private query: ReadonlyMap<string, readonly string[]> | undefined;
  private op: { readonly spec: OperationSpec; readonly key: string } | undefined;

  /** `sessions`: present when some rule has taints or reads `session` (DESIGN.md point 12). */
  constructor(readonly loaded: LoadedSnapshot, readonly view: RequestView, readonly nowMs: number, readonly sessions?: SessionFacts) {
    // Two passes (effective and would-be) only when both kinds of policy govern the pod.
    this.outcomes = loaded.hasAudit && loaded.hasEnforce ? new Array<RuleOutcome | undefined>(loaded.rules.length) : undefined;
  }

  /** The request's operation and its operationKey(), computed once. */
  operation(): { readonly spec: OperationSpec; readonly key: string } {
    if (this.op === undefined) {
      const spec = operationOf(this.view);
      this.op = { spec, key: operationKeyOf(spec) };
    }
    return this.op;
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
      return restricts(rule) ? { match: true, note: TLS_NOTE_DENY, params: EMPTY_PARAMS } : { match: false, note: TLS_NOTE_ALLOW };
    }
    const session = rule.mcp !== undefined && rule.mcp.methods.has('initialize') && isMcpSessionRequest(v);
    // The session's own GET (stream) and DELETE (end) belong to the rule that may open it, whatever
    // methods its http part names for the JSON-RPC messages (POST).
    if (!session && rule.methods !== undefined && !rule.methods.has(v.method)) return NO_MATCH;
    let params: ReadonlyMap<string, string> = EMPTY_PARAMS;
    if (rule.paths !== undefined) {
      // Deny tries hold lower-cased literals (load.ts): match them with lower-cased segments.
      const captured = matchTrie(rule.paths, v.segments, restricts(rule) ? v.foldedSegments : v.segments);
      if (captured === undefined) return NO_MATCH;
      params = captured;
    }
    if (rule.mcp !== undefined && !session) {
      const call = v.mcp;
      if (call === undefined) {
        const note = v.bodyNote ?? 'body is not one JSON-RPC 2.0 request';
        // A body that cannot be read as one JSON-RPC request (partial, too large, a batch, not
        // JSON) may hide a forbidden call: like a condition that fails, Deny rules match it.
        return restricts(rule) && v.bodyUnreadable ? { match: true, note, params } : { match: false, note };
      }
      if (!rule.mcp.methods.has(call.method)) return NO_MATCH;
      if (rule.mcp.tools !== undefined && !rule.mcp.tools.has(call.tool)) return NO_MATCH;
    }
    if (!inSchedule(rule, this.nowMs)) return { match: false, note: 'outside its schedule' };
    if (rule.when !== undefined) {
      const result = rule.when(this.bindings(params, rule));
      if (!result.ok) {
        // Point 2: a condition that fails to evaluate, or runs out of its cost budget:
        // Allow rules do not match, Deny rules do.
        const note = result.budgetExceeded === true ? `when ${result.error}` : `when failed to evaluate (${result.error})`;
        return restricts(rule) ? { match: true, note, params } : { match: false, note };
      }
      if (!result.value) return NO_MATCH;
    }
    return { match: true, params };
  }

  private bindings(params: ReadonlyMap<string, string>, rule: LoadedRule): CelBindings {
    const base = this.baseBindingsOf(params);
    if (!rule.readsSession) return base;
    return { ...base, session: this.sessions?.binding(rule.session) ?? EMPTY_SESSION };
  }

  /**
   * The variables as CEL maps, built once: @bufbuild/cel converts a plain
   * object into a new Map at every access of one of its fields (toCel), a map
   * it only wraps. The same values either way.
   */
  private baseBindingsOf(params: ReadonlyMap<string, string>): CelBindings {
    if (this.baseBindings === undefined || this.query === undefined) {
      const v = this.view;
      this.query = parseQuery(v.rawQuery);
      this.baseBindings = {
        request: requestBinding(v, this.query, EMPTY_PARAMS),
        mcp: celMap(new Map<string, CelInput>().set('method', v.mcp?.method ?? '').set('tool', v.mcp?.tool ?? '').set('arguments', (v.mcp?.arguments ?? {}) as CelInput)),
        agent: agentBinding(this.loaded.agent),
        now: this.loaded.needsNow ? timestampFromMs(this.nowMs) : null,
      };
    }
    if (params.size === 0) return this.baseBindings;
    return { ...this.baseBindings, request: requestBinding(this.view, this.query, params) };
  }
}

/**
 * `request` as a CEL map. (set() one by one: a Map built from pairs or copied
 * from another goes through the iterator protocol.) Values as CEL reads them;
 * the body is parsed JSON.
 */
function requestBinding(v: RequestView, query: ReadonlyMap<string, readonly string[]>, params: ReadonlyMap<string, string>): CelMap {
  return celMap(new Map<string, CelInput>()
    .set('method', v.method).set('host', v.host).set('port', BigInt(v.port)).set('path', v.path).set('query', query)
    .set('headers', v.headers).set('params', params).set('body', v.body as CelInput));
}

/** `agent` as a CEL map, once per snapshot's agent. */
const agentBindings = new WeakMap<LoadedSnapshot['agent'], CelMap>();

function agentBinding(a: LoadedSnapshot['agent']): CelMap {
  let m = agentBindings.get(a);
  if (m === undefined) {
    m = celMap(new Map<string, CelInput>([['namespace', a.namespace], ['name', a.name], ['serviceAccount', a.serviceAccount], ['labels', a.labels]]));
    agentBindings.set(a, m);
  }
  return m;
}

const EMPTY_PARAMS: ReadonlyMap<string, string> = new Map();
const EMPTY_SESSION = { id: '', taints: [] } as const;

/**
 * Deny and RequireApproval rules restrict: where a request cannot be read
 * fully (a failing condition, an unreadable body, TLS the agent opened) they
 * match, as point 2 says of Deny, so that doubt never turns into an allow.
 */
function restricts(rule: LoadedRule): boolean {
  return rule.deny || rule.approval;
}

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
