// The controller's cache limits, by namespace and by object: what a tenant can
// make the controller hold is bounded by these, whatever it creates. Each
// limit is a controller flag (config.ts); the budgets below enforce them on
// the AgentPolicy and Secret caches (kube/budget.ts), and the credential key
// filter refuses a value that is too large (kube/credentials.ts).
import { NamespaceBudget, type Refusal } from './budget.js';
import type { AgentPolicyObject, SlimSecret } from './objects.js';

export interface CacheLimits {
  /** An AgentPolicy whose spec (as JSON) is larger is refused, bytes. Default 262144 (256 KiB; 256 rules at ~300 bytes each fit 3 times over). */
  readonly maxPolicyBytes: number;
  /** AgentPolicies kept per namespace; more are refused. Default 64. */
  readonly maxPoliciesPerNamespace: number;
  /** Bytes of AgentPolicy specs kept per namespace; past it, policies are refused. Default 2097152 (2 MiB). */
  readonly maxPolicyBytesPerNamespace: number;
  /** A credential value (a Secret key a policy reads) larger than this is refused, bytes decoded. Default 8192. */
  readonly maxCredentialValueBytes: number;
  /** Credential Secrets holding values, per namespace; more are refused. Default 64. */
  readonly maxCredentialSecretsPerNamespace: number;
  /** Bytes of credential values (base64, as held) per namespace; past it, Secrets are refused. Default 262144 (256 KiB). */
  readonly maxCredentialBytesPerNamespace: number;
  /**
   * Objects per list page of AgentPolicies and Secrets, so a list holds at most this many
   * full objects at once (Secrets are up to 1 MiB each). Default 10.
   */
  readonly listPageSize: number;
  /** An AgentAccessRequest whose spec (as JSON) is larger is refused (never a grant), bytes. Default 65536. */
  readonly maxAccessRequestBytes: number;
  /** AgentAccessRequests kept per namespace; more are refused. Default 256. */
  readonly maxAccessRequestsPerNamespace: number;
  /** Bytes of AgentAccessRequest specs kept per namespace. Default 1048576 (1 MiB). */
  readonly maxAccessRequestBytesPerNamespace: number;
}

export const DEFAULT_CACHE_LIMITS: CacheLimits = Object.freeze({
  maxPolicyBytes: 256 * 1024,
  maxPoliciesPerNamespace: 64,
  maxPolicyBytesPerNamespace: 2 * 1024 * 1024,
  maxCredentialValueBytes: 8 * 1024,
  maxCredentialSecretsPerNamespace: 64,
  maxCredentialBytesPerNamespace: 256 * 1024,
  listPageSize: 10,
  maxAccessRequestBytes: 64 * 1024,
  maxAccessRequestsPerNamespace: 256,
  maxAccessRequestBytesPerNamespace: 1024 * 1024,
});

/** Status reasons of refused objects (a credential value too large: CREDENTIAL_TOO_LARGE, kube/credentials.ts). */
export const REFUSAL_REASONS = {
  policyTooLarge: 'PolicyTooLarge',
  namespacePolicyLimit: 'NamespacePolicyLimit',
  namespaceCredentialLimit: 'NamespaceCredentialLimit',
} as const;

/** Bytes of an object's spec as JSON (what the per-object and per-namespace limits charge). */
export function specBytes(obj: { readonly spec?: unknown }): number {
  return obj.spec === undefined ? 0 : JSON.stringify(obj.spec).length;
}

/** The stub of a refused AgentPolicy (or AgentAccessRequest): identity and status (to compare what the writer computes), no spec. */
export function policyStub(obj: AgentPolicyObject, refused: Refusal): AgentPolicyObject {
  const m = obj.metadata;
  return {
    apiVersion: obj.apiVersion, kind: obj.kind,
    metadata: { name: m?.name, namespace: m?.namespace, resourceVersion: m?.resourceVersion, generation: m?.generation, uid: m?.uid },
    status: obj.status,
    refused,
  };
}

/** An AgentPolicy as the cache keeps it: itself, or a stub when its spec is larger than maxPolicyBytes. */
export function limitPolicy(obj: AgentPolicyObject, maxPolicyBytes: number): AgentPolicyObject {
  const bytes = specBytes(obj);
  if (bytes <= maxPolicyBytes) return obj;
  return policyStub(obj, {
    reason: REFUSAL_REASONS.policyTooLarge, metric: 'object_too_large',
    message: `the policy's spec is ${bytes} bytes, above the controller's --max-policy-bytes ${maxPolicyBytes}; split it into smaller policies`,
  });
}

/** namespace/name@resourceVersion: a refused version is counted once. */
export function objectVersion(o: { readonly metadata?: { readonly namespace?: string; readonly name?: string; readonly resourceVersion?: string } }): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`;
}

export function policyBudget(limits: CacheLimits): NamespaceBudget<AgentPolicyObject> {
  return new NamespaceBudget<AgentPolicyObject>({
    resource: 'agentpolicies', namespaceReason: REFUSAL_REASONS.namespacePolicyLimit,
    flags: { objects: '--max-policies-per-namespace', bytes: '--max-policy-bytes-per-namespace' },
    namespace: (o) => o.metadata?.namespace ?? '', version: objectVersion, bytes: specBytes,
    refused: (o) => o.refused, isStub: (o) => o.refused !== undefined, stub: policyStub,
  }, { maxObjects: limits.maxPoliciesPerNamespace, maxBytes: limits.maxPolicyBytesPerNamespace });
}

function secretBytes(s: SlimSecret): number {
  let n = 0;
  for (const v of Object.values(s.data)) n += v.length;
  return n;
}

export function secretBudget(limits: CacheLimits): NamespaceBudget<SlimSecret> {
  return new NamespaceBudget<SlimSecret>({
    resource: 'secrets', namespaceReason: REFUSAL_REASONS.namespaceCredentialLimit,
    flags: { objects: '--max-credential-secrets-per-namespace', bytes: '--max-credential-bytes-per-namespace' },
    namespace: (s) => s.metadata.namespace, version: objectVersion, bytes: secretBytes,
    refused: (s) => s.refused ?? Object.values(s.refusedKeys ?? {})[0],
    // A Secret no policy reads holds no value: it costs its namespace nothing.
    isStub: (s) => s.refused !== undefined || Object.keys(s.data).length === 0,
    stub: (s, refused) => ({ apiVersion: 'v1', kind: 'Secret', metadata: s.metadata, data: {}, refused }),
  }, { maxObjects: limits.maxCredentialSecretsPerNamespace, maxBytes: limits.maxCredentialBytesPerNamespace });
}
