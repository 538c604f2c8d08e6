// Brokered OAuth credentials end to end (issue 18) on the local control plane:
// a real authorization server (oidc-provider over TLS on loopback, its own CA
// given to the controller with --oauth-ca-file), the AgentPolicy CRD and a
// labelled client Secret in the real API server, the controller in-process
// with leader election, and the `agentwarden sidecar` process in controller
// mode (its pod's bound token) exporting audit spans over OTLP to a receiver.
// The test asks the sidecar as Envoy does and forwards each allowed request
// with the headers the sidecar added to an upstream that introspects the token
// with the authorization server.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { AuthzClient } from '../../sidecar/src/authz/client.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { readControllerConfig } from '../../controller/src/config.js';
import { startController, type RunningController } from '../../controller/src/main.js';
import { startOtlpReceiver, type OtlpReceiver } from '../../sidecar/test/otlp-receiver.js';
import { startAuthorizationServer, type Introspection, type RunningAuthorizationServer } from '../tools/oauth/authorization-server.js';
import { KUBECONFIG, ROOT, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { startSidecarProcess, type SidecarProcess } from './sidecar-process.js';
import { boundToken, createPod, freePort } from './controller-env.js';

const ns = uniqueNamespace('oauth');
const POD = 'agent-0';
const RESOURCE = 'https://crm.internal';
const TTL_S = 8;
const CLIENT_ID = 'agentwarden-crm';
const FIRST_SECRET = `first-${randomBytes(12).toString('hex')}`;
const SECOND_SECRET = `second-${randomBytes(12).toString('hex')}`;
const READ = { url: 'https://crm.internal/customers/17', method: 'GET' };
const WRITE = { url: 'https://crm.internal/customers/17', method: 'POST' };

let server: RunningAuthorizationServer;
let controller: RunningController | undefined;
let sidecar: SidecarProcess | undefined;
let client: AuthzClient | undefined;
let otlp: OtlpReceiver;
let upstream: Server;
let upstreamUrl = '';
const controllerLogs: string[] = [];
/** Every token an upstream received. */
const tokensSeen = new Set<string>();

function policy(tokenUrl: string): string {
  return `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: crm, namespace: ${ns}}
spec:
  podSelector: {matchLabels: {app: agent}}
  rules:
    - name: read-customer
      to: {hosts: [crm.internal]}
      http: {methods: [GET]}
      credential: {name: crm, scopes: [customers.read]}
    - name: update-customer
      to: {hosts: [crm.internal]}
      http: {methods: [POST]}
      credential: {name: crm, scopes: [customers.write]}
  credentials:
    - name: crm
      oauth2:
        tokenUrl: ${tokenUrl}
        clientSecretRef: {name: crm-oauth}
        scopes: [customers.read, customers.write]
        audience: ${RESOURCE}
`;
}

function clientSecret(secret: string): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Secret',
    metadata: { name: 'crm-oauth', namespace: ns, labels: { 'agentwarden.io/credential': 'true' } },
    stringData: { client_id: CLIENT_ID, client_secret: secret },
  });
}

interface Outcome {
  readonly allowed: boolean;
  readonly reason: string;
  /** What the upstream found when it introspected the token it received (allowed only). */
  readonly upstream?: Introspection & { readonly token: string };
  readonly ms: number;
}

/** Asks the sidecar as Envoy does; an allowed request goes on to the upstream with the headers the sidecar added. */
async function call(request: { url: string; method: string }): Promise<Outcome> {
  if (client === undefined) throw new Error('no sidecar');
  const started = performance.now();
  const res = await client.check(checkRequestFrom(request));
  const ms = performance.now() - started;
  if (res.httpResponse.case === 'okResponse') {
    const headers: Record<string, string> = {};
    for (const h of res.httpResponse.value.headers) headers[h.header?.key ?? ''] = h.header?.value ?? '';
    const answer = await fetch(upstreamUrl, { method: 'POST', headers });
    return { allowed: true, reason: '', upstream: (await answer.json()) as Introspection & { token: string }, ms };
  }
  if (res.httpResponse.case !== 'deniedResponse') throw new Error(`no decision: ${res.status?.message ?? ''}`);
  return { allowed: false, reason: (JSON.parse(res.httpResponse.value.body) as { reason: string }).reason, ms };
}

async function policyStatus(): Promise<{ tokens?: { credential: string; scopes: string[]; state: string; reason?: string }[]; conditions?: { type: string; status: string; reason: string; message: string }[] }> {
  const out = await kubectlOk(['get', 'agentpolicy', '-n', ns, 'crm', '-o', 'json']);
  return (JSON.parse(out) as { status?: object }).status ?? {};
}

beforeAll(async () => {
  server = await startAuthorizationServer({
    client: { clientId: CLIENT_ID, clientSecret: FIRST_SECRET, scopes: ['customers.read', 'customers.write'] },
    introspector: { clientId: 'crm-api', clientSecret: `introspect-${randomBytes(8).toString('hex')}` },
    resource: RESOURCE, accessTokenTtlS: TTL_S,
  });
  // The upstream: introspects the bearer token it receives with the authorization server.
  upstream = createServer((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (token !== '') tokensSeen.add(token);
    server.introspect(token).then((seen) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...seen, token }));
    }, (e: unknown) => {
      // The authorization server is down (the outage test): the upstream cannot tell.
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ active: false, token, error: e instanceof Error ? e.message : String(e) }));
    });
  });
  await new Promise<void>((r) => { upstream.listen(0, '127.0.0.1', r); });
  const ua = upstream.address();
  upstreamUrl = `http://127.0.0.1:${ua !== null && typeof ua === 'object' ? ua.port : 0}/customers/17`;
  otlp = await startOtlpReceiver({ protocol: 'http/protobuf' });

  await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentpolicy.yaml')]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io']);
  await kubectlOk(['create', 'namespace', ns]);
  await kubectlOk(['create', 'serviceaccount', '-n', ns, 'agent']);
  await kubectlOk(['apply', '-f', '-'], clientSecret(FIRST_SECRET));
  await kubectlOk(['apply', '-f', '-'], policy(server.tokenUrl));
  const uid = await createPod(ns, POD, 'agent', { app: 'agent' });
  const tokenFile = await boundToken(ns, 'agent', POD, uid);

  const port = await freePort();
  const config = readControllerConfig([
    '--kubeconfig', KUBECONFIG, '--distribution-listen', `127.0.0.1:${port}`, '--metrics-listen', '127.0.0.1:0', '--namespace', ns, '--identity', 'controller-0',
    '--oauth-ca-file', server.caFile, '--oauth-retry-max', '1s', '--oauth-token-timeout', '2s',
  ], {});
  controller = await startController(config, (level, msg, fields) => { controllerLogs.push(JSON.stringify({ level, msg, ...fields })); });

  sidecar = await startSidecarProcess([
    '--controller', `127.0.0.1:${port}`, '--token-file', tokenFile, '--pod-name', POD, '--namespace', ns,
    '--listen', '127.0.0.1:0', '--allow-tcp-credentials', '--admin-listen', '127.0.0.1:0',
  ], { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '100' });
  client = new AuthzClient(sidecar.extAuthz);
}, 180_000);

afterAll(async () => {
  client?.close();
  await sidecar?.stop();
  await controller?.stop();
  await server.stop();
  await otlp.close();
  await new Promise<void>((r) => { upstream.close(() => { r(); }); });
  await kubectlOk(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

describe('brokered OAuth credentials against a real authorization server', () => {
  // The API server is shared: another suite may have installed an older AgentPolicy CRD meanwhile.
  beforeEach(async () => { await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentpolicy.yaml')]); });

  it('injects a token with exactly the allowing rule\'s scopes and the credential\'s audience', async () => {
    const read = await waitFor('an allowed read', async () => { const o = await call(READ); return o.allowed ? o : undefined; }, 60_000, 100);
    expect(read.upstream).toMatchObject({ active: true, client_id: CLIENT_ID, scope: 'customers.read', aud: RESOURCE });
    const write = await call(WRITE);
    expect(write.upstream).toMatchObject({ active: true, client_id: CLIENT_ID, scope: 'customers.write', aud: RESOURCE });
    expect(write.upstream?.token).not.toBe(read.upstream?.token);
  });

  it('refreshes before expiry under steady traffic: every request allowed with a live token, none waits', async () => {
    const outcomes: Outcome[] = [];
    const until = Date.now() + TTL_S * 1000 * 2.2;
    while (Date.now() < until) {
      outcomes.push(await call(READ));
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(outcomes.filter((o) => !o.allowed).map((o) => o.reason)).toEqual([]);
    expect(outcomes.filter((o) => o.upstream?.active !== true)).toEqual([]);
    const tokens = new Set(outcomes.map((o) => o.upstream?.token));
    expect(tokens.size).toBeGreaterThanOrEqual(2);
    // Decisions are local: a refresh never makes one wait on the token endpoint.
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    expect(slowest).toBeLessThan(250);
  });

  it('keeps working through an outage until the token expires, then denies with the reason; recovers when the server is back', async () => {
    await server.stop();
    const lease = controller?.tokens.lease(ns, 'crm', 'crm', ['customers.read']);
    const expiresAt = lease?.expiresAtMs ?? 0;
    expect(lease?.token).toBeDefined();
    const outcomes: { at: number; o: Outcome }[] = [];
    while (Date.now() < expiresAt + 1500) {
      outcomes.push({ at: Date.now(), o: await call(READ) });
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = outcomes.filter((x) => x.at < expiresAt - 100);
    const after = outcomes.filter((x) => x.at > expiresAt + 100);
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((x) => !x.o.allowed)).toEqual([]);
    // The last token, the one the controller holds (the upstream cannot introspect while the server is down).
    expect(before.at(-1)?.o.upstream?.token).toBe(lease?.token);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((x) => x.o.allowed)).toEqual([]);
    expect(after[0]?.o.reason).toMatch(/^credential unavailable: rule "read-customer" of policy "crm" allows, but its OAuth credential "crm" \(scopes customers\.read\) has no (unexpired token|token: the last token expired and the token endpoint fails \(TokenEndpointUnreachable)/);
    const status = await waitFor('status Expired with the reason', async () => {
      const s = await policyStatus();
      return s.tokens?.some((t) => t.state === 'Expired' && t.reason === 'TokenEndpointUnreachable') === true ? s : undefined;
    }, 30_000, 200);
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialUnavailable' });

    await server.start();
    const back = await waitFor('allowed again', async () => { const o = await call(READ); return o.allowed ? o : undefined; }, 30_000, 100);
    expect(back.upstream).toMatchObject({ active: true, scope: 'customers.read' });
    await waitFor('status Valid', async () => ((await policyStatus()).tokens?.every((t) => t.state === 'Valid') === true ? true : undefined), 30_000, 200);
  });

  it('picks up a rotated client secret: the old one is refused, the new one used at once', async () => {
    const issuedBefore = server.issued;
    await server.rotateClientSecret(SECOND_SECRET);
    await waitFor('the old secret refused', () => controller?.tokens.statuses(ns, 'crm').find((t) => t.reason === 'TokenEndpointError' && t.message === 'token endpoint answered 401 invalid_client'), 30_000, 50);
    await kubectlOk(['apply', '-f', '-'], clientSecret(SECOND_SECRET));
    await waitFor('a token minted with the new secret', () => (server.issued > issuedBefore ? true : undefined), 30_000, 50);
    const o = await waitFor('an allowed read with a new token', async () => {
      const r = await call(READ);
      return r.allowed && r.upstream?.active === true ? r : undefined;
    }, 30_000, 100);
    expect(o.upstream?.scope).toBe('customers.read');
    await waitFor('status Valid', async () => ((await policyStatus()).tokens?.every((t) => t.state === 'Valid') === true ? true : undefined), 30_000, 200);
  });

  it('wrote no token and no client secret into any log, span, status or metric', async () => {
    await waitFor('spans exported', () => (otlp.payloads.length > 0 ? true : undefined), 30_000, 100);
    const controllerMetrics = await (await fetch(`http://${controller?.metricsAddress ?? ''}/metrics`)).text();
    const sidecarMetrics = await (await fetch(`http://${sidecar?.admin ?? ''}/metrics`)).text();
    const status = JSON.stringify(await policyStatus());
    const written = [
      controllerLogs.join('\n'), sidecar?.log() ?? '', ...otlp.payloads.map((p) => p.toString('latin1')), status, controllerMetrics, sidecarMetrics,
    ];
    expect(tokensSeen.size).toBeGreaterThanOrEqual(4);
    const leaks: string[] = [];
    for (const secret of [...tokensSeen, FIRST_SECRET, SECOND_SECRET]) {
      for (const [i, text] of written.entries()) if (text.includes(secret)) leaks.push(`${secret.slice(0, 6)}… in ${['controller log', 'sidecar log', ...otlp.payloads.map(() => 'span export'), 'status', 'controller metrics', 'sidecar metrics'][i] ?? ''}`);
    }
    expect(leaks).toEqual([]);
    // The scan read something: the spans name the rules, the metrics count the fetches.
    expect(written.join('\n')).toContain('read-customer');
    expect(controllerMetrics).toMatch(/agentwarden_oauth_token_fetches_total\{namespace="[^"]+",policy="crm",credential="crm",result="TokenEndpointError"\} [1-9]/);
  });
});
