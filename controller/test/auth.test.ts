// Who may receive a pod's snapshot: SidecarAuthenticator over a fake
// TokenReview (what the API server answers for each token) and a fake pod
// cache. A sidecar gets its own pod's snapshot only with a projected token
// bound to that very pod and its service account.
import { describe, expect, it } from '@jest/globals';
import { SidecarAuthenticator, TOKEN_AUDIENCE, type StreamIdentity, type TokenReviewResult } from '../src/distribution/auth.js';
import type { SlimPod } from '../src/kube/objects.js';
import { NAMESPACE, SERVICE_ACCOUNT, eventually, slimPod } from './helpers.js';

const POD = 'support-agent-0';
const OTHER_POD = 'support-agent-1';

let serial = 0;
/** A JWT-shaped token (the authenticator reads, never trusts, its exp). */
function token(expiresInSeconds = 3600): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  serial++;
  return `${part({ alg: 'RS256', kid: 'k1' })}.${part({ exp: Math.floor(Date.now() / 1000) + expiresInSeconds, jti: `token-${serial}` })}.${Buffer.from(`signature-${serial}`).toString('base64url')}`;
}

/** What TokenReview says about a projected token of `pod` in `namespace`, running as `sa`. */
function bound(pod: string, uid = `uid-${pod}`, namespace = NAMESPACE, sa = SERVICE_ACCOUNT): TokenReviewResult {
  return {
    authenticated: true,
    username: `system:serviceaccount:${namespace}:${sa}`,
    extra: { 'authentication.kubernetes.io/pod-name': [pod], 'authentication.kubernetes.io/pod-uid': [uid], 'authentication.kubernetes.io/node-name': ['node-1'] },
    audiences: [TOKEN_AUDIENCE],
    error: '',
  };
}

const REJECTED: TokenReviewResult = { authenticated: false, username: '', extra: {}, audiences: [], error: '[invalid bearer token, square/go-jose: error in cryptographic primitive]' };

class Harness {
  readonly reviews = new Map<string, TokenReviewResult | Error>();
  readonly calls: { token: string; audiences: readonly string[] }[] = [];
  readonly pods = new Map<string, SlimPod>([
    [`${NAMESPACE}/${POD}`, slimPod({ name: POD })],
    [`${NAMESPACE}/${OTHER_POD}`, slimPod({ name: OTHER_POD })],
  ]);

  /** The authenticator's clock, ms since the epoch. */
  nowMs = Date.now();

  readonly auth = new SidecarAuthenticator(
    (t, audiences) => {
      this.calls.push({ token: t, audiences });
      const r = this.reviews.get(t);
      if (r instanceof Error) return Promise.reject(r);
      return Promise.resolve(r ?? REJECTED);
    },
    (ns, name) => this.pods.get(`${ns}/${name}`),
    () => this.nowMs,
  );

  /** A token the API server reviews as `result`. */
  tokenFor(result: TokenReviewResult | Error, expiresInSeconds?: number): string {
    const t = token(expiresInSeconds);
    this.reviews.set(t, result);
    return t;
  }
}

describe('SidecarAuthenticator', () => {
  it('accepts a token bound to the claimed pod with the pod\'s service account, asking TokenReview for audience agentwarden', async () => {
    const h = new Harness();
    const t = h.tokenFor(bound(POD));
    const result = await h.auth.authenticate(t, NAMESPACE, POD);
    expect(result).toEqual({ ok: true, podKey: `${NAMESPACE}/${POD}`, podUid: `uid-${POD}`, expiresAtMs: expect.any(Number) });
    expect(h.calls).toEqual([{ token: t, audiences: ['agentwarden'] }]);
  });

  it('refuses a hello without a token without asking TokenReview', async () => {
    const h = new Harness();
    expect(await h.auth.authenticate('', NAMESPACE, POD)).toMatchObject({ ok: false, code: 'unauthenticated' });
    expect(h.calls).toHaveLength(0);
  });

  describe('refuses', () => {
    const cases: { readonly name: string; readonly review: (h: Harness) => TokenReviewResult; readonly claim?: { namespace: string; pod: string }; readonly code: 'unauthenticated' | 'permission-denied'; readonly reason: RegExp }[] = [
      { name: 'a token TokenReview does not authenticate', review: () => REJECTED, code: 'unauthenticated', reason: /rejected by TokenReview: \[invalid bearer token/ },
      { name: 'a token for another audience', review: () => ({ ...bound(POD), audiences: ['https://kubernetes.default.svc.cluster.local'] }), code: 'unauthenticated', reason: /audience "agentwarden"/ },
      { name: 'a user that is not a ServiceAccount', review: () => ({ ...bound(POD), username: 'system:node:node-1' }), code: 'permission-denied', reason: /"system:node:node-1" is not a ServiceAccount/ },
      { name: 'a ServiceAccount token of another namespace', review: () => bound(POD, `uid-${POD}`, 'billing'), code: 'permission-denied', reason: /namespace "billing", not "support"/ },
      { name: 'a token bound to another pod (an impostor claiming pod A with pod B\'s token)', review: () => bound(OTHER_POD), code: 'permission-denied', reason: /bound to pod "support-agent-1", not "support-agent-0"/ },
      { name: 'a token not bound to any pod (a legacy or TokenRequest token without a pod)', review: () => ({ ...bound(POD), extra: {} }), code: 'permission-denied', reason: /not bound to a pod/ },
      { name: 'a claim on a pod the controller does not know', review: () => bound('support-agent-9'), claim: { namespace: NAMESPACE, pod: 'support-agent-9' }, code: 'permission-denied', reason: /pod support\/support-agent-9 is not known: the controller serves only pods labelled agentwarden.io\/injected=true/ },
      { name: 'a token of an earlier pod with the same name (uid mismatch)', review: () => bound(POD, 'uid-of-the-deleted-pod'), code: 'permission-denied', reason: /another incarnation of pod support-agent-0/ },
      { name: 'a token bound to a pod by name only, without its uid', review: () => ({ ...bound(POD), extra: { 'authentication.kubernetes.io/pod-name': [POD] } }), code: 'permission-denied', reason: /not bound to a pod uid/ },
      { name: 'a token of a pod that is being deleted', review: (h) => { h.pods.set(`${NAMESPACE}/${POD}`, slimPod({ name: POD, deleting: true })); return bound(POD); }, code: 'permission-denied', reason: /pod support\/support-agent-0 is being deleted/ },
      { name: 'a token for another service account than the pod runs as', review: () => bound(POD, `uid-${POD}`, NAMESPACE, 'default'), code: 'permission-denied', reason: /runs as "support-agent", the token is for "default"/ },
    ];

    for (const c of cases) {
      it(c.name, async () => {
        const h = new Harness();
        const t = h.tokenFor(c.review(h));
        const claim = c.claim ?? { namespace: NAMESPACE, pod: POD };
        const result = await h.auth.authenticate(t, claim.namespace, claim.pod);
        expect(result).toMatchObject({ ok: false, code: c.code });
        if (result.ok) return;
        expect(result.reason).toMatch(c.reason);
        // The token is a credential: it is never echoed, whole or in part.
        for (const part of t.split('.')) expect(result.reason).not.toContain(part);
      });
    }
  });

  it('records the pod incarnation and the token\'s expiry (its exp claim) of an accepted hello', async () => {
    const h = new Harness();
    const t = h.tokenFor(bound(POD), 600);
    const result = await h.auth.authenticate(t, NAMESPACE, POD);
    if (!result.ok) throw new Error(result.reason);
    expect(result.podUid).toBe(`uid-${POD}`);
    expect(Math.abs(result.expiresAtMs - (Date.now() + 600_000))).toBeLessThan(2_000);
  });

  it('refuses a token without an exp claim, and one whose exp has passed on the controller\'s clock', async () => {
    const h = new Harness();
    h.reviews.set('not-a-jwt', bound(POD));
    expect(await h.auth.authenticate('not-a-jwt', NAMESPACE, POD)).toMatchObject({ ok: false, code: 'unauthenticated', reason: 'token carries no expiry (exp claim)' });
    const t = h.tokenFor(bound(POD), 60);
    h.nowMs += 61_000;
    expect(await h.auth.authenticate(t, NAMESPACE, POD)).toMatchObject({ ok: false, code: 'unauthenticated', reason: expect.stringMatching(/^token expired at /) });
  });

  describe('revokes an accepted stream identity', () => {
    async function accepted(h: Harness): Promise<StreamIdentity> {
      const result = await h.auth.authenticate(h.tokenFor(bound(POD), 600), NAMESPACE, POD);
      if (!result.ok) throw new Error(result.reason);
      return result;
    }

    it('not while its pod and token stand', async () => {
      const h = new Harness();
      expect(h.auth.revoked(await accepted(h))).toBeUndefined();
    });

    it('when its pod is deleted', async () => {
      const h = new Harness();
      const id = await accepted(h);
      h.pods.delete(`${NAMESPACE}/${POD}`);
      expect(h.auth.revoked(id)).toEqual({ code: 'permission-denied', reason: 'pod support/support-agent-0 was deleted' });
    });

    it('when its pod is being deleted (deletionTimestamp set)', async () => {
      const h = new Harness();
      const id = await accepted(h);
      h.pods.set(`${NAMESPACE}/${POD}`, slimPod({ name: POD, deleting: true }));
      expect(h.auth.revoked(id)).toEqual({ code: 'permission-denied', reason: 'pod support/support-agent-0 is being deleted' });
    });

    it('when another pod of the same name (another uid, another ServiceAccount) replaced it', async () => {
      const h = new Harness();
      const id = await accepted(h);
      h.pods.set(`${NAMESPACE}/${POD}`, slimPod({ name: POD, uid: 'uid-recreated', serviceAccount: 'billing-agent' }));
      expect(h.auth.revoked(id)).toEqual({ code: 'permission-denied', reason: 'pod support/support-agent-0 was replaced by another pod of the same name' });
    });

    it('when its token expires', async () => {
      const h = new Harness();
      const id = await accepted(h);
      h.nowMs = id.expiresAtMs - 1;
      expect(h.auth.revoked(id)).toBeUndefined();
      h.nowMs = id.expiresAtMs;
      expect(h.auth.revoked(id)).toMatchObject({ code: 'unauthenticated', reason: expect.stringMatching(/^token expired at .*; reconnect with the current token$/) });
    });
  });

  it('caches a successful review: two hellos with the same token make one TokenReview', async () => {
    const h = new Harness();
    const t = h.tokenFor(bound(POD));
    expect((await h.auth.authenticate(t, NAMESPACE, POD)).ok).toBe(true);
    expect((await h.auth.authenticate(t, NAMESPACE, POD)).ok).toBe(true);
    expect(h.calls).toHaveLength(1);
    expect(h.auth.reviews).toBe(1);
  });

  it('checks the claim again on a cached review: a cached token still cannot claim another pod', async () => {
    const h = new Harness();
    const t = h.tokenFor(bound(POD));
    expect((await h.auth.authenticate(t, NAMESPACE, POD)).ok).toBe(true);
    expect(await h.auth.authenticate(t, NAMESPACE, OTHER_POD)).toMatchObject({ ok: false, code: 'permission-denied' });
    h.pods.set(`${NAMESPACE}/${POD}`, slimPod({ name: POD, uid: 'uid-recreated' }));
    expect(await h.auth.authenticate(t, NAMESPACE, POD)).toMatchObject({ ok: false, reason: expect.stringContaining('another incarnation') });
    expect(h.calls).toHaveLength(1);
  });

  it('never caches a refused review', async () => {
    const h = new Harness();
    const t = h.tokenFor(REJECTED);
    expect((await h.auth.authenticate(t, NAMESPACE, POD)).ok).toBe(false);
    // The API server now accepts it (e.g. its signing keys were reloaded).
    h.reviews.set(t, bound(POD));
    expect((await h.auth.authenticate(t, NAMESPACE, POD)).ok).toBe(true);
    expect(h.calls).toHaveLength(2);
  });

  it('never caches a failed TokenReview call: the error propagates and the next hello asks again', async () => {
    const h = new Harness();
    const t = h.tokenFor(new Error('connect ECONNREFUSED 10.0.0.1:443'));
    await expect(h.auth.authenticate(t, NAMESPACE, POD)).rejects.toThrow('ECONNREFUSED');
    h.reviews.set(t, bound(POD));
    expect((await h.auth.authenticate(t, NAMESPACE, POD)).ok).toBe(true);
    expect(h.calls).toHaveLength(2);
  });

  it('reviews a token again once its expiry has passed', async () => {
    const h = new Harness();
    const t = h.tokenFor(bound(POD), 1);
    expect((await h.auth.authenticate(t, NAMESPACE, POD)).ok).toBe(true);
    await eventually('the cached review to expire with the token', async () => {
      await h.auth.authenticate(t, NAMESPACE, POD);
      return h.calls.length >= 2 ? true : undefined;
    }, 5_000);
  });

  it('keeps admitting sidecars when its review cache is full', async () => {
    const h = new Harness();
    const good = bound(POD);
    // One review per distinct token; the cache holds at most 100 000 of them.
    for (let i = 0; i < 100_000; i++) {
      const result = await h.auth.authenticate(h.tokenFor(good), NAMESPACE, POD);
      if (!result.ok) throw new Error(`hello ${i} refused: ${result.reason}`);
    }
    const next = h.tokenFor(good);
    await expect(h.auth.authenticate(next, NAMESPACE, POD)).resolves.toMatchObject({ ok: true, podKey: `${NAMESPACE}/${POD}` });
  });
});
