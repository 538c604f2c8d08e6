// The compiler (pure): AgentPolicy objects + a pod -> the pod's Snapshot, with
// a content-hash version. Everything a request needs is precomputed here: the
// host index, method sets, path-template tries, and checked CEL conditions.
import { create, toBinary } from '@bufbuild/protobuf';
import {
  Action, GrantKind, Mode, SnapshotSchema, type Credential, type Grant as GrantMessage, type PathNode, type Policy as PolicyMessage,
  type Rule as RuleMessage, type Snapshot,
} from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { grantSelects } from './access-request.js';
import { PolicyError, type FieldProblem } from './errors.js';
import { checkCondition } from './cel.js';
import { anomalyConfigOf } from './anomaly-spec.js';
import { parseDurationMs } from './duration.js';
import { dayMask, parseClock } from './schedule.js';
import { parseTemplate, type TemplateSegment } from './paths.js';
import { governingPolicies } from './selector.js';
import { canonicalArguments } from './operation.js';
import type { AccessRequest, AgentPolicy, CredentialSpec, PodIdentity, Rule } from './model.js';
import { effectiveScopes } from './oauth2-manifest.js';
const { createHash } = process.getBuiltinModule('node:crypto');

/** Looks up a Secret value; undefined when it does not exist or has no such key. */
export type SecretResolver = (namespace: string, name: string, key: string) => Uint8Array | undefined;

/** Identifies a Secret value without revealing it (a resourceVersion, a file stamp); undefined when unknown. */
export type SecretRevision = (namespace: string, name: string, key: string) => string | undefined;

/** A brokered OAuth token for one (credential, scope set), or why there is none. */
export interface TokenLease {
  /** The access token; undefined when none is usable. */
  readonly token: string | undefined;
  /** Unix ms, controller clock; 0 without a token. */
  readonly expiresAtMs: number;
  readonly lifetimeMs: number;
  /** Changes with every token fetched ("oauth2:<sequence>"); feeds the version instead of the token. */
  readonly revision: string;
  /** Why there is no token; "" with one. */
  readonly unavailableReason: string;
}

/** The current token of an oauth2 credential of `policy` for a scope set (sorted); undefined when the broker knows none yet. */
export type TokenResolver = (namespace: string, policy: string, credential: string, scopes: readonly string[]) => TokenLease | undefined;

export interface CompileOptions {
  /** Brokered OAuth tokens (the controller's broker); without it oauth2 credentials are unresolved. */
  readonly resolveToken?: TokenResolver;
  /** Without a resolver, credentials are left unresolved (the sidecar then denies rules that need them). */
  readonly resolveSecret?: SecretResolver;
  /** Feeds the snapshot version instead of the secret value, so that rotation changes the version. */
  readonly secretRevision?: SecretRevision;
  /**
   * Leave agent.name empty so that pods with the same namespace, service
   * account, labels and policies share one snapshot (and version); the sidecar
   * fills in its own pod name when it loads the snapshot.
   */
  readonly shareAcrossPods?: boolean;
  /**
   * Active grants (activeGrants()): those that select the pod are compiled in
   * (Snapshot.grants, sorted by name; a break-glass grant's rules under a Policy
   * whose `grant` names it). A pod with grants gets a snapshot of its own.
   */
  readonly grants?: readonly AccessRequest[];
}

/**
 * Compiles the snapshot of `pod` from all known policies, AgentPolicies and
 * ClusterAgentPolicies (only the governing ones are used). Throws PolicyError naming the source, policy, rule and field
 * of every problem found in a governing policy.
 */
export function compileSnapshot(policies: readonly AgentPolicy[], pod: PodIdentity, options: CompileOptions = {}): Snapshot {
  const governing = governingPolicies(policies, pod);
  const snapshot = create(SnapshotSchema, {
    agent: { namespace: pod.namespace, name: options.shareAcrossPods === true ? '' : pod.name, serviceAccount: pod.serviceAccount, labels: sortedRecord(pod.labels) },
    hostIndex: { exact: {}, suffix: {}, any: { rules: [] } },
  });
  const errors: PolicyError[] = [];
  governing.forEach((policy, policyIndex) => {
    snapshot.policies.push(policyMessage(policy));
    const problems: FieldProblem[] = [];
    policy.rules.forEach((rule, ruleIndex) => {
      const compiled = compileRule(rule, policyIndex, `spec.rules[${ruleIndex}]`, problems);
      if (rule.credential !== undefined) compiled.credential = credentialIndex(snapshot.credentials, policy, rule.credential, rule.credentialScopes, options);
      addToHostIndex(snapshot, compiled.hosts, snapshot.rules.length);
      snapshot.rules.push(compiled);
    });
    if (problems.length > 0) errors.push(new PolicyError(policy.source, policyObjectName(policy), problems));
  });
  const grants = (options.grants ?? []).filter((g) => g.state === 'Approved' && grantSelects(g, pod));
  for (const grant of [...grants].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const problems: FieldProblem[] = [];
    snapshot.grants.push(grantMessage(snapshot, governing, grant, options, problems));
    if (problems.length > 0) errors.push(new PolicyError(grant.source, `AgentAccessRequest ${grant.namespace}/${grant.name}`, problems));
  }
  if (errors.length > 0) throw errors.length === 1 && errors[0] !== undefined ? errors[0] : new AggregateCompileError(errors);
  snapshot.version = snapshotVersion(snapshot);
  return snapshot;
}

/** Several policies failed; `message` lists every problem. */
export class AggregateCompileError extends PolicyError {
  constructor(readonly errors: readonly PolicyError[]) {
    super(errors[0]?.source ?? '', errors[0]?.object ?? '', errors.flatMap((e) => e.problems));
    this.message = errors.map((e) => e.message).join('\n');
  }
}

/** Checks one policy on its own (what admission and the CLI report for a single manifest). */
export function checkPolicy(policy: AgentPolicy): void {
  const problems: FieldProblem[] = [];
  policy.rules.forEach((rule, i) => compileRule(rule, 0, `spec.rules[${i}]`, problems));
  if (problems.length > 0) throw new PolicyError(policy.source, policyObjectName(policy), problems);
}

/** Checks a break-glass request's rules compile (conditions, paths), as admission refuses rules that do not. */
export function checkAccessRequest(request: AccessRequest): void {
  const problems: FieldProblem[] = [];
  request.rules.forEach((rule, i) => compileRule(rule, 0, `spec.rules[${i}]`, problems));
  if (problems.length > 0) throw new PolicyError(request.source, `AgentAccessRequest ${request.namespace}/${request.name}`, problems);
}

/** "AgentPolicy support/egress" or "ClusterAgentPolicy platform-egress", for messages. */
export function policyObjectName(policy: AgentPolicy): string {
  return policy.cluster === undefined ? `AgentPolicy ${policy.namespace}/${policy.name}` : `ClusterAgentPolicy ${policy.name}`;
}

/**
 * "sha256:<hex>" over the snapshot encoded without its version and without
 * credential values (their revisions stand in for them): the version is shown in
 * metrics, spans and logs, and must not let anyone test guesses of a secret.
 */
export function snapshotVersion(snapshot: Snapshot): string {
  const credentials = snapshot.credentials.map((c) => ({ ...c, value: new Uint8Array(0) }));
  const bytes = toBinary(SnapshotSchema, { ...snapshot, credentials, version: '' });
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function policyMessage(policy: AgentPolicy): PolicyMessage {
  return {
    $typeName: 'agentwarden.v1.Policy',
    name: policy.name,
    namespace: policy.namespace,
    mode: policy.mode === 'Audit' ? Mode.AUDIT : Mode.ENFORCE,
    generation: BigInt(policy.generation),
    source: policy.source,
    cluster: policy.cluster !== undefined,
    ceiling: policy.cluster?.ceiling === true,
    grant: '',
    // Written only when spec.session is: snapshots of policies without sessions keep their versions.
    sessionKey: policy.session?.key ?? '',
    sessionTtlMs: policy.session === undefined ? 0n : BigInt(parseDurationMs(policy.session.ttl) ?? 0),
    ...(policy.anomaly === undefined ? {} : { anomaly: anomalyConfigOf(policy.anomaly) }),
  };
}

/**
 * One grant. Break-glass: its rules join the host index under a Policy of its
 * own; a rule's credential names one that a governing AgentPolicy declares.
 * Approval: the exact operation (arguments as canonical JSON) and its origin rule,
 * whose credential the loader injects when the grant allows.
 */
function grantMessage(snapshot: Snapshot, governing: readonly AgentPolicy[], grant: AccessRequest, options: CompileOptions, problems: FieldProblem[]): GrantMessage {
  const out: GrantMessage = {
    $typeName: 'agentwarden.v1.Grant',
    name: grant.name, namespace: grant.namespace, uid: grant.uid,
    kind: grant.kind === 'break-glass' ? GrantKind.BREAK_GLASS : GrantKind.APPROVAL,
    expiresAtMs: BigInt(grant.expiresAtMs), durationMs: BigInt(grant.durationMs),
    uses: grant.uses,
    originRule: grant.origin === undefined ? '' : `${grant.origin.policy}/${grant.origin.rule}`,
    approvedBy: grant.approvedBy,
  };
  const op = grant.operation;
  if (grant.kind === 'approval' && op !== undefined) {
    out.operation = {
      $typeName: 'agentwarden.v1.Operation',
      method: op.method, host: op.host, port: op.port, path: op.path, query: op.query,
      mcpMethod: op.mcp?.method ?? '', mcpTool: op.mcp?.tool ?? '', mcpArguments: canonicalArguments(op),
    };
    return out;
  }
  const policyIndex = snapshot.policies.length;
  out.policy = policyIndex;
  snapshot.policies.push({
    $typeName: 'agentwarden.v1.Policy', name: grant.name, namespace: grant.namespace, mode: Mode.ENFORCE,
    generation: 0n, source: grant.source, cluster: false, ceiling: false, grant: grant.name, sessionKey: '', sessionTtlMs: 0n,
  });
  grant.rules.forEach((rule, ruleIndex) => {
    const field = `spec.rules[${ruleIndex}]`;
    const compiled = compileRule(rule, policyIndex, field, problems);
    if (rule.credential !== undefined) {
      const owner = governing.find((p) => p.cluster === undefined && p.credentials.some((c) => c.name === rule.credential));
      if (owner === undefined) problems.push({ field: `${field}.credential`, message: `names credential "${rule.credential}", which no AgentPolicy governing the pod declares` });
      else compiled.credential = credentialIndex(snapshot.credentials, owner, rule.credential, rule.credentialScopes, options);
    }
    addToHostIndex(snapshot, compiled.hosts, snapshot.rules.length);
    snapshot.rules.push(compiled);
  });
  return out;
}

function compileRule(rule: Rule, policyIndex: number, field: string, problems: FieldProblem[]): RuleMessage {
  const out: RuleMessage = {
    $typeName: 'agentwarden.v1.Rule',
    policy: policyIndex,
    name: rule.name,
    action: rule.action === 'Deny' ? Action.DENY : rule.action === 'RequireApproval' ? Action.REQUIRE_APPROVAL : Action.ALLOW,
    hosts: [...rule.to.hosts],
    ports: [...rule.to.ports].sort((a, b) => a - b),
    taints: [...(rule.taints ?? [])],
  };
  if (rule.http !== undefined) {
    const trie = rule.http.paths.length === 0 ? undefined : buildTrie(rule.http.paths, `${field}.http.paths`, problems);
    out.http = {
      $typeName: 'agentwarden.v1.HttpMatch',
      methods: [...rule.http.methods],
      pathTemplates: [...rule.http.paths],
      ...(trie === undefined ? {} : { paths: trie }),
    };
  }
  if (rule.mcp !== undefined) {
    out.mcp = { $typeName: 'agentwarden.v1.McpMatch', methods: [...rule.mcp.methods], tools: [...rule.mcp.tools] };
  }
  if (rule.when !== undefined) {
    const checked = checkCondition(rule.when);
    if (typeof checked === 'string') problems.push({ field: `${field}.when`, message: `rule "${rule.name}": ${checked}` });
    out.when = { $typeName: 'agentwarden.v1.Condition', cel: rule.when };
  }
  if (rule.schedule !== undefined) {
    out.schedule = {
      $typeName: 'agentwarden.v1.Schedule',
      timezone: rule.schedule.timezone,
      windows: rule.schedule.windows.map((w) => ({
        $typeName: 'agentwarden.v1.Window',
        days: dayMask(w.days),
        startMinute: parseClock(w.start) ?? 0,
        endMinute: parseClock(w.end) ?? 1440,
      })),
    };
  }
  if (rule.rateLimit !== undefined) {
    out.rateLimit = { $typeName: 'agentwarden.v1.RateLimit', requests: rule.rateLimit.requests, perMillis: BigInt(parseDurationMs(rule.rateLimit.per) ?? 60_000) };
  }
  return out;
}

function newNode(): PathNode {
  return { $typeName: 'agentwarden.v1.PathNode', literal: {}, params: [], end: false, rest: false };
}

function buildTrie(templates: readonly string[], field: string, problems: FieldProblem[]): PathNode {
  const root = newNode();
  templates.forEach((template, i) => {
    const segments = parseTemplate(template);
    if (typeof segments === 'string') {
      problems.push({ field: `${field}[${i}]`, message: `"${template}": ${segments}` });
      return;
    }
    insert(root, segments);
  });
  return root;
}

function insert(root: PathNode, segments: readonly TemplateSegment[]): void {
  let node = root;
  for (const seg of segments) {
    switch (seg.kind) {
      case 'literal': {
        // Object.hasOwn: segment names such as "constructor" must not hit the prototype.
        const next = Object.hasOwn(node.literal, seg.value) ? node.literal[seg.value] : undefined;
        node = next ?? (node.literal[seg.value] = newNode());
        break;
      }
      case 'param': {
        let edge = node.params.find((p) => p.name === seg.name);
        if (edge === undefined) {
          edge = { $typeName: 'agentwarden.v1.ParamEdge', name: seg.name, next: newNode() };
          node.params.push(edge);
        }
        node = edge.next ?? newNode();
        break;
      }
      case 'wildcard':
        node = node.wildcard ??= newNode();
        break;
      case 'rest':
        node.rest = true;
        return;
    }
  }
  node.end = true;
}

function addToHostIndex(snapshot: Snapshot, hosts: readonly string[], ruleIndex: number): void {
  const index = snapshot.hostIndex;
  if (index === undefined) return;
  for (const host of hosts) {
    if (host === '*') {
      index.any ??= { $typeName: 'agentwarden.v1.RuleList', rules: [] };
      if (!index.any.rules.includes(ruleIndex)) index.any.rules.push(ruleIndex);
      continue;
    }
    const [map, key] = host.startsWith('*.') ? [index.suffix, host.slice(1)] : [index.exact, host];
    const list = Object.hasOwn(map, key) ? map[key] : undefined;
    if (list === undefined) map[key] = { $typeName: 'agentwarden.v1.RuleList', rules: [ruleIndex] };
    else if (!list.rules.includes(ruleIndex)) list.rules.push(ruleIndex);
  }
}

/** The index of the Credential for (policy, name, scope set), added on first use. */
function credentialIndex(credentials: Credential[], policy: AgentPolicy, name: string, ruleScopes: readonly string[] | undefined, options: CompileOptions): number {
  const spec = policy.credentials.find((c) => c.name === name);
  const scopes = spec?.oauth2 === undefined ? [] : effectiveScopes(ruleScopes, spec);
  const existing = credentials.findIndex((c) => c.policy === policy.name && c.name === name && c.scopes.join(' ') === scopes.join(' '));
  if (existing >= 0) return existing;
  credentials.push(spec?.oauth2 === undefined ? staticCredential(policy, name, spec, options) : oauth2Credential(policy, spec, scopes, options));
  return credentials.length - 1;
}

function staticCredential(policy: AgentPolicy, name: string, spec: CredentialSpec | undefined, options: CompileOptions): Credential {
  const ref = spec?.secretRef;
  // manifest.ts guarantees the reference exists; an unknown name compiles to an unresolved credential.
  const value = ref === undefined ? undefined : options.resolveSecret?.(policy.namespace, ref.name, ref.key);
  return {
    $typeName: 'agentwarden.v1.Credential',
    policy: policy.name,
    name,
    header: spec?.header ?? 'Authorization',
    prefix: spec?.prefix ?? 'Bearer ',
    secretNamespace: policy.namespace,
    secretName: ref?.name ?? '',
    secretKey: ref?.key ?? '',
    value: value ?? new Uint8Array(0),
    resolved: value !== undefined,
    revision: ref === undefined ? '' : (options.secretRevision?.(policy.namespace, ref.name, ref.key) ?? ''),
    scopes: [], expiresAtMs: 0n, lifetimeMs: 0n, oauth2: false, unavailableReason: '',
  };
}

/** An oauth2 credential for one scope set: the broker's current token, never the client secret. */
function oauth2Credential(policy: AgentPolicy, spec: CredentialSpec, scopes: readonly string[], options: CompileOptions): Credential {
  const lease = options.resolveToken?.(policy.namespace, policy.name, spec.name, scopes);
  const token = lease?.token;
  return {
    $typeName: 'agentwarden.v1.Credential',
    policy: policy.name,
    name: spec.name,
    header: spec.header,
    prefix: spec.prefix,
    secretNamespace: policy.namespace,
    secretName: spec.oauth2?.clientSecretRef.name ?? '',
    secretKey: '',
    value: token === undefined ? new Uint8Array(0) : new TextEncoder().encode(token),
    resolved: token !== undefined,
    revision: lease?.revision ?? '',
    scopes: [...scopes],
    expiresAtMs: BigInt(token === undefined ? 0 : lease?.expiresAtMs ?? 0),
    lifetimeMs: BigInt(token === undefined ? 0 : lease?.lifetimeMs ?? 0),
    oauth2: true,
    unavailableReason: token !== undefined ? '' : lease?.unavailableReason ?? (options.resolveToken === undefined ? 'no token broker (only the controller fetches OAuth tokens)' : 'no token fetched yet'),
  };
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key] ?? '';
  return out;
}
