// The controller's cache limits (kube/limits.ts, kube/budget.ts): what one
// namespace may make it hold. Over a limit an object is kept as a stub that
// says why, the refusal is counted once per object version, and other
// namespaces are untouched.
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_CACHE_LIMITS, limitPolicy, policyBudget, secretBudget, type CacheLimits } from '../src/kube/limits.js';
import type { SlimSecret } from '../src/kube/objects.js';
import { allowSpec, policyObject, slimSecret } from './helpers.js';

const LIMITS: CacheLimits = { ...DEFAULT_CACHE_LIMITS, maxCredentialSecretsPerNamespace: 3, maxCredentialBytesPerNamespace: 300, maxPoliciesPerNamespace: 2, maxPolicyBytes: 200 };

/** A Secret holding `bytes` bytes of base64. */
function secretOf(name: string, bytes: number, namespace = 'team-a', rv = '1'): SlimSecret {
  return { ...slimSecret(name, {}, rv, namespace), data: { token: 'A'.repeat(bytes) } };
}

describe('the credential Secrets budget of a namespace', () => {
  it('refuses the Secret that would take its namespace past the bytes limit, keeping a stub that says why', () => {
    const budget = secretBudget(LIMITS);
    expect(budget.admit(secretOf('a', 100)).data).toEqual({ token: 'A'.repeat(100) });
    expect(budget.admit(secretOf('b', 150)).refused).toBeUndefined();
    const c = budget.admit(secretOf('c', 100));
    expect(c.data).toEqual({});
    expect(c.refused).toEqual({ reason: 'NamespaceCredentialLimit', metric: 'namespace_bytes', message: 'namespace team-a would hold 350 bytes of secrets in the controller\'s cache, above --max-credential-bytes-per-namespace 300' });
    expect(budget.stats()).toMatchObject({ resource: 'secrets', bytes: 250, refusedObjects: 1 });
    expect(budget.stats().refused.get('namespace_bytes')).toBe(1);
  });

  it('refuses Secrets past the count limit, and charges nothing for a labelled Secret no policy reads', () => {
    const budget = secretBudget(LIMITS);
    for (const name of ['a', 'b', 'c']) budget.admit(secretOf(name, 1));
    expect(budget.admit({ ...slimSecret('unread', {}, '1', 'team-a') }).refused).toBeUndefined();
    expect(budget.admit(secretOf('d', 1)).refused?.metric).toBe('namespace_objects');
  });

  it('leaves other namespaces their own budget', () => {
    const budget = secretBudget(LIMITS);
    budget.admit(secretOf('a', 300));
    expect(budget.admit(secretOf('b', 1)).refused?.metric).toBe('namespace_bytes');
    expect(budget.admit(secretOf('b', 300, 'team-b')).refused).toBeUndefined();
  });

  it('gives the room back when a Secret leaves, and counts a version refused again at a relist once', () => {
    const budget = secretBudget(LIMITS);
    const a = budget.admit(secretOf('a', 200));
    expect(budget.admit(secretOf('b', 200)).refused).toBeDefined();
    budget.release(a);
    expect(budget.admit(secretOf('b', 200, 'team-a', '2')).refused).toBeUndefined();
    // A relist: every charge dropped, the same objects admitted again.
    budget.reset();
    budget.admit(secretOf('b', 200, 'team-a', '2'));
    expect(budget.admit(secretOf('a', 200)).refused).toBeDefined();
    budget.reset();
    budget.admit(secretOf('b', 200, 'team-a', '2'));
    budget.admit(secretOf('a', 200));
    expect(budget.stats().refused.get('namespace_bytes')).toBe(2);
  });

  it('counts a key refused for its size (the rest of the Secret stays)', () => {
    const budget = secretBudget(LIMITS);
    const s: SlimSecret = { ...secretOf('a', 10), refusedKeys: { big: { reason: 'CredentialTooLarge', metric: 'value_too_large', message: 'too large' } } };
    expect(budget.admit(s)).toBe(s);
    expect(budget.stats().refused.get('value_too_large')).toBe(1);
    expect(budget.stats().bytes).toBe(10);
  });
});

describe('the AgentPolicy limits', () => {
  it('keeps a policy above --max-policy-bytes as a stub without its spec, saying why', () => {
    const big = policyObject('big', allowSpec('a'.repeat(300) + '.example.com'));
    const kept = limitPolicy(big, 200);
    expect(kept.spec).toBeUndefined();
    expect(kept.metadata?.name).toBe('big');
    expect(kept.refused?.reason).toBe('PolicyTooLarge');
    expect(kept.refused?.message).toMatch(/^the policy's spec is \d+ bytes, above the controller's --max-policy-bytes 200; split it into smaller policies$/);
    const small = policyObject('small', allowSpec('a.example.com'));
    expect(limitPolicy(small, 200)).toBe(small);
  });

  it('refuses policies past the per-namespace count, and counts a too-large one', () => {
    const budget = policyBudget(LIMITS);
    budget.admit(policyObject('p1', allowSpec('a.example.com')));
    budget.admit(policyObject('p2', allowSpec('a.example.com')));
    const third = budget.admit(policyObject('p3', allowSpec('a.example.com')));
    expect(third.refused).toEqual({ reason: 'NamespacePolicyLimit', metric: 'namespace_objects', message: 'namespace support already has 2 agentpolicies in the controller\'s cache, the most it may (--max-policies-per-namespace 2)' });
    budget.admit(limitPolicy(policyObject('big', allowSpec('a'.repeat(300) + '.example.com')), 200));
    expect(budget.stats().refused.get('object_too_large')).toBe(1);
    expect(budget.stats().refusedObjects).toBe(2);
  });
});
