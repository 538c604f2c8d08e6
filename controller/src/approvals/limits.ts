// What one namespace may make the controller hold of AgentAccessRequests
// (kube/limits.ts does the same for AgentPolicies and Secrets): a spec larger
// than --max-access-request-bytes, or past the namespace's count or bytes, is
// kept as a stub without spec, which never becomes a grant (fail closed).
import { NamespaceBudget } from '../kube/budget.js';
import { objectVersion, policyStub, specBytes, type CacheLimits } from '../kube/limits.js';
import type { AccessRequestObject } from './objects.js';

export const ACCESS_REQUEST_REFUSAL_REASONS = { tooLarge: 'AccessRequestTooLarge', namespaceLimit: 'NamespaceAccessRequestLimit' } as const;

/** The request as the cache keeps it: itself without managedFields, or a stub when its spec is too large. */
export function limitAccessRequest(o: AccessRequestObject, maxBytes: number): AccessRequestObject {
  const bytes = specBytes(o);
  if (bytes > maxBytes) {
    // A stub keeps identity and status only (kube/limits.ts): it is never a grant.
    return policyStub(o, {
      reason: ACCESS_REQUEST_REFUSAL_REASONS.tooLarge, metric: 'object_too_large',
      message: `the request's spec is ${bytes} bytes, above the controller's --max-access-request-bytes ${maxBytes}`,
    });
  }
  const m = o.metadata;
  if (m?.managedFields === undefined) return o;
  return { ...o, metadata: { ...m, managedFields: undefined } };
}

export function accessRequestBudget(limits: CacheLimits): NamespaceBudget<AccessRequestObject> {
  return new NamespaceBudget<AccessRequestObject>({
    resource: 'agentaccessrequests', namespaceReason: ACCESS_REQUEST_REFUSAL_REASONS.namespaceLimit,
    flags: { objects: '--max-access-requests-per-namespace', bytes: '--max-access-request-bytes-per-namespace' },
    namespace: (o) => o.metadata?.namespace ?? '', version: objectVersion, bytes: specBytes,
    refused: (o) => o.refused, isStub: (o) => o.refused !== undefined, stub: policyStub,
  }, { maxObjects: limits.maxAccessRequestsPerNamespace, maxBytes: limits.maxAccessRequestBytesPerNamespace });
}
