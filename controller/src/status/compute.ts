// AgentPolicy.status (pure): conditions Compiled, Synced and Ready (False with
// reason CredentialUnavailable when a credential's Secret or key is not there,
// or the reason of the cache limit that refused it: CredentialTooLarge,
// NamespaceCredentialLimit; Compiled False with PolicyTooLarge or
// NamespacePolicyLimit when the policy itself was refused, kube/limits.ts),
// observedGeneration, rule count, pods selected and synced, and the policy's
// content version.
import { createHash } from 'node:crypto';
import { checkPolicy, governs } from '../../../policy/src/index.js';
import type { NamespaceLabelsLookup, PolicyEntry } from '../reconcile/snapshots.js';
import type { SlimPod, SlimSecret } from '../kube/objects.js';
import { credentialProblems } from '../kube/credentials.js';
import { isTerminated, podIdentity } from '../kube/objects.js';
import type { TokenStatus } from '../oauth/broker.js';

export interface Condition {
  readonly type: 'Compiled' | 'Synced' | 'Ready';
  readonly status: 'True' | 'False' | 'Unknown';
  readonly observedGeneration: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

export interface PolicyStatus {
  readonly observedGeneration: number;
  readonly conditions: readonly Condition[];
  readonly rules: number;
  /** cooperative: selected pods with proxy-env capture (an agent that ignores HTTP_PROXY is not governed); 0 is omitted. */
  readonly pods: { readonly selected: number; readonly synced: number; readonly cooperative?: number };
  readonly version: string;
  /** Brokered OAuth tokens (spec.credentials[].oauth2) in use; omitted when none. */
  readonly tokens?: readonly TokenStatus[];
}

/** The broker's tokens of a policy (controller/src/oauth). */
export type TokenStatusLookup = (namespace: string, name: string) => readonly TokenStatus[];

/**
 * Whether a pod's sidecar enforces the snapshot it should have, as far as the policy
 * `entry` goes: with several replicas, the replica serving the pod must have compiled
 * the same generation of the policy (controller/src/replicas).
 */
export type PodSynced = (pod: SlimPod, entry: PolicyEntry) => boolean;

/** The credential Secrets cache; without it credentials are not checked. */
export type SecretLookup = (namespace: string, name: string) => SlimSecret | undefined;

export function computeStatus(entry: PolicyEntry, pods: readonly SlimPod[], synced: PodSynced, nowIso: string, secret?: SecretLookup, namespaceLabels?: NamespaceLabelsLookup, tokens?: TokenStatusLookup): PolicyStatus {
  const meta = entry.object.metadata;
  const generation = meta?.generation ?? 0;
  const previous = previousConditions(entry.object.status);
  const cond = (type: Condition['type'], ok: boolean | undefined, reason: string, message: string): Condition => {
    const status = ok === undefined ? 'Unknown' : ok ? 'True' : 'False';
    const before = previous.get(type);
    return { type, status, observedGeneration: generation, lastTransitionTime: before?.status === status ? before.lastTransitionTime : nowIso, reason, message };
  };
  let compileError = entry.error;
  if (entry.parsed !== undefined && compileError === undefined) {
    try {
      checkPolicy(entry.parsed);
    } catch (e: unknown) {
      compileError = e instanceof Error ? e.message : String(e);
    }
  }
  const policy = entry.parsed;
  // A ClusterAgentPolicy selects pods in every namespace its namespaceSelector matches.
  // A pod being deleted is not counted: its stream was closed at deletion (distribution/server.ts).
  const selected = policy === undefined ? [] : pods.filter((p) => !isTerminated(p) && !p.deleting && governs(policy, { ...podIdentity(p), namespaceLabels: namespaceLabels?.(p.metadata.namespace) ?? {} }));
  const syncedCount = selected.filter((p) => synced(p, entry)).length;
  const failedReason = entry.object.refused?.reason ?? 'CompileError';
  const compiled = cond('Compiled', compileError === undefined, compileError === undefined ? 'Compiled' : failedReason, compileError ?? `${entry.parsed?.rules.length ?? 0} rules compiled`);
  const allSynced = syncedCount === selected.length;
  const syncedCond = cond('Synced', compileError === undefined ? allSynced : false,
    compileError !== undefined ? 'NotCompiled' : selected.length === 0 ? 'NoPods' : allSynced ? 'AllPodsSynced' : 'PodsPending',
    compileError !== undefined ? 'not distributed: the policy does not compile' : `${syncedCount} of ${selected.length} selected pods enforce the current version`);
  const cooperative = selected.filter((p) => p.cooperativeCapture).length;
  const cooperativeNote = cooperative === 0 ? '' : `; ${cooperative} of them use proxy-env capture, which is cooperative: an agent that ignores HTTP_PROXY is not governed`;
  // A rule whose credential cannot be resolved denies (the decision says "not available"); here is why.
  const tokenList = entry.parsed === undefined || entry.parsed.cluster !== undefined ? [] : tokens?.(entry.parsed.namespace, entry.parsed.name) ?? [];
  const credentials = [
    ...(entry.parsed === undefined || secret === undefined ? [] : credentialProblems(entry.parsed, secret)),
    ...tokenProblems(tokenList),
  ];
  const ready = compiled.status !== 'True'
    ? cond('Ready', false, failedReason, compiled.message)
    : credentials.length > 0
      ? cond('Ready', false, credentials.find((c) => c.reason !== 'CredentialUnavailable')?.reason ?? 'CredentialUnavailable', `${credentials.map((c) => c.message).join('; ')}; rules that inject it deny until then`)
      : cond('Ready', syncedCond.status === 'True', syncedCond.status !== 'True' ? 'PodsPending' : 'Ready', `${syncedCond.message}${cooperativeNote}`);
  return {
    observedGeneration: generation,
    conditions: [compiled, syncedCond, ready],
    rules: entry.parsed?.rules.length ?? 0,
    pods: { selected: selected.length, synced: syncedCount, ...(cooperative === 0 ? {} : { cooperative }) },
    version: `sha256:${createHash('sha256').update(JSON.stringify(entry.object.spec ?? null)).digest('hex')}`,
    ...(tokenList.length === 0 ? {} : { tokens: tokenList }),
  };
}

/** Tokens without a usable value: rules that inject them deny ("credential unavailable"). */
function tokenProblems(tokens: readonly TokenStatus[]): { reason: string; message: string }[] {
  return tokens.filter((t) => t.state === 'Pending' || t.state === 'Expired' || (t.state === 'Failing' && t.expiresAt === undefined)).map((t) => ({
    reason: 'CredentialUnavailable',
    message: `credential "${t.credential}" (scopes ${t.scopes.join(' ') || 'none'}) has no token: ${t.state === 'Pending' && t.reason === undefined ? 'the first one is being fetched' : `${t.reason ?? ''}: ${t.message ?? ''}`}`,
  }));
}

function previousConditions(status: unknown): Map<string, { status: string; lastTransitionTime: string }> {
  const out = new Map<string, { status: string; lastTransitionTime: string }>();
  if (typeof status !== 'object' || status === null) return out;
  const conditions = (status as { conditions?: unknown }).conditions;
  if (!Array.isArray(conditions)) return out;
  for (const c of conditions as unknown[]) {
    if (typeof c !== 'object' || c === null) continue;
    const { type, status: s, lastTransitionTime } = c as Record<string, unknown>;
    if (typeof type === 'string' && typeof s === 'string' && typeof lastTransitionTime === 'string') out.set(type, { status: s, lastTransitionTime });
  }
  return out;
}

/** The stored status equals the computed one (key order ignored: the API server sorts keys). */
export function sameStatus(a: unknown, b: PolicyStatus): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
