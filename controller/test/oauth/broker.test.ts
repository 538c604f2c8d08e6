// The token broker against a real OAuth 2.0 authorization server (oidc-provider
// over TLS on loopback, e2e/tools/oauth): tokens with exactly the rule's scopes
// and the credential's audience (the server's introspection says so), refresh
// before expiry with the lease never empty, an outage that keeps the last token
// until it expires and then reports why, recovery, and a client secret rotation
// picked up at once while fetches fail. Nothing it logs, reports in status or
// metrics contains a token or the client secret.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startAuthorizationServer, type RunningAuthorizationServer } from '../../../e2e/tools/oauth/authorization-server.js';
import { TokenBroker, type TokenDemand } from '../../src/oauth/broker.js';
import { trustedCas } from '../../src/oauth/index.js';
import { DEFAULT_OAUTH_OPTIONS } from '../../src/oauth/options.js';
import { fetchToken } from '../../src/oauth/token-client.js';
import { eventually as until } from '../helpers.js';

const RESOURCE = 'https://crm.internal';
const SCOPES = ['customers.read', 'customers.write'];
const TTL_S = 2;

describe('the token broker against a real authorization server', () => {
  let server: RunningAuthorizationServer;
  let secret = { clientId: 'agentwarden', clientSecret: 'first-client-secret-7Qw9', version: '1' };
  const logs: string[] = [];
  const issuedTokens = new Set<string>();
  let changes = 0;
  let broker: TokenBroker;
  let demand: TokenDemand;

  beforeAll(async () => {
    server = await startAuthorizationServer({
      client: { clientId: secret.clientId, clientSecret: secret.clientSecret, scopes: SCOPES },
      introspector: { clientId: 'crm-api', clientSecret: 'introspector-secret' },
      resource: RESOURCE, accessTokenTtlS: TTL_S,
    });
    const options = { ...DEFAULT_OAUTH_OPTIONS, caFile: server.caFile, retryBaseMs: 100, retryMaxMs: 400 };
    const ca = trustedCas(options.caFile);
    broker = new TokenBroker({
      options,
      fetch: async (r) => {
        const result = await fetchToken(r, { ca, timeoutMs: 2000, maxResponseBytes: 65_536 });
        if (result.ok) issuedTokens.add(result.accessToken);
        return result;
      },
      clientSecret: () => ({ ok: true, ...secret }),
      mayFetch: () => true,
      onChange: () => { changes++; },
      log: (level, msg, fields) => { logs.push(JSON.stringify({ level, msg, ...fields })); },
    });
    demand = {
      namespace: 'support', policy: 'crm', credential: 'crm', scopes: ['customers.read'],
      spec: { tokenUrl: server.tokenUrl, clientSecretRef: { name: 'crm-oauth' }, scopes: SCOPES, audience: RESOURCE, parameters: {}, clientAuth: 'ClientSecretBasic' },
    };
    broker.setDemand([demand]);
  });

  afterAll(async () => {
    broker.stop();
    await server.stop();
  });

  const lease = (): ReturnType<TokenBroker['lease']> => broker.lease('support', 'crm', 'crm', ['customers.read']);

  it('fetches a token that carries exactly the rule\'s scopes and the credential\'s audience', async () => {
    const token = await until('a token', () => lease()?.token);
    const seen = await server.introspect(token);
    expect(seen).toMatchObject({ active: true, client_id: 'agentwarden', scope: 'customers.read', aud: RESOURCE });
    // expires_in counts whole seconds: the broker takes the token to end up to 1 s early.
    expect(lease()?.lifetimeMs).toBe(TTL_S * 1000 - 500);
    expect(broker.statuses('support', 'crm')).toEqual([expect.objectContaining({ credential: 'crm', scopes: ['customers.read'], state: 'Valid' })]);
  });

  it('refreshes before the token expires: the lease is never without a usable token', async () => {
    const first = await until('a token', () => lease()?.token);
    const deadline = Date.now() + TTL_S * 1000 * 1.6;
    let gaps = 0;
    let refreshed: string | undefined;
    while (Date.now() < deadline) {
      const l = lease();
      if (l?.token === undefined || l.expiresAtMs <= Date.now()) gaps++;
      if (l?.token !== undefined && l.token !== first) refreshed = l.token;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(gaps).toBe(0);
    expect(refreshed).toBeDefined();
    expect((await server.introspect(refreshed ?? '')).active).toBe(true);
  });

  it('keeps the last token through an outage until it expires, then reports why; recovers when the server is back', async () => {
    await server.stop();
    const kept = lease()?.token;
    expect(kept).toBeDefined();
    await until('a failed fetch', () => broker.statuses('support', 'crm').find((s) => s.state === 'Failing'), 10_000);
    // Still the last token while it lasts.
    expect(lease()?.token).toBe(kept);
    const expired = await until('the token expired', () => (lease()?.token === undefined ? lease() : undefined), 10_000);
    expect(expired?.unavailableReason).toMatch(/^the last token expired and the token endpoint fails \(TokenEndpointUnreachable: token endpoint unreachable: ECONNREFUSED\)$/);
    expect(broker.statuses('support', 'crm')[0]).toMatchObject({ state: 'Expired', reason: 'TokenEndpointUnreachable' });
    await server.start();
    const back = await until('a new token', () => lease()?.token, 10_000);
    expect((await server.introspect(back)).active).toBe(true);
    expect(broker.statuses('support', 'crm')[0]?.state).toBe('Valid');
  });

  it('uses a rotated client secret from the next fetch, at once when fetches are failing', async () => {
    await server.rotateClientSecret('second-client-secret-Zk31');
    await until('a refused fetch', () => broker.statuses('support', 'crm').find((s) => s.reason === 'TokenEndpointError'), 10_000);
    expect(broker.statuses('support', 'crm')[0]?.message).toBe('token endpoint answered 401 invalid_client');
    const before = broker.fetchCount('ok');
    secret = { ...secret, clientSecret: 'second-client-secret-Zk31', version: '2' };
    const rotatedAt = Date.now();
    broker.setDemand([demand]);
    await until('a token with the new secret', () => (broker.fetchCount('ok') > before ? true : undefined), 10_000);
    // Retried on the Secret change, not at the next backoff step.
    expect(Date.now() - rotatedAt).toBeLessThan(1000);
    expect(broker.statuses('support', 'crm')[0]?.state).toBe('Valid');
  });

  it('never writes a token or the client secret into logs, status or metrics', () => {
    expect(issuedTokens.size).toBeGreaterThan(2);
    const written = [...logs, JSON.stringify(broker.statuses('support', 'crm')), broker.render().join('\n')].join('\n');
    for (const t of issuedTokens) expect(written.includes(t)).toBe(false);
    expect(written).not.toContain('first-client-secret-7Qw9');
    expect(written).not.toContain('second-client-secret-Zk31');
    expect(changes).toBeGreaterThan(0);
    expect(broker.render().join('\n')).toContain('agentwarden_oauth_token_fetches_total{namespace="support",policy="crm",credential="crm",result="ok"}');
  });
});

describe('the token broker under leader election', () => {
  let server: RunningAuthorizationServer;
  beforeAll(async () => {
    server = await startAuthorizationServer({
      client: { clientId: 'agentwarden', clientSecret: 'leader-secret', scopes: SCOPES },
      introspector: { clientId: 'crm-api', clientSecret: 'introspector-secret' }, resource: RESOURCE, accessTokenTtlS: 60,
    });
  });
  afterAll(async () => { await server.stop(); });

  it('fetches nothing while following; on leading, fetches what is due at most maxConcurrentFetches at a time', async () => {
    let leading = false;
    let inFlight = 0;
    let most = 0;
    const options = { ...DEFAULT_OAUTH_OPTIONS, caFile: server.caFile, maxConcurrentFetches: 2 };
    const ca = trustedCas(options.caFile);
    const broker = new TokenBroker({
      options,
      fetch: async (r) => {
        inFlight++;
        most = Math.max(most, inFlight);
        try {
          return await fetchToken(r, { ca, timeoutMs: 2000, maxResponseBytes: 65_536 });
        } finally {
          inFlight--;
        }
      },
      clientSecret: () => ({ ok: true, clientId: 'agentwarden', clientSecret: 'leader-secret', version: '1' }),
      mayFetch: () => leading, onChange: () => undefined, log: () => undefined,
    });
    const spec = { tokenUrl: server.tokenUrl, clientSecretRef: { name: 'crm-oauth' }, scopes: SCOPES, audience: RESOURCE, parameters: {}, clientAuth: 'ClientSecretBasic' as const };
    // Eight policies (say, eight namespaces) with the same credential.
    const demands = Array.from({ length: 8 }, (_, i) => ({ namespace: `ns-${i}`, policy: 'crm', credential: 'crm', scopes: ['customers.read'], spec }));
    broker.setDemand(demands);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.issued).toBe(0);
    expect(broker.fetchCount()).toBe(0);
    expect(broker.statuses('ns-0', 'crm')[0]?.state).toBe('Pending');
    leading = true;
    broker.leadershipChanged(true);
    await until('every token', () => (demands.every((d) => broker.lease(d.namespace, 'crm', 'crm', d.scopes)?.token !== undefined) ? true : undefined));
    expect(broker.fetchCount('ok')).toBe(8);
    expect(most).toBe(2);
    broker.stop();
  });
});
