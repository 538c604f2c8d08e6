// Who is on the other end of a PolicyDistribution stream: the sidecar's
// projected ServiceAccount token (audience "agentwarden") is verified with a
// TokenReview, cached for the token's lifetime, and must be bound to the very
// pod the sidecar claims to be (the pod-name and pod-uid extras of bound
// tokens: one incarnation of the pod, not any pod of that name) and to that
// pod's service account. A sidecar gets its own pod's snapshot and nothing else.
// The result carries the pod's uid and the token's expiry: the stream lives
// only as long as both (see server.ts), unless the sidecar re-authenticates.
import { createHash } from 'node:crypto';
import NodeCache from 'node-cache';
import { POD_LABEL_SELECTOR, type SlimPod } from '../kube/objects.js';

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

/** Who is on the stream: one incarnation of one pod, until the token's expiry. */
export interface StreamIdentity {
  readonly podKey: string;
  /** The uid the token is bound to, which is the uid of the pod the informer knows. */
  readonly podUid: string;
  /** The token's exp claim, ms since the epoch. */
  readonly expiresAtMs: number;
}

export interface Revocation {
  readonly code: 'unauthenticated' | 'permission-denied';
  readonly reason: string;
}

export type AuthResult = ({ readonly ok: true } & StreamIdentity) | { readonly ok: false; readonly code: 'unauthenticated' | 'permission-denied'; readonly reason: string };

export class SidecarAuthenticator {
  private readonly cache = new NodeCache({ useClones: false, checkperiod: 60, maxKeys: 100_000 });
  reviews = 0;
  /** Reviews not cached because the cache was full. */
  uncached = 0;

  constructor(
    private readonly review: TokenReviewer,
    private readonly pod: (namespace: string, name: string) => SlimPod | undefined,
    /** The clock, ms since the epoch (injected for tests). */
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(token: string, namespace: string, podName: string): Promise<AuthResult> {
    if (token === '') return { ok: false, code: 'unauthenticated', reason: 'hello carries no token' };
    const cacheKey = createHash('sha256').update(token).digest('hex');
    let result = this.cache.get<TokenReviewResult>(cacheKey);
    if (result === undefined) {
      this.reviews++;
      result = await this.review(token, [TOKEN_AUDIENCE]);
      if (result.authenticated) {
        try {
          this.cache.set(cacheKey, result, ttlSeconds(token, this.now()));
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
    const boundUid = result.extra[POD_UID_EXTRA]?.[0];
    if (boundUid === undefined || boundUid === '') return { ok: false, code: 'permission-denied', reason: 'token is not bound to a pod uid (use a projected ServiceAccount token)' };
    const expiresAtMs = expiryMs(token);
    if (expiresAtMs === undefined) return { ok: false, code: 'unauthenticated', reason: 'token carries no expiry (exp claim)' };
    if (expiresAtMs <= this.now()) return { ok: false, code: 'unauthenticated', reason: `token expired at ${new Date(expiresAtMs).toISOString()}` };
    const podKey = `${namespace}/${podName}`;
    const pod = this.pod(namespace, podName);
    if (pod === undefined) return { ok: false, code: 'permission-denied', reason: `pod ${podKey} is not known: the controller serves only pods labelled ${POD_LABEL_SELECTOR} (the injecting webhook sets it; restart or label a pod injected by an older version)` };
    if (boundUid !== pod.metadata.uid) return { ok: false, code: 'permission-denied', reason: `token is bound to another incarnation of pod ${podName}` };
    if (pod.deleting) return { ok: false, code: 'permission-denied', reason: `pod ${podKey} is being deleted` };
    if (pod.serviceAccount !== serviceAccount) return { ok: false, code: 'permission-denied', reason: `pod ${podName} runs as "${pod.serviceAccount}", the token is for "${serviceAccount ?? ''}"` };
    return { ok: true, podKey, podUid: boundUid, expiresAtMs };
  }

  /**
   * Why a stream of `identity` must end now, or undefined while it may stay:
   * its pod was deleted (or is being deleted), replaced by another pod of the
   * same name, or its token expired.
   */
  revoked(identity: StreamIdentity): Revocation | undefined {
    const [namespace = '', name = ''] = identity.podKey.split('/');
    const pod = this.pod(namespace, name);
    if (pod === undefined) return { code: 'permission-denied', reason: `pod ${identity.podKey} was deleted` };
    if (pod.metadata.uid !== identity.podUid) return { code: 'permission-denied', reason: `pod ${identity.podKey} was replaced by another pod of the same name` };
    if (pod.deleting) return { code: 'permission-denied', reason: `pod ${identity.podKey} is being deleted` };
    if (identity.expiresAtMs <= this.now()) return { code: 'unauthenticated', reason: `token expired at ${new Date(identity.expiresAtMs).toISOString()}; reconnect with the current token` };
    return undefined;
  }
}

/**
 * The JWT's exp claim in ms, or undefined. Read, not trusted: TokenReview has
 * validated the token (signature and expiry) before this is asked; TokenReview
 * itself does not return the expiry.
 */
export function expiryMs(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    if (typeof payload.exp === 'number' && Number.isFinite(payload.exp)) return payload.exp * 1000;
  } catch {
    // not a JWT
  }
  return undefined;
}

/** Cache lifetime: until the JWT's exp, at most 5 min. */
function ttlSeconds(token: string, nowMs: number): number {
  const exp = expiryMs(token);
  if (exp === undefined) return MAX_CACHE_SECONDS;
  return Math.max(1, Math.min(MAX_CACHE_SECONDS, Math.floor((exp - nowMs) / 1000)));
}
