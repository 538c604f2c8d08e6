// The data plane through the real Envoy, iptables capture (DESIGN.md "Data
// plane"): an injected pod in its own network namespace, the agent as UID
// 1000, Envoy and the sidecar as the proxy UID with the injector's command
// lines, the controller over TLS, real upstreams on the test's addresses.
// Each test is one guarantee, tried the way an agent that wants around it would.
import { startDnsServer, type RunningDnsServer } from '../dns/dns-server.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../upstreams/http-upstream.js';
import { startHttpsUpstream, type RunningHttpsUpstream } from '../upstreams/https-upstream.js';
import { uniqueNamespace } from '../../test/cluster.js';
import { startScenario, type Scenario } from '../scenario.js';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { curl, header } from '../agent-commands.js';
import { ROOT } from '../pod.js';
import { AGENT_POLICY_HEAD, credentialSecret } from '../manifests.js';

const TOKEN = 'api-token-7f3a';
const SECURE_TOKEN = 'secure-token-91c2';

const manifests = `
${credentialSecret('api', TOKEN)}${credentialSecret('secure', SECURE_TOKEN)}${AGENT_POLICY_HEAD}    - name: read-items
      to: {hosts: [api.example.com]}
      http: {methods: [GET], paths: ["/items/{id}"]}
      credential: api
    - name: no-admin
      action: Deny
      to: {hosts: [api.example.com]}
      http: {paths: ["/admin/**"]}
    - name: anything-else-on-api
      to: {hosts: [api.example.com]}
      http: {methods: [GET], paths: ["/**"]}
    - name: secure-read
      to: {hosts: [secure.example.com], ports: [443]}
      http: {methods: [GET], paths: ["/v1/**"]}
      credential: secure
    - name: tls-host
      to: {hosts: [tls.example.com], ports: [443]}
  credentials:
    - {name: api, secretRef: {name: api, key: token}}
    - {name: secure, secretRef: {name: secure, key: token}}
`;

let s: Scenario;
let dns: RunningDnsServer;
/** The host the rules name: 10.254.n.10, ports 80 and 8080. */
let api: RunningHttpUpstream;
/** Where an agent would like credentials to go: 10.254.n.66, ports 80, 8080 and 443. */
let attacker: RunningHttpUpstream;
/** secure.example.com: HTTPS on 10.254.n.11:443, and a plain-text listener on :80 that must never see a credential. */
let secure: RunningHttpsUpstream;
let securePlain: RunningHttpUpstream;
/** UDP listeners on the test side: whatever arrives there left the pod past capture. */
const udpSeen: string[] = [];
const udpSockets: UdpSocket[] = [];

function listenUdp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.on('message', (_m, from) => { udpSeen.push(`${host}:${port} from ${from.address}`); });
    sock.once('error', reject);
    sock.bind(port, host, () => { resolve(); });
    udpSockets.push(sock);
  });
}

/** A counter of the root namespace's IP stack (/proc/net/snmp or snmp6): what arrived on the test side. */
function snmp(table: string, field: string): number {
  const v6 = table === 'Icmp6';
  const text = readFileSync(v6 ? '/proc/net/snmp6' : '/proc/net/snmp', 'utf8');
  if (v6) return Number(/^Icmp6InEchos\s+(\d+)/m.exec(text)?.[1] ?? NaN);
  const lines = text.split('\n').filter((l) => l.startsWith(`${table}:`));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf(field)]);
}

const NODE = join(ROOT, 'node_modules/.bin/node');
const RAW = join(ROOT, 'dist/e2e/pod/agent/raw.js');
const PROBES = join(ROOT, 'e2e/pod/agent/probes.py');
interface ProbeResult { readonly sent: boolean; readonly error: { readonly name: string } | null }

beforeAll(async () => {
  s = await startScenario({
    slot: 21,
    namespace: uniqueNamespace('pod-iptables'),
    annotations: { 'agentwarden.io/tls-origination': 'secure.example.com' },
    manifests,
    servers: async (net, caDir) => {
      dns = await startDnsServer({
        listen: [{ host: net.resolver, port: 53 }],
        hosts: { 'api.example.com': [net.hostIp(10)], 'secure.example.com': [net.hostIp(11)], 'tls.example.com': [net.hostIp(66)], 'evil.example.com': [net.hostIp(66)] },
      });
      api = await startHttpUpstream({ listen: [{ host: net.hostIp(10), port: 80 }, { host: net.hostIp(10), port: 8080 }], statusByPrefix: [{ prefix: '/flaky', status: 503 }] });
      attacker = await startHttpUpstream({ listen: [{ host: net.hostIp(66), port: 80 }, { host: net.hostIp(66), port: 8080 }, { host: net.hostIp(66), port: 443 }] });
      secure = await startHttpsUpstream({ listen: [{ host: net.hostIp(11), port: 443 }], names: ['secure.example.com'], caDir });
      securePlain = await startHttpUpstream({ listen: [{ host: net.hostIp(11), port: 80 }] });
      for (const [host, port] of [[net.hostIp(66), 53], [net.hostIp(66), 5353], [net.hostIp(1), 5353], [net.hostIp6, 5353], [net.hostIp6, 53]] as const) await listenUdp(host, port);
      return [() => Promise.resolve(udpSockets.forEach((u) => { u.close(); })), () => dns.close(), () => api.close(), () => attacker.close(), () => secure.close(), () => securePlain.close()];
    },
  });
}, 180_000);

afterAll(async () => {
  await s?.stop();
});

afterEach(() => {
  if (expect.getState().assertionCalls > 0 && process.env['POD_HARNESS_LOGS'] === '1') process.stderr.write(s.pod.logs());
});

describe('iptables capture through the real Envoy', () => {
  it('delivers an allowed request to the decided host with the rule\'s credential', async () => {
    const r = await curl(s.pod, ['http://api.example.com/items/1']);
    expect(r.status).toBe(200);
    const got = await api.recorder.waitFor((e) => e.target === '/items/1', 10_000);
    expect(header(got, 'authorization')).toBe(`Bearer ${TOKEN}`);
    expect(got.local.port).toBe(80);
  });

  it.each([
    ['a Host header naming an allowed host, sent to another IP', (ip: string) => [`http://${ip}:8080/items/2`, '-H', 'Host: api.example.com']],
    ['an absolute-form request-target naming an allowed host, sent to another IP', (ip: string) => [`http://${ip}:8080/`, '--request-target', 'http://api.example.com/items/2']],
    ['HTTP/2 with an :authority naming an allowed host, sent to another IP', (ip: string) => ['--http2-prior-knowledge', `http://${ip}:8080/items/2`, '-H', 'Host: api.example.com']],
    ['a Host header with the port of the other IP', (ip: string) => [`http://${ip}:8080/items/2`, '-H', 'Host: api.example.com:8080']],
  ])('never sends a credential to the IP the agent chose: %s', async (_name, args) => {
    const before = api.received.length;
    const r = await curl(s.pod, args(s.network.hostIp(66)));
    // Routed by authority: the request (and its credential) goes to the decided host, or nowhere.
    expect(attacker.received).toEqual([]);
    if (r.status === 200) {
      const got = api.received.slice(before).find((e) => e.target === '/items/2' || e.target === 'http://api.example.com/items/2');
      expect(got).toBeDefined();
    }
  });

  it('decides on the port the upstream connection uses', async () => {
    const r = await curl(s.pod, ['http://api.example.com:8080/items/3']);
    expect(r.status).toBe(200);
    const got = await api.recorder.waitFor((e) => e.target === '/items/3', 10_000);
    expect(got.local.port).toBe(8080);
  });

  it.each([
    ['secure.example.com'], ['secure.example.com:443'], ['secure.example.com:80'], ['SECURE.example.com'], ['secure.example.com.'], ['secure.example.com:0443'], ['secure.example.com:8443'],
  ])('sends a credential for a TLS-originated host only over TLS (Host: %s)', async (host) => {
    await curl(s.pod, ['http://secure.example.com/v1/report', '-H', `Host: ${host}`]);
    expect(securePlain.received).toEqual([]);
    for (const e of secure.received) expect(e.tls).not.toBeNull();
  });

  it('originates TLS to the declared host and the upstream gets the credential', async () => {
    const r = await curl(s.pod, ['http://secure.example.com/v1/report']);
    expect(r.status).toBe(200);
    const got = await secure.recorder.waitFor((e) => e.target === '/v1/report', 10_000);
    expect(header(got, 'authorization')).toBe(`Bearer ${SECURE_TOKEN}`);
    expect(got.tls?.sni).toBe('secure.example.com');
  });

  it('does not obey x-envoy-* headers from the agent (a denied retry never becomes two upstream calls)', async () => {
    const r = await curl(s.pod, ['http://api.example.com/flaky/1', '-H', 'x-envoy-retry-on: 5xx', '-H', 'x-envoy-max-retries: 3']);
    expect(r.status).toBe(503);
    const got = api.received.filter((e) => e.target === '/flaky/1');
    expect(got).toHaveLength(1);
    // Nor does the upstream learn anything from Envoy about the pod's trust (x-envoy-internal and the like).
    expect(got[0]?.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase().startsWith('x-envoy-'))).toEqual([]);
  });

  it('refuses headers with underscores, which some upstreams read as dashes', async () => {
    const r = await curl(s.pod, ['http://api.example.com/items/4', '-H', 'x_agentwarden_decision: allow']);
    expect(r.status).toBe(400);
    expect(api.received.filter((e) => e.target === '/items/4')).toEqual([]);
  });

  it('lets nothing in the agent\'s UID reach Envoy admin, the sidecar admin port or the Check socket', async () => {
    const pod = s.pod;
    for (const url of ['http://127.0.0.1:15021/debug/snapshot', `http://${s.network.podIp}:15021/readyz`, 'http://127.0.0.1:15000/ready', 'http://127.0.0.1:15011/']) {
      const r = await curl(pod, [url]);
      expect([url, r.status]).toEqual([url, 0]);
    }
    // Through Envoy by a name that resolves to loopback: no rule names it, and Envoy may not connect there.
    for (const host of ['localhost:15021', '127.0.0.1:15021', 'localhost:15001']) {
      const r = await curl(pod, ['http://api.example.com/debug/snapshot', '-H', `Host: ${host}`]);
      expect([host, r.status === 200]).toEqual([host, false]);
    }
    const admin = await curl(pod, ['--unix-socket', pod.envoyAdminSocket, 'http://x/ready']);
    expect(admin.status).toBe(0);
    const check = await pod.agent(['sh', '-c', `test -r ${pod.dir}/authz/authz.sock || test -w ${pod.dir}/authz/authz.sock || ls ${pod.dir}/authz`]);
    expect(check.code).not.toBe(0);
  });

  it('lets DNS go to the pod\'s resolver only', async () => {
    const ok = JSON.parse((await s.pod.agent([NODE, RAW, '--dns', 'api.example.com', '--server', s.network.resolver])).stdout) as { addresses: string[] | null };
    expect(ok.addresses).toEqual([s.network.hostIp(10)]);
    const other = JSON.parse((await s.pod.agent([NODE, RAW, '--dns', 'api.example.com', '--server', s.network.hostIp(66)])).stdout) as { addresses: string[] | null };
    expect(other.addresses).toBeNull();
    expect(udpSeen).toEqual([]);
  });

  it.each([
    ['UDP to another port of the resolver', (n: Scenario['network']) => [NODE, RAW, '--udp', `${n.resolver}:5353`]],
    ['UDP to any other address', (n: Scenario['network']) => [NODE, RAW, '--udp', `${n.hostIp(66)}:5353`]],
    ['UDP over IPv6', (n: Scenario['network']) => ['/usr/bin/python3', PROBES, 'udp6', n.hostIp6, '5353']],
    ['DNS over IPv6 to a server that is not the resolver', (n: Scenario['network']) => ['/usr/bin/python3', PROBES, 'udp6', n.hostIp6, '53']],
  ])('refuses %s', async (_name, argv) => {
    const r = JSON.parse((await s.pod.agent(argv(s.network))).stdout) as { sent?: boolean; outcome?: string; error: unknown };
    expect(r.error).not.toBeNull();
    expect(udpSeen).toEqual([]);
  });

  // The test side's counters say whether anything arrived. IPv4 refusals fail the send (EPERM); an
  // ICMPv6 echo socket reports the send as done and gets the rejection back asynchronously.
  it.each([
    ['ICMP echo (unprivileged ping socket)', 'Icmp', 'InEchos', 'EPERM', (n: Scenario['network']) => ['icmp', n.hostIp(66)]],
    ['ICMPv6 echo', 'Icmp6', 'InEchos', undefined, (n: Scenario['network']) => ['icmp6', n.hostIp6]],
    ['UDP-Lite', 'UdpLite', 'NoPorts', 'EPERM', (n: Scenario['network']) => ['udplite', n.hostIp(66), '5353']],
  ])('refuses %s from the agent', async (_name, table, field, error, args) => {
    const before = snmp(table, field);
    const r = JSON.parse((await s.pod.agent(['/usr/bin/python3', PROBES, ...args(s.network)])).stdout) as ProbeResult;
    if (error !== undefined) expect(r.error?.name).toBe(error);
    expect(snmp(table, field)).toBe(before);
  });

  it('refuses raw IP even from root in the agent container (any UID but the proxy\'s)', async () => {
    const before = snmp('Ip', 'InUnknownProtos');
    const r = JSON.parse((await s.pod.exec(0, ['/usr/bin/python3', PROBES, 'raw', s.network.hostIp(66)])).stdout) as ProbeResult;
    expect(r.error?.name).toBe('EPERM');
    expect(snmp('Ip', 'InUnknownProtos')).toBe(before);
  });

  it('refuses TCP over IPv6 (Envoy listens on IPv4)', async () => {
    const r = JSON.parse((await s.pod.agent(['/usr/bin/python3', PROBES, 'tcp6', s.network.hostIp6, '80'])).stdout) as ProbeResult;
    expect(r.sent).toBe(false);
  });

  it('denies every request while the sidecar is down, and serves again once it is back', async () => {
    await s.pod.killSidecar();
    const down = await curl(s.pod, ['http://api.example.com/items/5']);
    expect(down.status).toBe(403);
    expect(api.received.filter((e) => e.target === '/items/5')).toEqual([]);
    await s.pod.startSidecar();
    const up = await curl(s.pod, ['http://api.example.com/items/5']);
    expect(up.status).toBe(200);
  });
});
