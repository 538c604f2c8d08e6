// The agent-side programs against the pod's upstreams on loopback.
import { createSocket } from 'node:dgram';
import { runFetch } from '../agent/fetch.js';
import { probeDns, probeTcp, probeUdp, unescapeText } from '../agent/raw.js';
import { startDnsServer } from '../dns/dns-server.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../upstreams/http-upstream.js';

const LOOPBACK = { host: '127.0.0.1', port: 0 };

describe('agent fetch', () => {
  let upstream: RunningHttpUpstream;
  beforeEach(async () => {
    upstream = await startHttpUpstream({ listen: [LOOPBACK], statusByPrefix: [{ prefix: '/flaky', status: 503 }] });
  });
  afterEach(() => upstream.close());

  test('reports the status, headers and body, a 503 included', async () => {
    const run = await runFetch({ url: `http://127.0.0.1:${upstream.address.port}/flaky`, method: 'POST', headers: [['Authorization', 'Bearer t']], body: 'hi' });
    expect(run.response).toMatchObject({ status: 503, body: '{"ok":false,"path":"/flaky","status":503}', truncated: false });
    expect(upstream.received[0]).toMatchObject({ method: 'POST', body: { text: 'hi' } });
    expect(upstream.received[0]?.rawHeaders).toContain('Bearer t');
  });

  test('reports a refused connection as the error class and the cause code', async () => {
    const port = upstream.address.port;
    await upstream.close();
    const run = await runFetch({ url: `http://127.0.0.1:${port}/`, timeoutMs: 5000 });
    expect(run.response).toBeUndefined();
    expect(run.error).toMatchObject({ class: 'TypeError', message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
  });

  test('with --proxy-env, sends CONNECT to HTTP_PROXY even for an http:// URL (Node fetch tunnels)', async () => {
    const run = await runFetch({ url: 'http://api.example.test/x', proxyEnv: { HTTP_PROXY: `http://127.0.0.1:${upstream.address.port}` }, timeoutMs: 5000 });
    expect(run.error?.cause?.cause).toMatchObject({ code: 'UND_ERR_ABORTED', message: 'Proxy response (405) !== 200 when HTTP Tunneling' });
    expect(upstream.received[0]).toMatchObject({ method: 'CONNECT', target: 'api.example.test:80', status: 405 });
  });
});

describe('agent raw probes', () => {
  test('tcp: sends the text and reports what came back until the peer closed', async () => {
    const upstream = await startHttpUpstream({ listen: [LOOPBACK] });
    try {
      const send = unescapeText('GET /raw HTTP/1.1\\r\\nHost: h\\r\\nConnection: close\\r\\n\\r\\n');
      const probe = await probeTcp(`127.0.0.1:${upstream.address.port}`, send, { end: false, idleMs: 5000, timeoutMs: 5000 });
      expect(probe).toMatchObject({ connected: true, closedBy: 'peer', error: null });
      expect(probe.received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(upstream.received[0]).toMatchObject({ target: '/raw', host: 'h' });
    } finally {
      await upstream.close();
    }
  });

  test('udp: reports the reply of a peer that answers', async () => {
    const echo = createSocket('udp4');
    echo.on('message', (message, peer) => echo.send(Buffer.concat([Buffer.from('echo:'), message]), peer.port, peer.address));
    await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
    try {
      const probe = await probeUdp(`127.0.0.1:${echo.address().port}`, 'ping', 5000);
      expect(probe).toMatchObject({ sent: true, outcome: 'reply', reply: 'echo:ping', error: null });
    } finally {
      echo.close();
    }
  });

  test('dns: resolves through the given server and reports NXDOMAIN as ENOTFOUND', async () => {
    const dns = await startDnsServer({ listen: [LOOPBACK], hosts: { 'api.example.test': ['10.9.8.7'] } });
    try {
      const server = `127.0.0.1:${dns.address.port}`;
      expect(await probeDns('api.example.test', server, 'A', 2000)).toMatchObject({ addresses: ['10.9.8.7'], error: null });
      expect(await probeDns('nope.example.test', server, 'A', 2000)).toMatchObject({ addresses: null, error: { code: 'ENOTFOUND' } });
    } finally {
      await dns.close();
    }
  });
});
