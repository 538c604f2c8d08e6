// One request, one reading (DESIGN.md "Data plane"), through the real Envoy
// with iptables capture: wherever Envoy, the sidecar and the upstream could
// read a request two ways (the body at Envoy's buffer limit, JSON that parsers
// read differently, paths that servers normalise, headers that claim a
// decision, TLS whose SNI and destination differ), the upstream receives what
// was decided or nothing. The upstream that reads JSON is a Go server
// (encoding/json, several messages per body); the one that reads paths is
// checked against how lenient servers normalise them.
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { startDnsServer, type RunningDnsServer } from '../dns/dns-server.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../upstreams/http-upstream.js';
import { startHttpsUpstream, type RunningHttpsUpstream } from '../upstreams/https-upstream.js';
import { startGoJsonUpstream, type RunningGoJson } from '../upstreams/gojson.js';
import { uniqueNamespace } from '../../test/cluster.js';
import { startScenario, type Scenario } from '../scenario.js';
import { curl, header } from '../agent-commands.js';
import { AGENT_POLICY_HEAD, credentialSecret } from '../manifests.js';

const LIMIT = 4096;
const TOKEN = 'mcp-token-31d0';

const manifests = `
${credentialSecret('mcp', TOKEN)}${AGENT_POLICY_HEAD}    - name: search
      to: {hosts: [gojson.example.com]}
      http: {methods: [POST], paths: ["/mcp"]}
      mcp: {tools: [search_tickets]}
      credential: mcp
    - name: no-deletes
      action: Deny
      to: {hosts: [gojson.example.com]}
      mcp: {tools: [delete_customer]}
    - name: no-admin
      action: Deny
      to: {hosts: [api.example.com]}
      http: {paths: ["/admin/**"]}
    - name: read-anything-else
      to: {hosts: [api.example.com]}
      http: {methods: [GET], paths: ["/**"]}
    - name: tls-host
      to: {hosts: [tls.example.com], ports: [443]}
  credentials:
    - {name: mcp, secretRef: {name: mcp, key: token}}
`;

let s: Scenario;
let dns: RunningDnsServer;
let gojson: RunningGoJson;
let api: RunningHttpUpstream;
let tlsHost: RunningHttpsUpstream;
/** A raw TCP listener on the IP the agent would like to reach on 443: counts connections, answers nothing. */
let sink: Server;
let sinkConnections = 0;

beforeAll(async () => {
  s = await startScenario({
    slot: 23,
    namespace: uniqueNamespace('pod-one-reading'),
    inject: { maxRequestBytes: LIMIT },
    manifests,
    servers: async (net, caDir) => {
      dns = await startDnsServer({ listen: [{ host: net.resolver, port: 53 }], hosts: { 'gojson.example.com': [net.hostIp(13)], 'api.example.com': [net.hostIp(10)], 'tls.example.com': [net.hostIp(14)], 'evil.example.com': [net.hostIp(66)] } });
      gojson = await startGoJsonUpstream([{ host: net.hostIp(13), port: 80 }]);
      api = await startHttpUpstream({ listen: [{ host: net.hostIp(10), port: 80 }] });
      tlsHost = await startHttpsUpstream({ listen: [{ host: net.hostIp(14), port: 443 }], names: ['tls.example.com'], caDir });
      sink = await new Promise<Server>((resolve) => {
        const server = createServer((socket) => { sinkConnections++; socket.destroy(); });
        server.listen(443, net.hostIp(66), () => { resolve(server); });
      });
      return [() => dns.close(), () => gojson.close(), () => api.close(), () => tlsHost.close(), () => new Promise<void>((r) => { sink.close(() => { r(); }); })];
    },
  });
}, 180_000);

afterAll(async () => {
  await s?.stop();
});

function message(id: number, tool: string, args: Record<string, unknown> = {}): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args } });
}

/** POSTs `body` to the Go upstream as the agent; the body goes through a file (any size, any bytes). */
async function post(body: string, extra: readonly string[] = []): Promise<number> {
  const file = `${s.pod.dir}/body-${Math.random().toString(36).slice(2)}.json`;
  writeFileSync(file, body);
  chmodSync(file, 0o644);
  return (await curl(s.pod, ['-X', 'POST', 'http://gojson.example.com/mcp', '-H', 'content-type: application/json', '--data-binary', `@${file}`, ...extra])).status;
}

const deletes = (): number => gojson.received.filter((e) => e.tool === 'delete_customer').length;

describe('one reading of each request through the real Envoy', () => {
  it('lets an allowed MCP call through with its credential (the baseline)', async () => {
    expect(await post(message(1, 'search_tickets', { query: 'printer' }))).toBe(200);
    const got = await gojson.recorder.waitFor((e) => e.tool === 'search_tickets', 10_000);
    expect(got.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('treats a body that fills Envoy\'s buffer exactly as partial: a second message after padding never reaches the upstream', async () => {
    const first = message(2, 'search_tickets', { query: '' });
    const padded = message(2, 'search_tickets', { query: 'x'.repeat(LIMIT - first.length) });
    expect(Buffer.byteLength(padded)).toBe(LIMIT);
    const status = await post(padded + message(3, 'delete_customer', { id: 'C-17' }));
    expect(status).not.toBe(200);
    expect(deletes()).toBe(0);
  });

  it('treats a body over the limit as partial', async () => {
    const status = await post(message(4, 'delete_customer', { id: 'C-17', pad: 'y'.repeat(2 * LIMIT) }));
    expect(status).not.toBe(200);
    expect(deletes()).toBe(0);
  });

  it.each([
    ['a duplicate key (first wins in some parsers, last in others)', '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"search_tickets","name":"delete_customer","arguments":{}}}'],
    ['a key in another case (Go matches fields case-insensitively)', '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"search_tickets","Name":"delete_customer","arguments":{}}}'],
    ['a KELVIN SIGN that Go folds to k', '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_tickets","arguments":{},"\\u212Aey":1,"kEY":2}}'],
    ['a second message after the first', `${message(8, 'search_tickets')}\n${message(9, 'delete_customer', { id: 'C-17' })}`],
  ])('denies a JSON-RPC body with %s', async (_name, body) => {
    const status = await post(body);
    expect(status).not.toBe(200);
    expect(deletes()).toBe(0);
  });

  // What a lenient server (Tomcat, IIS, Express with decoding) makes of a path: decoded, matrix
  // parameters and trailing dots and spaces dropped, dot segments resolved, slashes merged, lower case.
  function lenient(target: string): string {
    let p = target.split('?')[0] ?? '';
    for (let i = 0; i < 3; i++) { try { p = decodeURIComponent(p); } catch { break; } }
    p = p.replace(/\\/g, '/').replace(/;[^/]*/g, '').replace(/\/+/g, '/');
    const out: string[] = [];
    for (const seg of p.split('/').map((x) => x.replace(/[. ]+$/, (m) => (x === '.' || x === '..' ? m : '')))) {
      if (seg === '..') out.pop(); else if (seg !== '.' && seg !== '') out.push(seg);
    }
    return `/${out.join('/')}`.toLowerCase();
  }

  it.each([
    '/admin/secret', '/admin;x=1/secret', '/admin;/secret', '/%61dmin/secret', '/ADMIN/secret', '/Admin/secret', '/admin./secret', '/admin%20/secret',
    '/admin%2fsecret', '/admin%2Fsecret', '/admin%252fsecret', '/x/../admin/secret', '/x/%2e%2e/admin/secret', '/x/%2E%2E/admin/secret', '//admin/secret',
    '/./admin/secret', '/admin%5csecret', '/admin%00/secret', '/admin%09/secret', '/%2561dmin/secret', '/admin..;/secret',
  ])('never lets the upstream read a denied path: %s', async (path) => {
    const before = api.received.length;
    await curl(s.pod, ['--path-as-is', `http://api.example.com${path}`]);
    for (const got of api.received.slice(before)) {
      expect([path, lenient(got.target).startsWith('/admin')]).toEqual([path, false]);
      // The path the upstream got is the path Envoy sent the sidecar: as written.
      expect(got.target).toBe(path);
    }
  });

  it('removes x-agentwarden-* headers the agent sends: the upstream sees only the sidecar\'s', async () => {
    const r = await curl(s.pod, ['http://api.example.com/items/1', '-H', 'x-agentwarden-decision: forged', '-H', 'x-agentwarden-approved: yes']);
    expect(r.status).toBe(200);
    const got = await api.recorder.waitFor((e) => e.target === '/items/1', 10_000);
    expect(header(got, 'x-agentwarden-approved')).toBeUndefined();
    expect(got.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'x-agentwarden-decision')).toHaveLength(1);
    expect(header(got, 'x-agentwarden-decision')).toBe('allow');
  });

  it('decides TLS the agent opens itself on its SNI, and sends it to that host, never to the IP the agent chose', async () => {
    const caFile = s.options.upstreamCaFile;
    const ok = await curl(s.pod, ['--cacert', caFile, 'https://tls.example.com/hello']);
    expect(ok.status).toBe(200);
    await tlsHost.recorder.waitFor((e) => e.target === '/hello', 10_000);
    // The agent connects to another IP with an allowed SNI: the connection goes to tls.example.com.
    const steered = await curl(s.pod, ['--cacert', caFile, '--resolve', `tls.example.com:443:${s.network.hostIp(66)}`, 'https://tls.example.com/steered']);
    expect(steered.status).toBe(200);
    await tlsHost.recorder.waitFor((e) => e.target === '/steered', 10_000);
    expect(sinkConnections).toBe(0);
  });

  it('opens no upstream connection for TLS it denies', async () => {
    const r = await curl(s.pod, ['-k', 'https://evil.example.com/']);
    expect(r.status).toBe(0);
    expect(sinkConnections).toBe(0);
  });
});
