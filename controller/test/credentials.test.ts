// The credential Secrets the controller holds: only the keys some policy's
// credentials read, refetched when those change, and a Ready message that says
// which credential is unavailable and what to do about it.
import { describe, expect, it } from '@jest/globals';
import type { V1Secret } from '@kubernetes/client-node';
import { CREDENTIAL_SELECTOR, CredentialKeys, credentialProblems, wantedKeys } from '../src/kube/credentials.js';
import { parsePolicies } from '../src/reconcile/snapshots.js';
import type { AgentPolicy } from '../../policy/src/index.js';
import { NAMESPACE, policyObject, slimSecret } from './helpers.js';

function policy(name: string, refs: readonly (readonly [string, string])[]): AgentPolicy {
  const spec = {
    podSelector: {},
    rules: [{ name: 'r', to: { hosts: ['a.example.com'] }, credential: 'c0' }],
    credentials: refs.map(([secret, key], i) => ({ name: `c${i}`, secretRef: { name: secret, key } })),
  };
  const [e] = parsePolicies([policyObject(name, spec)]);
  if (e?.parsed === undefined) throw new Error(e?.error);
  return e.parsed;
}

function secret(name: string, data: Record<string, string>): V1Secret {
  return { metadata: { name, namespace: NAMESPACE, resourceVersion: '5', labels: { 'agentwarden.io/credential': 'true' } }, data };
}

describe('wantedKeys', () => {
  it('collects the keys each Secret is read for, across policies', () => {
    const wanted = wantedKeys([policy('a', [['api', 'token'], ['api', 'user']]), policy('b', [['api', 'token'], ['other', 'key']])]);
    expect([...wanted].map(([id, keys]) => [id, [...keys].sort()])).toEqual([[`${NAMESPACE}/api`, ['token', 'user']], [`${NAMESPACE}/other`, ['key']]]);
  });
});

describe('CredentialKeys', () => {
  it('keeps of a Secret only the keys policies read, and nothing of a Secret no policy names', () => {
    const keys = new CredentialKeys(() => undefined);
    keys.follow([policy('a', [['api', 'token']])]);
    expect(keys.slim(secret('api', { token: 'dA==', 'private.pem': 'cA==' })).data).toEqual({ token: 'dA==' });
    expect(keys.slim(secret('unrelated', { password: 'cA==' })).data).toEqual({});
    expect(keys.stats()).toEqual({ secrets: 1, keys: 1 });
  });

  it('refetches when the keys policies read change, and holds the pass until a list with the new filter is in', async () => {
    let refetches = 0;
    const keys = new CredentialKeys(() => { refetches++; });
    expect(keys.follow([])).toBe(true);
    expect(refetches).toBe(0);

    const policies = [policy('a', [['api', 'token']])];
    expect(keys.follow(policies)).toBe(false);
    expect(refetches).toBe(1);
    expect(keys.follow(policies)).toBe(false); // no new refetch: the one asked for is pending
    expect(refetches).toBe(1);
    await keys.list(() => Promise.resolve([]));
    expect(keys.follow(policies)).toBe(true);

    // A policy that no longer reads the key: refetched too, so that the value leaves memory.
    expect(keys.follow([policy('a', [['api', 'user']])])).toBe(false);
    expect(refetches).toBe(2);
  });

  it('does not count a list that started before the filter changed', async () => {
    const keys = new CredentialKeys(() => undefined);
    let finish: () => void = () => undefined;
    const inFlight = keys.list(() => new Promise<void>((resolve) => { finish = resolve; }));
    const policies = [policy('a', [['api', 'token']])];
    expect(keys.follow(policies)).toBe(false);
    finish();
    await inFlight;
    expect(keys.follow(policies)).toBe(false);
  });
});

describe('a credential value above --max-credential-value-bytes', () => {
  it('is not kept: the slimmed Secret holds the small keys and says why the large one was refused', () => {
    const keys = new CredentialKeys(() => undefined, 8);
    keys.follow([policy('a', [['api', 'token'], ['api', 'big']])]);
    // 8 bytes decoded fit; 9 do not.
    const slim = keys.slim(secret('api', { token: Buffer.from('12345678').toString('base64'), big: Buffer.from('123456789').toString('base64') }));
    expect(slim.data).toEqual({ token: Buffer.from('12345678').toString('base64') });
    expect(slim.refusedKeys?.['big']).toEqual({ reason: 'CredentialTooLarge', metric: 'value_too_large', message: 'the value of key "big" is 9 bytes, above the controller\'s --max-credential-value-bytes 8' });
  });

  it('makes the policy\'s credential problem say it was refused, with the limit\'s reason', () => {
    const keys = new CredentialKeys(() => undefined, 8);
    const p = policy('a', [['api', 'token']]);
    keys.follow([p]);
    const slim = keys.slim(secret('api', { token: Buffer.alloc(700 * 1024).toString('base64') }));
    expect(credentialProblems(p, () => slim)).toEqual([{
      reason: 'CredentialTooLarge',
      message: `credential "c0" refused: Secret ${NAMESPACE}/api: the value of key "token" is ${700 * 1024} bytes, above the controller's --max-credential-value-bytes 8`,
    }]);
  });
});

describe('credentialProblems', () => {
  const p = policy('a', [['api', 'token']]);

  it('says that a Secret not in the cache needs the credential label, with the command', () => {
    expect(credentialProblems(p, () => undefined)).toEqual([{
      reason: 'CredentialUnavailable',
      message: `credential "c0" unavailable: Secret ${NAMESPACE}/api is not among the Secrets labelled ${CREDENTIAL_SELECTOR} (create it, or label it: kubectl label secret -n ${NAMESPACE} api ${CREDENTIAL_SELECTOR})`,
    }]);
  });

  it('names the missing key of a labelled Secret, and nothing when the key is there', () => {
    expect(credentialProblems(p, () => slimSecret('api', { user: 'u' }, '1'))).toEqual([{ reason: 'CredentialUnavailable', message: `credential "c0" unavailable: Secret ${NAMESPACE}/api has no key "token"` }]);
    expect(credentialProblems(p, () => slimSecret('api', { token: 't' }, '1'))).toEqual([]);
  });
});
