// Brokered OAuth credentials (DESIGN.md "Brokered OAuth credentials"): the
// manifest's oauth2 credentials and a rule's `credential: {name, scopes}`, one
// snapshot Credential per (credential, scope set) carrying the broker's token
// (never the client secret), and the sidecar's deny "credential unavailable"
// when the token is missing or expired by its own clock.
import {
  compileSnapshot, evaluate, loadSnapshot, PolicyError, REASON_CREDENTIAL_UNAVAILABLE, TokenBuckets,
  type TokenLease,
} from '../src/index.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { fakeSecrets, manifestObject, policy, POD, TUESDAY_10_BERLIN } from './helpers.js';
import { parseAgentPolicy } from '../src/manifest.js';

const CRM = `
  podSelector: {}
  rules:
    - name: read-customer
      to: {hosts: [crm.internal]}
      http: {methods: [GET]}
      credential: {name: crm, scopes: [customers.read]}
    - name: write-customer
      to: {hosts: [crm.internal]}
      http: {methods: [POST]}
      credential: {name: crm, scopes: [customers.write, customers.read]}
    - name: everything
      to: {hosts: [all.crm.internal]}
      credential: crm
    - name: static
      to: {hosts: [api.zendesk.com]}
      credential: zendesk
  credentials:
    - name: crm
      oauth2:
        tokenUrl: https://auth.crm.internal/oauth2/token
        clientSecretRef: {name: crm-oauth}
        scopes: [customers.read, customers.write]
        audience: https://crm.internal
    - name: zendesk
      secretRef: {name: zendesk-api, key: token}
`;

const NOW = TUESDAY_10_BERLIN;

/** A broker stand-in with a token per scope set ("tok-<scopes>"), valid for `lifetimeMs` from `issuedMs`. */
function tokens(issuedMs: number, lifetimeMs: number, seq = 1): ((namespace: string, policyName: string, credential: string, scopes: readonly string[]) => TokenLease) & { calls: string[] } {
  const calls: string[] = [];
  const resolve = (namespace: string, policyName: string, credential: string, scopes: readonly string[]): TokenLease => {
    calls.push(`${namespace}/${policyName}/${credential}:${scopes.join(' ')}`);
    return { token: `tok-${scopes.join('+')}-${seq}`, expiresAtMs: issuedMs + lifetimeMs, lifetimeMs, revision: `oauth2:${seq}`, unavailableReason: '' };
  };
  return Object.assign(resolve, { calls });
}

function decide(loaded: ReturnType<typeof loadSnapshot>, url: string, method: string, nowMs: number): ReturnType<typeof evaluate> {
  return evaluate(loaded, checkRequestFrom({ url, method }, undefined), { nowMs, rateLimiter: new TokenBuckets() });
}

describe('oauth2 credentials in a manifest', () => {
  it('reads oauth2 with its defaults and both forms of a rule credential', () => {
    const p = policy('crm', CRM);
    const crm = p.credentials.find((c) => c.name === 'crm');
    expect(crm?.oauth2).toEqual({
      tokenUrl: 'https://auth.crm.internal/oauth2/token', clientSecretRef: { name: 'crm-oauth' }, scopes: ['customers.read', 'customers.write'],
      audience: 'https://crm.internal', parameters: {}, clientAuth: 'ClientSecretBasic',
    });
    expect(crm?.secretRef).toBeUndefined();
    expect(p.rules.map((r) => [r.credential, r.credentialScopes])).toEqual([
      ['crm', ['customers.read']], ['crm', ['customers.write', 'customers.read']], ['crm', undefined], ['zendesk', undefined],
    ]);
  });

  const refused = (spec: string): string[] => {
    try {
      parseAgentPolicy(manifestObject('crm', spec), 'crm.yaml', 'support');
    } catch (e: unknown) {
      if (e instanceof PolicyError) return e.problems.map((p) => `${p.field}: ${p.message}`);
      throw e;
    }
    return [];
  };

  it('refuses a rule scope the credential does not have, naming the rule field', () => {
    const problems = refused(CRM.replace('scopes: [customers.read]}', 'scopes: [customers.delete]}'));
    expect(problems).toEqual(['spec.rules[0].credential.scopes: asks for scope(s) "customers.delete", which credential "crm" does not have (its oauth2.scopes: customers.read customers.write)']);
  });

  it('refuses scopes on a static credential', () => {
    expect(refused(CRM.replace('credential: zendesk', 'credential: {name: zendesk, scopes: [a]}'))).toEqual([
      'spec.rules[3].credential.scopes: asks for scopes, but credential "zendesk" is not an oauth2 credential',
    ]);
  });

  it('refuses a plain http token URL, reserved parameters, both secretRef and oauth2, and unknown fields', () => {
    const problems = refused(CRM
      .replace('https://auth.crm.internal', 'http://auth.crm.internal')
      .replace('audience: https://crm.internal', 'audience: https://crm.internal\n        parameters: {client_secret: x, audience: y}\n        secretRef: {name: a}'));
    expect(problems).toEqual([
      'spec.credentials[0].oauth2.secretRef: unknown field',
      'spec.credentials[0].oauth2.tokenUrl: "http://auth.crm.internal/oauth2/token" must be an https URL (the client secret travels in the request)',
      'spec.credentials[0].oauth2.parameters.client_secret: is set by the grant itself (the client secret stays in clientSecretRef)',
    ]);
    expect(refused(CRM.replace('        clientSecretRef: {name: crm-oauth}\n', '').replace("    - name: zendesk\n      secretRef: {name: zendesk-api, key: token}", "    - name: zendesk\n      secretRef: {name: zendesk-api, key: token}\n      oauth2: {tokenUrl: 'https://a.b/t', clientSecretRef: {name: s}}"))).toEqual([
      'spec.credentials[0].oauth2.clientSecretRef: required',
      'spec.credentials[1]: has both secretRef and oauth2; a credential is either a Secret value or a brokered OAuth token',
    ]);
  });

  it('refuses a credential that is neither a name nor {name, scopes}', () => {
    expect(refused(CRM.replace('credential: zendesk', 'credential: [zendesk]'))).toEqual(['spec.rules[3].credential: must be a credential name or {name, scopes}, got a list']);
    expect(refused(CRM.replace('credential: zendesk', 'credential: {scopes: [a]}'))).toEqual(['spec.rules[3].credential.name: required']);
  });
});

describe('oauth2 credentials in a snapshot', () => {
  it('compile to one Credential per (credential, scope set), scopes sorted, with the broker token and no client secret', () => {
    const broker = tokens(NOW, 60_000);
    const s = compileSnapshot([policy('crm', CRM)], POD, { resolveSecret: fakeSecrets, resolveToken: broker });
    expect(s.credentials.map((c) => [c.name, c.oauth2, c.scopes, new TextDecoder().decode(c.value), c.secretName, c.secretKey])).toEqual([
      ['crm', true, ['customers.read'], 'tok-customers.read-1', 'crm-oauth', ''],
      ['crm', true, ['customers.read', 'customers.write'], 'tok-customers.read+customers.write-1', 'crm-oauth', ''],
      ['zendesk', false, [], 'secret:support/zendesk-api/token', 'zendesk-api', 'token'],
    ]);
    // The rule without scopes gets all of the credential's: the same set as write-customer's.
    expect(s.rules.map((r) => r.credential)).toEqual([0, 1, 1, 2]);
    expect(s.credentials[0]?.expiresAtMs).toBe(BigInt(NOW + 60_000));
    expect(broker.calls).toEqual(['support/crm/crm:customers.read', 'support/crm/crm:customers.read customers.write']);
    // Nothing of the client Secret (client_id, client_secret) is ever asked for or carried.
    expect(JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('client_secret');
  });

  it('has a version that follows the token revision, never the token', () => {
    const a = compileSnapshot([policy('crm', CRM)], POD, { resolveToken: tokens(NOW, 60_000, 1) });
    const sameRevisionOtherToken = compileSnapshot([policy('crm', CRM)], POD, {
      resolveToken: (ns, p, c, scopes) => ({ ...tokens(NOW, 60_000, 1)(ns, p, c, scopes), token: 'something-else' }),
    });
    const refreshed = compileSnapshot([policy('crm', CRM)], POD, { resolveToken: tokens(NOW, 60_000, 2) });
    expect(sameRevisionOtherToken.version).toBe(a.version);
    expect(refreshed.version).not.toBe(a.version);
  });

  it('without a broker (CLI, standalone sidecar) leaves oauth2 credentials unresolved: the rule denies saying why', () => {
    const loaded = loadSnapshot(compileSnapshot([policy('crm', CRM)], POD, { resolveSecret: fakeSecrets }));
    const d = decide(loaded, 'https://crm.internal/customers/1', 'GET', NOW);
    expect(d.allowed).toBe(false);
    expect(d.rule).toBe('read-customer');
    expect(d.reason).toBe(`${REASON_CREDENTIAL_UNAVAILABLE}: rule "read-customer" of policy "crm" allows, but its OAuth credential "crm" (scopes customers.read) has no token: no token broker (only the controller fetches OAuth tokens)`);
    expect(d.headers).toEqual([]);
  });
});

describe('the sidecar with a brokered token', () => {
  const snapshot = compileSnapshot([policy('crm', CRM)], POD, { resolveToken: tokens(NOW, 60_000) });

  it('injects the token of the allowing rule\'s scope set', () => {
    const loaded = loadSnapshot(snapshot, { nowMs: NOW });
    expect(decide(loaded, 'https://crm.internal/customers/1', 'GET', NOW + 1_000).headers).toEqual([['authorization', 'Bearer tok-customers.read-1']]);
    expect(decide(loaded, 'https://crm.internal/customers', 'POST', NOW + 1_000).headers).toEqual([['authorization', 'Bearer tok-customers.read+customers.write-1']]);
  });

  it('denies with "credential unavailable" once the token expired by its own clock, and never sends it', () => {
    const loaded = loadSnapshot(snapshot, { nowMs: NOW });
    expect(decide(loaded, 'https://crm.internal/customers/1', 'GET', NOW + 59_999).allowed).toBe(true);
    const d = decide(loaded, 'https://crm.internal/customers/1', 'GET', NOW + 60_000);
    expect(d.allowed).toBe(false);
    expect(d.headers).toEqual([]);
    expect(d.reason).toBe(`${REASON_CREDENTIAL_UNAVAILABLE}: rule "read-customer" of policy "crm" allows, but its OAuth credential "crm" (scopes customers.read) has no unexpired token (the last one expired 0 ms ago)`);
    expect(d.reason).not.toContain('tok-');
  });

  it('uses a token at most its lifetime after first loading it, whatever the controller clock said', () => {
    // The sidecar clock is 30 s behind the controller's: expires_at alone would give 30 s more.
    const behind = NOW - 30_000;
    const seen = new Map<string, number>();
    const firstSeen = (rev: string, now: number): number => seen.get(rev) ?? (seen.set(rev, now), now);
    const loaded = loadSnapshot(snapshot, { nowMs: behind, tokenFirstSeen: firstSeen });
    expect(decide(loaded, 'https://crm.internal/customers/1', 'GET', behind + 59_999).allowed).toBe(true);
    expect(decide(loaded, 'https://crm.internal/customers/1', 'GET', behind + 60_000).allowed).toBe(false);
    // Loaded again later (another snapshot, same token): the first sight still counts.
    const again = loadSnapshot(snapshot, { nowMs: behind + 50_000, tokenFirstSeen: firstSeen });
    expect(decide(again, 'https://crm.internal/customers/1', 'GET', behind + 60_000).allowed).toBe(false);
  });

  it('never uses a token that comes without an expiry', () => {
    const s = compileSnapshot([policy('crm', CRM)], POD, { resolveToken: (ns, p, c, scopes) => ({ ...tokens(NOW, 60_000)(ns, p, c, scopes), expiresAtMs: 0 }) });
    const d = decide(loadSnapshot(s, { nowMs: NOW }), 'https://crm.internal/customers/1', 'GET', NOW);
    expect(d.allowed).toBe(false);
    expect(d.reason.startsWith(REASON_CREDENTIAL_UNAVAILABLE)).toBe(true);
  });

  it('passes on the controller\'s reason when there is no token', () => {
    const s = compileSnapshot([policy('crm', CRM)], POD, {
      resolveToken: () => ({ token: undefined, expiresAtMs: 0, lifetimeMs: 0, revision: 'oauth2:7', unavailableReason: 'token endpoint answered 401 invalid_client' }),
    });
    const d = decide(loadSnapshot(s, { nowMs: NOW }), 'https://crm.internal/customers/1', 'GET', NOW);
    expect(d.reason).toContain('has no token: token endpoint answered 401 invalid_client');
  });
});
