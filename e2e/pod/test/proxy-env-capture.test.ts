// The data plane through the real Envoy, proxy-env capture: the agent's HTTP
// clients send through HTTP_PROXY / HTTPS_PROXY (the variables the injector
// sets). Tried with curl, Node's fetch (which tunnels even http:// URLs through
// CONNECT) and Python's httpx; and, because proxy-env is cooperative, an agent
// that ignores the variables is shown to be ungoverned, as the README says.
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startDnsServer, type RunningDnsServer } from '../dns/dns-server.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../upstreams/http-upstream.js';
import { startHttpsUpstream, type RunningHttpsUpstream } from '../upstreams/https-upstream.js';
import { uniqueNamespace } from '../../test/cluster.js';
import { startScenario, type Scenario } from '../scenario.js';
import { curl, header } from '../agent-commands.js';
import { BIN, ROOT } from '../pod.js';
import { AGENT_POLICY_HEAD, credentialSecret } from '../manifests.js';

const TOKEN = 'proxy-env-token-55aa';

const manifests = `
${credentialSecret('api', TOKEN)}${AGENT_POLICY_HEAD}    - name: read-items
      to: {hosts: [api.example.com]}
      http: {methods: [GET], paths: ["/items/{id}"]}
      credential: api
    - name: tls-host
      to: {hosts: [tls.example.com], ports: [443]}
  credentials:
    - {name: api, secretRef: {name: api, key: token}}
`;

let s: Scenario;
let dns: RunningDnsServer;
let api: RunningHttpUpstream;
let tlsHost: RunningHttpsUpstream;
let sink: Server;
let sinkConnections = 0;

const NODE = join(ROOT, 'node_modules/.bin/node');
const PYTHON = join(BIN, '../pyagent/bin/python');

beforeAll(async () => {
  s = await startScenario({
    slot: 22,
    namespace: uniqueNamespace('pod-proxy-env'),
    annotations: { 'agentwarden.io/capture': 'proxy-env' },
    manifests,
    servers: async (net, caDir) => {
      dns = await startDnsServer({ listen: [{ host: net.resolver, port: 53 }], hosts: { 'api.example.com': [net.hostIp(10)], 'tls.example.com': [net.hostIp(14)], 'evil.example.com': [net.hostIp(66)] } });
      api = await startHttpUpstream({ listen: [{ host: net.hostIp(10), port: 80 }] });
      tlsHost = await startHttpsUpstream({ listen: [{ host: net.hostIp(14), port: 443 }], names: ['tls.example.com'], caDir });
      sink = await new Promise<Server>((resolve) => {
        const server = createServer((socket) => { sinkConnections++; socket.destroy(); });
        server.listen(443, net.hostIp(66), () => { resolve(server); });
      });
      return [() => dns.close(), () => api.close(), () => tlsHost.close(), () => new Promise<void>((r) => { sink.close(() => { r(); }); })];
    },
  });
}, 180_000);

afterAll(async () => {
  await s?.stop();
});

async function nodeFetch(url: string): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() }))).catch((e) => console.log(JSON.stringify({ status: 0, body: String(e.cause?.code ?? e.message) })))`;
  const r = await s.pod.agent(['env', 'NODE_USE_ENV_PROXY=1', NODE, '-e', script]);
  return JSON.parse(r.stdout.trim() || '{"status":0,"body":""}') as { status: number; body: string };
}

async function httpx(url: string): Promise<{ status: number; body: string }> {
  const script = `import httpx, json\ntry:\n  r = httpx.get(${JSON.stringify(url)}, timeout=10)\n  print(json.dumps({"status": r.status_code, "body": r.text}))\nexcept Exception as e:\n  print(json.dumps({"status": 0, "body": repr(e)}))`;
  const r = await s.pod.agent([PYTHON, '-c', script]);
  return JSON.parse(r.stdout.trim() || '{"status":0,"body":""}') as { status: number; body: string };
}

describe('proxy-env capture through the real Envoy', () => {
  it('curl through HTTP_PROXY: allowed with the credential, denied without reaching the upstream', async () => {
    expect((await curl(s.pod, ['http://api.example.com/items/1'])).status).toBe(200);
    const got = await api.recorder.waitFor((e) => e.target === '/items/1', 10_000);
    expect(header(got, 'authorization')).toBe(`Bearer ${TOKEN}`);
    expect((await curl(s.pod, ['http://api.example.com/other/1'])).status).toBe(403);
    expect(api.received.filter((e) => e.target === '/other/1')).toEqual([]);
  });

  it('Node\'s fetch with NODE_USE_ENV_PROXY tunnels http:// through CONNECT: each request inside is decided', async () => {
    const allowed = await nodeFetch('http://api.example.com/items/2');
    expect(allowed.status).toBe(200);
    const got = await api.recorder.waitFor((e) => e.target === '/items/2', 10_000);
    expect(header(got, 'authorization')).toBe(`Bearer ${TOKEN}`);
    const denied = await nodeFetch('http://api.example.com/other/2');
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({ rule: 'default-deny' });
    expect(api.received.filter((e) => e.target === '/other/2')).toEqual([]);
  });

  it('Python\'s httpx through HTTP_PROXY: decided like curl', async () => {
    expect((await httpx('http://api.example.com/items/3')).status).toBe(200);
    expect((await httpx('http://api.example.com/other/3')).status).toBe(403);
    expect(api.received.filter((e) => e.target === '/other/3')).toEqual([]);
  });

  it('checks a CONNECT to port 443 on its host: a named host is tunnelled, any other is refused before a connection', async () => {
    const ok = await curl(s.pod, ['--cacert', s.options.upstreamCaFile, 'https://tls.example.com/hello']);
    expect(ok.status).toBe(200);
    await tlsHost.recorder.waitFor((e) => e.target === '/hello', 10_000);
    const refused = await curl(s.pod, ['-k', 'https://evil.example.com/']);
    expect(refused.status).toBe(0);
    expect(refused.stderr).toMatch(/403|CONNECT/);
    expect(sinkConnections).toBe(0);
  });

  it('does not govern an agent that ignores HTTP_PROXY (cooperative capture, as documented): no decision, no credential', async () => {
    const r = await curl(s.pod, ['--noproxy', '*', 'http://api.example.com/other/4']);
    expect(r.status).toBe(200);
    const got = await api.recorder.waitFor((e) => e.target === '/other/4', 10_000);
    expect(header(got, 'authorization')).toBeUndefined();
    expect(header(got, 'x-agentwarden-decision')).toBeUndefined();
  });
});
