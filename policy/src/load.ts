// Turns a compiled Snapshot (protobuf) into the in-memory form the evaluator
// runs: Maps instead of proto maps, method Sets, path tries, CEL planned once,
// one clock per time zone. Done once per snapshot, never per request.
import { Action, Mode, type PathNode, type Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { planCondition, checkCondition, type PlannedCondition } from './cel.js';
import type { HostIndex } from './hosts.js';
import type { PathTrie } from './paths.js';
import { ZoneClock, type WindowSpec } from './schedule.js';

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
}

export interface LoadedCredential {
  readonly name: string;
  readonly header: string;
  readonly prefix: string;
  readonly value: string | undefined;
}

export interface LoadedSnapshot {
  readonly version: string;
  readonly snapshot: Snapshot;
  readonly agent: { readonly namespace: string; readonly name: string; readonly serviceAccount: string; readonly labels: ReadonlyMap<string, string> };
  readonly rules: readonly LoadedRule[];
  readonly hosts: HostIndex;
  readonly hasEnforce: boolean;
  readonly hasAudit: boolean;
  /** The ClusterAgentPolicies with ceiling: true that govern the pod. */
  readonly ceilings: readonly CeilingPolicy[];
  /** Some rule reads the body (an mcp match, or a condition using request.body or mcp). */
  readonly needsBody: boolean;
  /** Some condition reads request.headers / now. */
  readonly needsHeaders: boolean;
  readonly needsNow: boolean;
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
}

/** Loads a snapshot; throws SnapshotLoadError when it is inconsistent (the sidecar NACKs it). */
export function loadSnapshot(snapshot: Snapshot, options: LoadOptions = {}): LoadedSnapshot {
  const clocks = new Map<string, ZoneClock>();
  let needsBody = false;
  let needsHeaders = false;
  let needsNow = false;
  const rules = snapshot.rules.map((rule, index): LoadedRule => {
    const policy = snapshot.policies[rule.policy];
    if (policy === undefined) throw new SnapshotLoadError(`rule ${index} "${rule.name}" refers to missing policy ${rule.policy}`);
    let when: PlannedCondition | undefined;
    if (rule.when !== undefined) {
      const checked = checkCondition(rule.when.cel);
      if (typeof checked === 'string') throw new SnapshotLoadError(`policy "${policy.name}" rule "${rule.name}": when: ${checked}`);
      const uses = checked.uses;
      needsBody ||= uses.has('mcp') || uses.has('request.body') || uses.has('request.*');
      needsHeaders ||= uses.has('request.headers') || uses.has('request.*');
      needsNow ||= uses.has('now');
      when = planCondition(rule.when.cel, { budget: options.conditionBudget, policy: policy.name, rule: rule.name });
    }
    if (rule.mcp !== undefined) needsBody = true;
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
    let credential: LoadedCredential | undefined;
    if (rule.credential !== undefined) {
      const c = snapshot.credentials[rule.credential];
      if (c === undefined) throw new SnapshotLoadError(`rule "${rule.name}" refers to missing credential ${rule.credential}`);
      // Secrets created from files often end in a newline, which no header value may carry.
      credential = { name: c.name, header: c.header.toLowerCase(), prefix: c.prefix, value: c.resolved ? new TextDecoder().decode(c.value).replace(/[\r\n]+$/, '') : undefined };
    }
    return {
      index,
      // A ClusterAgentPolicy may share its name with a namespaced one: keep their rate limits apart.
      key: `${policy.cluster ? 'cluster:' : ''}${policy.name}/${rule.name}`,
      policy: rule.policy,
      policyName: policy.name,
      audit: policy.mode === Mode.AUDIT,
      cluster: policy.cluster,
      ceiling: policy.cluster && policy.ceiling,
      name: rule.name,
      deny: rule.action === Action.DENY,
      ports: rule.ports.length === 0 ? undefined : new Set(rule.ports),
      methods: rule.http === undefined || rule.http.methods.length === 0 ? undefined : new Set(rule.http.methods),
      // Deny rules match literal segments case-insensitively: a server that matches
      // paths so (IIS, ASP.NET, Spring with case-insensitive matching) reads
      // "/Admin" as "/admin". Allow rules stay exact (a miss only denies).
      paths: rule.http?.paths === undefined ? undefined : toTrie(rule.http.paths, rule.action === Action.DENY),
      operationLevel: rule.http !== undefined || rule.mcp !== undefined || rule.when !== undefined,
      mcp: rule.mcp === undefined ? undefined : { methods: new Set(rule.mcp.methods), tools: rule.mcp.tools.length === 0 ? undefined : new Set(rule.mcp.tools) },
      when,
      schedule,
      rateLimit: rule.rateLimit === undefined ? undefined : { requests: rule.rateLimit.requests, perMillis: Number(rule.rateLimit.perMillis) },
      credential,
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
    hasEnforce: snapshot.policies.some((p) => p.mode !== Mode.AUDIT),
    hasAudit: snapshot.policies.some((p) => p.mode === Mode.AUDIT),
    ceilings: snapshot.policies.filter((p) => p.cluster && p.ceiling).map((p) => ({ name: p.name, audit: p.mode === Mode.AUDIT })),
    needsBody,
    needsHeaders,
    needsNow,
  };
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
