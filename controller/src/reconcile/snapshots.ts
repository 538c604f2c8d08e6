// Snapshots per pod (pure over the caches): the governing policies of a pod,
// compiled once per distinct input and shared by every pod with the same
// namespace, service account, labels, policies and secrets. A pod with active
// grants (approved AgentAccessRequests) gets a snapshot of its own: the grants
// are in the memo key, with the pod's name.
import { createHash } from 'node:crypto';
import type { Snapshot } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { compileSnapshot, credentialSecret, governingPolicies, isClusterAgentPolicyManifest, parseAnyPolicy, type AccessRequest, type AgentPolicy, type TokenResolver } from '../../../policy/src/index.js';
import type { AgentPolicyObject, SlimPod, SlimSecret } from '../kube/objects.js';
import { podIdentity } from '../kube/objects.js';

export interface PolicyEntry {
  readonly object: AgentPolicyObject;
  /** Parsed, or the error that names the field. */
  readonly parsed: AgentPolicy | undefined;
  readonly error: string | undefined;
}

export type SnapshotResult =
  | { readonly ok: true; readonly snapshot: Snapshot; readonly policies: readonly string[] }
  | { readonly ok: false; readonly error: string; readonly policies: readonly string[] };

/** Brokered OAuth tokens (controller/src/oauth): the current lease per credential and scope set, and what identifies them. */
export interface TokenSource {
  readonly resolve: TokenResolver;
  /** Identifies every token of a policy's oauth2 credentials (changes with each fetch, expiry or failure). */
  revisions(namespace: string, policy: string): string;
}

/** The labels of a namespace (from the namespaces cache); undefined when unknown. */
export type NamespaceLabelsLookup = (namespace: string) => Readonly<Record<string, string>> | undefined;

/** Parses every AgentPolicy and ClusterAgentPolicy object, keeping the errors. */
export function parsePolicies(objects: readonly AgentPolicyObject[]): PolicyEntry[] {
  return objects.map((object) => {
    const source = isClusterAgentPolicyManifest(object) ? object.metadata?.name ?? '' : `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
    // Refused by the cache limits: the spec is not kept, and the policy governs as a broken one (fail closed).
    if (object.refused !== undefined) return { object, parsed: undefined, error: `${source}: refused: ${object.refused.message}` };
    try {
      return { object, parsed: parseAnyPolicy(object, source, object.metadata?.namespace ?? 'default'), error: undefined };
    } catch (e: unknown) {
      return { object, parsed: undefined, error: e instanceof Error ? e.message : String(e) };
    }
  });
}

/** Memoises compiled snapshots by their inputs; entries not used in a pass are dropped. */
export class SnapshotBook {
  private cache = new Map<string, SnapshotResult>();
  private used = new Map<string, SnapshotResult>();
  /**
   * Within a pass the caches do not change: pods with the same namespace, service account and
   * labels and no grants (a Deployment's replicas) get the same result, found here without
   * filtering the policies and hashing the memo key again for each of them (issue 20: one edit
   * touching 10,000 pods is one pass over 10,000 pods). Undefined outside a pass.
   */
  private byIdentity: Map<string, SnapshotResult> | undefined;
  /** The inputs byIdentity's results were computed from (other inputs within a pass start it afresh). */
  private identityInputs: readonly unknown[] = [];

  /** Starts a pass over the current caches. */
  beginPass(): void {
    this.used = new Map();
    this.byIdentity = new Map();
  }

  /** Ends a pass, forgetting snapshots no pod uses any more. */
  endPass(): void {
    this.cache = this.used;
    this.byIdentity = undefined;
    this.identityInputs = [];
  }

  forPod(pod: SlimPod, policies: readonly PolicyEntry[], secret: (namespace: string, name: string) => SlimSecret | undefined, namespaceLabels?: NamespaceLabelsLookup, grants: readonly AccessRequest[] = [], tokens?: TokenSource): SnapshotResult {
    if (this.byIdentity === undefined || grants.length > 0) return this.compute(pod, policies, secret, namespaceLabels, grants, tokens);
    const inputs = [policies, secret, namespaceLabels, tokens];
    if (inputs.some((v, i) => v !== this.identityInputs[i])) {
      this.byIdentity.clear();
      this.identityInputs = inputs;
    }
    const identity = JSON.stringify([pod.metadata.namespace, pod.serviceAccount, Object.entries(pod.metadata.labels).sort()]);
    let result = this.byIdentity.get(identity);
    if (result === undefined) {
      result = this.compute(pod, policies, secret, namespaceLabels, grants, tokens);
      this.byIdentity.set(identity, result);
    }
    return result;
  }

  private compute(pod: SlimPod, policies: readonly PolicyEntry[], secret: (namespace: string, name: string) => SlimSecret | undefined, namespaceLabels: NamespaceLabelsLookup | undefined, grants: readonly AccessRequest[], tokens: TokenSource | undefined): SnapshotResult {
    const ns = pod.metadata.namespace;
    // ClusterAgentPolicies may govern pods of any namespace (their namespaceSelector decides).
    const inNamespace = policies.filter((p) => p.object.metadata?.namespace === ns || isClusterAgentPolicyManifest(p.object));
    const broken = inNamespace.filter((p) => p.parsed === undefined);
    const parsed = inNamespace.flatMap((p) => (p.parsed === undefined ? [] : [p.parsed]));
    const labels = namespaceLabels?.(ns);
    const identity = labels === undefined ? podIdentity(pod) : { ...podIdentity(pod), namespaceLabels: labels };
    const governing = governingPolicies(parsed, identity);
    const names = governing.map((p) => p.name);
    // A policy that cannot be read might govern this pod: never guess, fail closed.
    if (broken.length > 0) {
      return { ok: false, error: broken.map((b) => b.error ?? '').join('\n'), policies: [...names, ...broken.map((b) => b.object.metadata?.name ?? '')] };
    }
    // The keys held count too: the same Secret version refetched for other policies may hold other keys.
    const secretVersions = governing.flatMap((p) => p.credentials.map((c) => {
      const { name: secretName } = credentialSecret(c);
      const s = secret(ns, secretName);
      return `${ns}/${secretName}@${s === undefined ? 'missing' : `${s.metadata.resourceVersion}:${Object.keys(s.data).sort().join(',')}`}`;
    }));
    // Brokered OAuth tokens: their revisions (a fetch sequence), never the tokens.
    const tokenRevisions = tokens === undefined ? undefined : governing.filter((p) => p.credentials.some((c) => c.oauth2 !== undefined)).map((p) => tokens.revisions(ns, p.name));
    const key = createHash('sha256').update(JSON.stringify({
      ns, sa: pod.serviceAccount, labels: Object.entries(pod.metadata.labels).sort(),
      policies: governing.map((p) => `${p.cluster === undefined ? '' : 'cluster:'}${p.name}@${inNamespace.find((e) => e.parsed === p)?.object.metadata?.resourceVersion ?? ''}`),
      secretVersions,
      tokenRevisions,
      // Grants are the pod's own: its name and every fact of each grant the snapshot carries.
      grants: grants.length === 0 ? undefined : { pod: pod.metadata.name, of: grants.map((g) => [g.name, g.uid, g.state, g.expiresAtMs, g.durationMs, g.uses, g.approvedBy]) },
    })).digest('hex');
    let result = this.used.get(key) ?? this.cache.get(key);
    if (result === undefined) {
      try {
        const snapshot = compileSnapshot(governing, identity, {
          shareAcrossPods: grants.length === 0,
          ...(grants.length === 0 ? {} : { grants }),
          secretRevision: (namespace, name) => secret(namespace, name)?.metadata.resourceVersion,
          ...(tokens === undefined ? {} : { resolveToken: tokens.resolve }),
          resolveSecret: (namespace, name, k) => {
            const value = secret(namespace, name)?.data[k];
            return value === undefined ? undefined : new Uint8Array(Buffer.from(value, 'base64'));
          },
        });
        result = { ok: true, snapshot, policies: names };
      } catch (e: unknown) {
        result = { ok: false, error: e instanceof Error ? e.message : String(e), policies: names };
      }
    }
    this.used.set(key, result);
    return result;
  }

  get size(): number {
    return this.cache.size;
  }
}
