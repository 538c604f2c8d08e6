// Turns a compiled Snapshot (protobuf) into the in-memory form the evaluator
// runs: Maps instead of proto maps, method Sets, path tries, CEL planned once,
// one clock per time zone. Done once per snapshot, never per request.
import { Action, GrantKind, Mode, type Grant, type PathNode, type Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { planCondition, checkCondition, type PlannedCondition } from './cel.js';
import type { HostIndex } from './hosts.js';
import type { PathTrie } from './paths.js';
import { ZoneClock, type WindowSpec } from './schedule.js';
import type { LedgerGrant } from './grant-ledger.js';
import { canonicalJson, operationKey } from './operation.js';
import { loadAnomaly, type LoadedAnomaly } from './anomaly-load.js';

export interface LoadedRule {
  readonly index: number;
  /** "policy/rule": the rate-limit key, stable across snapshots. */
  readonly key: string;
  readonly policy: number;
  readonly policyName: string;
  readonly audit: boolean;
  /** The rule belongs to a ClusterAgentPolicy. */
  readonly cluster: boolean;
  /** The rule belongs to a ClusterAgentPolicy with ceiling: true. */
  readonly ceiling: boolean;
  readonly name: string;
  readonly deny: boolean;
  /** action RequireApproval (point 11). */
  readonly approval: boolean;
  /** The break-glass grant whose rule this is: it decides only at the grant step of point 10. */
  readonly grant: LoadedGrant | undefined;
  readonly ports: ReadonlySet<number> | undefined;
  readonly methods: ReadonlySet<string> | undefined;
  readonly paths: PathTrie | undefined;
  /** The rule has http, mcp or when constraints: it cannot match a TLS connection the agent opened itself. */
  readonly operationLevel: boolean;
  readonly mcp: { readonly methods: ReadonlySet<string>; readonly tools: ReadonlySet<string> | undefined } | undefined;
  readonly when: PlannedCondition | undefined;
  readonly schedule: { readonly clock: ZoneClock; readonly windows: readonly WindowSpec[] } | undefined;
  readonly rateLimit: { readonly requests: number; readonly perMillis: number } | undefined;
  readonly credential: LoadedCredential | undefined;
  /** Labels this rule adds to its policy's session when it allows; undefined when none. */
  readonly taints: readonly string[] | undefined;
  /** Its policy's session: whose session `session.*` reads and the taints join. */
  readonly session: SessionKey;
  /** How long a label this rule adds lasts (its policy's session.ttl). */
  readonly sessionTtlMs: number;
  /** Its `when` reads `session` (id or taints). */
  readonly readsSession: boolean;
  /** Its `when` reads `session.taints`: a decision it makes links to the taints' origins. */
  readonly readsTaints: boolean;
  /** Its only path template, for operation fingerprints (fingerprint.ts); undefined with none or several. */
  readonly pathTemplate: string | undefined;
}

/** Whose session: spec.session.key read once per policy. */
export interface SessionKey {
  /** As written: "pod", "trace" or "header:<name>"; also the prefix of the store key. */
  readonly spec: string;
  readonly kind: 'pod' | 'header' | 'trace';
  /** kind header: the lower-case header name. */
  readonly header: string;
}

/** spec.session.ttl when absent (DEFAULT_SESSION_TTL). */
export const DEFAULT_SESSION_TTL_MS = 3_600_000;

/** One active grant as the evaluator uses it. */
export interface LoadedGrant extends LedgerGrant {
  readonly namespace: string;
  readonly kind: 'approval' | 'break-glass';
  readonly approvedBy: string;
  /** Approval: the RequireApproval rule that asked for it ("policy/rule", "" when unknown) and its credential. */
  readonly originRule: string;
  readonly originPolicy: string;
  readonly originRuleName: string;
  readonly credential: LoadedCredential | undefined;
}

/**
 * Approval grants by operation host, then by routeKey() (method, port, path),
 * then by operationKey(): a request builds its full operation key (arguments in
 * canonical JSON) only when some grant has its host, method, port and path.
 */
export type ApprovalIndex = ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<string, readonly LoadedGrant[]>>>;

/** The second level of ApprovalIndex. */
export function routeKey(method: string, port: number, path: string): string {
  return `${method} ${port} ${path}`;
}

export interface LoadedCredential {
  readonly name: string;
  readonly header: string;
  readonly prefix: string;
  readonly value: string | undefined;
  /**
   * A brokered OAuth token: the value is used only before this instant (Unix ms,
   * the sidecar's clock): min(expires_at_ms, first load + lifetime_ms).
   * Undefined for a static credential.
   */
  readonly usableUntilMs?: number;
  /** The rule's scope set (oauth2), for the deny reason. */
  readonly scopes?: readonly string[];
  /** Why an oauth2 credential has no token (from the controller). */
  readonly unavailableReason?: string;
  /** oauth2: "policy/credential#scopes", what a token is held under across snapshots (LoadOptions.heldToken). */
  readonly tokenKey?: string;
}

/** A token a sidecar holds from an earlier snapshot, with the instant it stops using it. */
export interface HeldToken {
  readonly value: string;
  readonly usableUntilMs: number;
}

export interface LoadedSnapshot {
  readonly version: string;
  readonly snapshot: Snapshot;
  readonly agent: { readonly namespace: string; readonly name: string; readonly serviceAccount: string; readonly labels: ReadonlyMap<string, string> };
  readonly rules: readonly LoadedRule[];
  readonly hosts: HostIndex;
  /** Active grants, by name; empty on the fast path. */
  readonly grants: readonly LoadedGrant[];
  readonly approvalGrants: ApprovalIndex;
  /** Some rule is a RequireApproval rule. */
  readonly hasApproval: boolean;
  readonly hasEnforce: boolean;
  readonly hasAudit: boolean;
  /** The ClusterAgentPolicies with ceiling: true that govern the pod. */
  readonly ceilings: readonly CeilingPolicy[];
  /** Some rule reads the body (an mcp match, or a condition using request.body or mcp). */
  readonly needsBody: boolean;
  /** Some condition reads request.headers / now. */
  readonly needsHeaders: boolean;
  readonly needsNow: boolean;
  /**
   * The session keys of the policies that have a rule with taints or a `when`
   * that reads `session`; empty on the fast path (no decision carries a session).
   */
  readonly sessionKeys: readonly SessionKey[];
  /** spec.anomaly, the learned baseline and the pod's quarantine (anomaly-load.ts); undefined without spec.anomaly. */
  readonly anomaly: LoadedAnomaly | undefined;
}

export interface CeilingPolicy {
  readonly name: string;
  readonly audit: boolean;
}

export class SnapshotLoadError extends Error {}

export interface LoadOptions {
  /** The pod name, for snapshots shared across pods (agent.name empty). */
  readonly podName?: string;
  /** Comprehension iterations one condition evaluation may take (default DEFAULT_CONDITION_STEP_BUDGET, cel-budget.ts). */
  readonly conditionBudget?: number;
  /**
   * When a brokered OAuth token was first loaded (Unix ms, this sidecar's clock),
   * by its revision; a token not in it is first loaded now (`nowMs`). A token is
   * used at most its lifetime after that, whatever the controller's clock said.
   */
  readonly tokenFirstSeen?: (revision: string, nowMs: number) => number;
  /** The load time (default: the clock). */
  readonly nowMs?: number;
  /**
   * The token an earlier snapshot gave for this key, used while unexpired when
   * the new snapshot brings none for it (a new leader that has not fetched
   * yet, a restarted controller): no gap on failover, and never a stale token.
   */
  readonly heldToken?: (tokenKey: string, nowMs: number) => HeldToken | undefined;
}

/** Loads a snapshot; throws SnapshotLoadError when it is inconsistent (the sidecar NACKs it). */
export function loadSnapshot(snapshot: Snapshot, options: LoadOptions = {}): LoadedSnapshot {
  const clocks = new Map<string, ZoneClock>();
  const grants = snapshot.grants.map((g) => loadGrant(g, snapshot, options));
  const breakGlassByPolicy = new Map<number, LoadedGrant>();
  snapshot.grants.forEach((g, i) => {
    const loaded = grants[i];
    if (g.policy !== undefined && loaded !== undefined) breakGlassByPolicy.set(g.policy, loaded);
  });
  let needsBody = false;
  let needsHeaders = false;
  let needsNow = false;
  const sessionKeys = new Map<string, SessionKey>();
  const policyKeys = snapshot.policies.map((p) => sessionKeyOf(p.sessionKey));
  const rules = snapshot.rules.map((rule, index): LoadedRule => {
    const policy = snapshot.policies[rule.policy];
    if (policy === undefined) throw new SnapshotLoadError(`rule ${index} "${rule.name}" refers to missing policy ${rule.policy}`);
    let when: PlannedCondition | undefined;
    let readsSession = false;
    let readsTaints = false;
    if (rule.when !== undefined) {
      const checked = checkCondition(rule.when.cel);
      if (typeof checked === 'string') throw new SnapshotLoadError(`policy "${policy.name}" rule "${rule.name}": when: ${checked}`);
      const uses = checked.uses;
      needsBody ||= uses.has('mcp') || uses.has('request.body') || uses.has('request.*');
      needsHeaders ||= uses.has('request.headers') || uses.has('request.*');
      needsNow ||= uses.has('now');
      readsSession = uses.has('session');
      readsTaints = uses.has('session.taints') || uses.has('session.*');
      when = planCondition(rule.when.cel, { budget: options.conditionBudget, policy: policy.name, rule: rule.name });
    }
    if (rule.mcp !== undefined || rule.action === Action.REQUIRE_APPROVAL) needsBody = true;
    let schedule: LoadedRule['schedule'];
    if (rule.schedule !== undefined) {
      const zone = rule.schedule.timezone;
      let clock = clocks.get(zone);
      if (clock === undefined) {
        try {
          clock = new ZoneClock(zone);
        } catch (e: unknown) {
          throw new SnapshotLoadError(`policy "${policy.name}" rule "${rule.name}": unknown time zone "${zone}"`, { cause: e });
        }
        clocks.set(zone, clock);
      }
      schedule = { clock, windows: rule.schedule.windows.map((w) => ({ days: w.days, startMinute: w.startMinute, endMinute: w.endMinute })) };
    }
    const credential = loadCredential(snapshot, rule.credential, rule.name, options);
    const grant = policy.grant === '' ? undefined : breakGlassByPolicy.get(rule.policy);
    if (policy.grant !== '' && grant === undefined) throw new SnapshotLoadError(`rule "${rule.name}" belongs to grant "${policy.grant}", which the snapshot does not carry`);
    const session = policyKeys[rule.policy];
    if (session === undefined) throw new SnapshotLoadError(`policy "${policy.name}": session_key "${policy.sessionKey}" is not pod, trace or header:<name>`);
    if (readsSession || rule.taints.length > 0) sessionKeys.set(session.spec, session);
    if (grant !== undefined && rule.action !== Action.ALLOW) throw new SnapshotLoadError(`rule "${rule.name}" of grant "${grant.name}": a break-glass rule can only allow`);
    return {
      index,
      // A ClusterAgentPolicy may share its name with a namespaced one: keep their rate limits apart.
      key: `${policy.cluster ? 'cluster:' : policy.grant !== '' ? 'grant:' : ''}${policy.name}/${rule.name}`,
      policy: rule.policy,
      policyName: policy.name,
      audit: policy.mode === Mode.AUDIT,
      cluster: policy.cluster,
      ceiling: policy.cluster && policy.ceiling,
      name: rule.name,
      deny: rule.action === Action.DENY,
      approval: rule.action === Action.REQUIRE_APPROVAL,
      grant,
      ports: rule.ports.length === 0 ? undefined : new Set(rule.ports),
      methods: rule.http === undefined || rule.http.methods.length === 0 ? undefined : new Set(rule.http.methods),
      // Deny (and RequireApproval) rules match literal segments case-insensitively: a server that matches
      // paths so (IIS, ASP.NET, Spring with case-insensitive matching) reads
      // "/Admin" as "/admin". Allow rules stay exact (a miss only denies).
      paths: rule.http?.paths === undefined ? undefined : toTrie(rule.http.paths, rule.action !== Action.ALLOW),
      operationLevel: rule.http !== undefined || rule.mcp !== undefined || rule.when !== undefined,
      mcp: rule.mcp === undefined ? undefined : { methods: new Set(rule.mcp.methods), tools: rule.mcp.tools.length === 0 ? undefined : new Set(rule.mcp.tools) },
      when,
      schedule,
      rateLimit: rule.rateLimit === undefined ? undefined : { requests: rule.rateLimit.requests, perMillis: Number(rule.rateLimit.perMillis) },
      credential,
      taints: rule.taints.length === 0 ? undefined : [...rule.taints],
      session,
      sessionTtlMs: policy.sessionTtlMs === 0n ? DEFAULT_SESSION_TTL_MS : Number(policy.sessionTtlMs),
      readsSession,
      readsTaints,
      pathTemplate: rule.http?.pathTemplates.length === 1 ? rule.http.pathTemplates[0] : undefined,
    };
  });
  const index = snapshot.hostIndex;
  const hosts: HostIndex = {
    exact: new Map(Object.entries(index?.exact ?? {}).map(([k, v]) => [k, checkedRefs(v.rules, rules.length)])),
    suffix: new Map(Object.entries(index?.suffix ?? {}).map(([k, v]) => [k, checkedRefs(v.rules, rules.length)])),
    any: checkedRefs(index?.any?.rules ?? [], rules.length),
  };
  const agent = snapshot.agent;
  return {
    version: snapshot.version,
    snapshot,
    agent: { namespace: agent?.namespace ?? '', name: agent?.name !== undefined && agent.name !== '' ? agent.name : (options.podName ?? ''), serviceAccount: agent?.serviceAccount ?? '', labels: new Map(Object.entries(agent?.labels ?? {})) },
    rules,
    hosts,
    grants,
    approvalGrants: approvalIndex(snapshot.grants, grants),
    hasApproval: rules.some((r) => r.approval),
    // A break-glass grant's Policy is no governing policy: it changes no pod's mode.
    hasEnforce: snapshot.policies.some((p) => p.grant === '' && p.mode !== Mode.AUDIT),
    hasAudit: snapshot.policies.some((p) => p.grant === '' && p.mode === Mode.AUDIT),
    ceilings: snapshot.policies.filter((p) => p.cluster && p.ceiling).map((p) => ({ name: p.name, audit: p.mode === Mode.AUDIT })),
    needsBody: needsBody || snapshot.grants.some((g) => g.kind === GrantKind.APPROVAL),
    needsHeaders,
    needsNow,
    sessionKeys: [...sessionKeys.values()],
    anomaly: loadAnomaly(snapshot),
  };
}

/** Policy.session_key read ("" is pod); undefined when it is none of pod, trace, header:<name>. */
function sessionKeyOf(spec: string): SessionKey | undefined {
  if (spec === '' || spec === 'pod') return { spec: 'pod', kind: 'pod', header: '' };
  if (spec === 'trace') return { spec, kind: 'trace', header: '' };
  if (spec.startsWith('header:') && spec.length > 7) return { spec, kind: 'header', header: spec.slice(7).toLowerCase() };
  return undefined;
}

function loadCredential(snapshot: Snapshot, index: number | undefined, ruleName: string, options: LoadOptions): LoadedCredential | undefined {
  if (index === undefined) return undefined;
  const c = snapshot.credentials[index];
  if (c === undefined) throw new SnapshotLoadError(`rule "${ruleName}" refers to missing credential ${index}`);
  // Secrets created from files often end in a newline, which no header value may carry.
  const value = c.resolved ? new TextDecoder().decode(c.value).replace(/[\r\n]+$/, '') : undefined;
  const base = { name: c.name, header: c.header.toLowerCase(), prefix: c.prefix, value };
  if (!c.oauth2) return base;
  // An oauth2 token without an expiry is never used (no stale token: the controller always sends one).
  const nowMs = options.nowMs ?? Date.now();
  const firstSeen = options.tokenFirstSeen?.(c.revision, nowMs) ?? nowMs;
  const usableUntilMs = value === undefined || c.expiresAtMs <= 0n || c.lifetimeMs <= 0n ? 0 : Math.min(Number(c.expiresAtMs), firstSeen + Number(c.lifetimeMs));
  const tokenKey = `${c.policy}/${c.name}#${c.scopes.join(' ')}`;
  const held = usableUntilMs === 0 ? options.heldToken?.(tokenKey, nowMs) : undefined;
  if (held !== undefined && nowMs < held.usableUntilMs) {
    return { ...base, value: held.value, usableUntilMs: held.usableUntilMs, scopes: [...c.scopes], unavailableReason: c.unavailableReason, tokenKey };
  }
  return { ...base, value: usableUntilMs === 0 ? undefined : value, usableUntilMs, scopes: [...c.scopes], unavailableReason: c.unavailableReason, tokenKey };
}

function loadGrant(g: Grant, snapshot: Snapshot, options: LoadOptions): LoadedGrant {
  const kind = g.kind === GrantKind.BREAK_GLASS ? 'break-glass' : g.kind === GrantKind.APPROVAL ? 'approval' : undefined;
  if (kind === undefined) throw new SnapshotLoadError(`grant "${g.name}" has no kind`);
  if (kind === 'approval' && g.operation === undefined) throw new SnapshotLoadError(`approval grant "${g.name}" has no operation`);
  if (kind === 'break-glass' && (g.policy === undefined || snapshot.policies[g.policy]?.grant !== g.name)) {
    throw new SnapshotLoadError(`break-glass grant "${g.name}" refers to missing policy ${g.policy ?? '(none)'}`);
  }
  const slash = g.originRule.indexOf('/');
  const originPolicy = slash < 0 ? '' : g.originRule.slice(0, slash);
  const originRuleName = slash < 0 ? '' : g.originRule.slice(slash + 1);
  // The origin rule's credential, when that rule (namespaced, in this snapshot) has one.
  const origin = kind === 'approval' ? snapshot.rules.find((r) => r.name === originRuleName && snapshot.policies[r.policy]?.name === originPolicy && snapshot.policies[r.policy]?.cluster === false && snapshot.policies[r.policy]?.grant === '') : undefined;
  return {
    name: g.name, uid: g.uid === '' ? `${g.namespace}/${g.name}` : g.uid, namespace: g.namespace, kind,
    expiresAtMs: Number(g.expiresAtMs), durationMs: Number(g.durationMs), uses: g.uses, approvedBy: g.approvedBy,
    originRule: g.originRule, originPolicy, originRuleName,
    credential: loadCredential(snapshot, origin?.credential, origin?.name ?? '', options),
  };
}

/** Approval grants by host and exact operation key (arguments re-canonicalised: the evaluator compares strings). */
function approvalIndex(messages: readonly Grant[], grants: readonly LoadedGrant[]): ApprovalIndex {
  const index = new Map<string, Map<string, Map<string, LoadedGrant[]>>>();
  messages.forEach((g, i) => {
    const op = g.operation;
    const loaded = grants[i];
    if (op === undefined || loaded === undefined || loaded.kind !== 'approval') return;
    let args = '';
    if (op.mcpArguments !== '' || op.mcpMethod !== '') {
      try {
        args = canonicalJson(JSON.parse(op.mcpArguments === '' ? '{}' : op.mcpArguments));
      } catch (e: unknown) {
        throw new SnapshotLoadError(`approval grant "${g.name}": operation.mcp_arguments is not JSON`, { cause: e });
      }
    }
    const key = operationKey(op.method, op.host, op.port, op.path, op.query, op.mcpMethod, op.mcpTool, args);
    let byRoute = index.get(op.host);
    if (byRoute === undefined) index.set(op.host, (byRoute = new Map<string, Map<string, LoadedGrant[]>>()));
    const route = routeKey(op.method, op.port, op.path);
    let byKey = byRoute.get(route);
    if (byKey === undefined) byRoute.set(route, (byKey = new Map<string, LoadedGrant[]>()));
    byKey.set(key, [...(byKey.get(key) ?? []), loaded]);
  });
  return index;
}

function checkedRefs(refs: readonly number[], count: number): number[] {
  for (const r of refs) if (r >= count) throw new SnapshotLoadError(`host index refers to missing rule ${r}`);
  return [...refs].sort((a, b) => a - b);
}

/** The runtime trie; with `fold`, literal segments lower-cased (merging those that differ only in case). */
function toTrie(node: PathNode, fold: boolean): PathTrie {
  const literal = new Map<string, PathTrie>();
  for (const [k, v] of Object.entries(node.literal)) {
    const key = fold ? k.toLowerCase() : k;
    const next = toTrie(v, fold);
    const prev = literal.get(key);
    literal.set(key, prev === undefined ? next : mergeTries(prev, next));
  }
  return {
    literal,
    params: node.params.map((p) => ({ name: p.name, next: toTrie(p.next ?? { $typeName: 'agentwarden.v1.PathNode', literal: {}, params: [], end: false, rest: false }, fold) })),
    wildcard: node.wildcard === undefined ? undefined : toTrie(node.wildcard, fold),
    end: node.end,
    rest: node.rest,
  };
}

/** Two tries as one: a path matches the result when it matches either. */
function mergeTries(a: PathTrie, b: PathTrie): PathTrie {
  const literal = new Map(a.literal);
  for (const [k, v] of b.literal) {
    const prev = literal.get(k);
    literal.set(k, prev === undefined ? v : mergeTries(prev, v));
  }
  return {
    literal,
    params: [...a.params, ...b.params],
    wildcard: a.wildcard === undefined ? b.wildcard : b.wildcard === undefined ? a.wildcard : mergeTries(a.wildcard, b.wildcard),
    end: a.end || b.end,
    rest: a.rest || b.rest,
  };
}
