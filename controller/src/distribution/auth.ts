// Who is on the other end of a PolicyDistribution stream: the sidecar's
// projected ServiceAccount token (audience "agentwarden") is verified with a
// TokenReview, cached for the token's lifetime, and must be bound to the very
// pod the sidecar claims to be (the pod-name extra of bound tokens) and to that
// pod's service account. A sidecar gets its own pod's snapshot and nothing else.
import { createHash } from 'node:crypto';
import NodeCache from 'node-cache';
import type { SlimPod } from '../kube/objects.js';

export const TOKEN_AUDIENCE = 'agentwarden';
const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
/** Longest a review is cached, whatever the token's expiry. */
const MAX_CACHE_SECONDS = 300;

export interface TokenReviewResult {
  readonly authenticated: boolean;
  readonly username: string;
  readonly extra: Readonly<Record<string, readonly string[]>>;
  readonly audiences: readonly string[];
  readonly error: string;
}

/** Calls the API server's TokenReview (injected: the only I/O here). */
export type TokenReviewer = (token: string, audiences: readonly string[]) => Promise<TokenReviewResult>;

export type AuthResult = { readonly ok: true; readonly podKey: string } | { readonly ok: false; readonly code: 'unauthenticated' | 'permission-denied'; readonly reason: string };

export class SidecarAuthenticator {
  private readonly cache = new NodeCache({ useClones: false, checkperiod: 60, maxKeys: 100_000 });
  reviews = 0;
  /** Reviews not cached because the cache was full. */
  uncached = 0;

  constructor(private readonly review: TokenReviewer, private readonly pod: (namespace: string, name: string) => SlimPod | undefined) {}

  async authenticate(token: string, namespace: string, podName: string): Promise<AuthResult> {
    if (token === '') return { ok: false, code: 'unauthenticated', reason: 'hello carries no token' };
    const cacheKey = createHash('sha256').update(token).digest('hex');
    let result = this.cache.get<TokenReviewResult>(cacheKey);
    if (result === undefined) {
      this.reviews++;
      result = await this.review(token, [TOKEN_AUDIENCE]);
      if (result.authenticated) {
        try {
          this.cache.set(cacheKey, result, ttlSeconds(token));
        } catch {
          // Cache full (node-cache throws ECACHEFULL): admit without caching, and count it.
          this.uncached++;
        }
      }
    }
    if (!result.authenticated) return { ok: false, code: 'unauthenticated', reason: `token rejected by TokenReview${result.error === '' ? '' : `: ${result.error}`}` };
    if (!result.audiences.includes(TOKEN_AUDIENCE)) return { ok: false, code: 'unauthenticated', reason: `token is not for audience "${TOKEN_AUDIENCE}"` };
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(result.username);
    if (m === null) return { ok: false, code: 'permission-denied', reason: `"${result.username}" is not a ServiceAccount` };
    const [, tokenNamespace, serviceAccount] = m;
    if (tokenNamespace !== namespace) return { ok: false, code: 'permission-denied', reason: `token belongs to namespace "${tokenNamespace ?? ''}", not "${namespace}"` };
    const boundPod = result.extra[POD_NAME_EXTRA]?.[0];
    if (boundPod === undefined) return { ok: false, code: 'permission-denied', reason: 'token is not bound to a pod (use a projected ServiceAccount token)' };
    if (boundPod !== podName) return { ok: false, code: 'permission-denied', reason: `token is bound to pod "${boundPod}", not "${podName}"` };
    const pod = this.pod(namespace, podName);
    if (pod === undefined) return { ok: false, code: 'permission-denied', reason: `pod ${namespace}/${podName} is not known` };
    const boundUid = result.extra[POD_UID_EXTRA]?.[0];
    if (boundUid !== undefined && boundUid !== pod.metadata.uid) return { ok: false, code: 'permission-denied', reason: `token is bound to another incarnation of pod ${podName}` };
    if (pod.serviceAccount !== serviceAccount) return { ok: false, code: 'permission-denied', reason: `pod ${podName} runs as "${pod.serviceAccount}", the token is for "${serviceAccount ?? ''}"` };
    return { ok: true, podKey: `${namespace}/${podName}` };
  }
}

/** Cache lifetime: until the JWT's exp (read, not trusted: TokenReview did the checking), at most 5 min. */
function ttlSeconds(token: string): number {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    if (typeof payload.exp === 'number') return Math.max(1, Math.min(MAX_CACHE_SECONDS, Math.floor(payload.exp - Date.now() / 1000)));
  } catch {
    // not a JWT: use the cap
  }
  return MAX_CACHE_SECONDS;
}
