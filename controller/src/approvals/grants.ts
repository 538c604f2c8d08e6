// Active grants per pod, from the AgentAccessRequest cache: each object parsed
// once per resourceVersion with the policy core's parseAccessRequest, then the
// policy core's activeGrants (approved, unexpired, same namespace and
// ServiceAccount, the pod by name or selector). An object that does not parse,
// or that the cache limits refused, is never a grant.
import { activeGrants, parseAccessRequest, type AccessRequest, type PodIdentity } from '../../../policy/src/index.js';
import type { AccessRequestObject } from './objects.js';
import { keyOf } from './objects.js';

export class GrantBook {
  private parsed = new Map<string, { readonly version: string; readonly request: AccessRequest | undefined }>();

  constructor(private readonly log: (msg: string, fields: Record<string, unknown>) => void = () => undefined) {}

  /** The approved requests among `objects`, parsed (memoised by resourceVersion). */
  approved(objects: readonly AccessRequestObject[]): AccessRequest[] {
    const next = new Map<string, { readonly version: string; readonly request: AccessRequest | undefined }>();
    const out: AccessRequest[] = [];
    for (const o of objects) {
      const key = keyOf(o);
      const version = `${o.metadata?.uid ?? ''}@${o.metadata?.resourceVersion ?? ''}`;
      let entry = this.parsed.get(key);
      if (entry?.version !== version) entry = { version, request: this.parse(o, key) };
      next.set(key, entry);
      if (entry.request?.state === 'Approved') out.push(entry.request);
    }
    this.parsed = next;
    return out;
  }

  private parse(o: AccessRequestObject, key: string): AccessRequest | undefined {
    if (o.refused !== undefined) return undefined;
    try {
      return parseAccessRequest(o, key);
    } catch (e: unknown) {
      this.log('AgentAccessRequest does not parse; it is no grant', { request: key, error: e instanceof Error ? e.message : String(e) });
      return undefined;
    }
  }
}

/** The grants of `pod` at `nowMs` among the approved requests. */
export function grantsOf(approved: readonly AccessRequest[], pod: PodIdentity, nowMs: number): AccessRequest[] {
  return activeGrants(approved, pod, nowMs);
}
