// The pod harness's upstreams on loopback: each records exactly what arrived.
import { connect as connectHttp2 } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as connectTcp } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BODY_TEXT_LIMIT } from '../upstreams/http-recording.js';
import { startHttpUpstream, type RunningHttpUpstream } from '../upstreams/http-upstream.js';
import { startHttpsUpstream } from '../upstreams/https-upstream.js';
import { MAX_RECEIVED, Recorder } from '../upstreams/recorder.js';

const LOOPBACK = { host: '127.0.0.1', port: 0 };

/** Sends bytes on a fresh TCP connection and returns all that came back before the server closed. */
function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => socket.end(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

describe('http-upstream', () => {
  let upstream: RunningHttpUpstream;
  beforeEach(async () => {
    upstream = await startHttpUpstream({ listen: [LOOPBACK], statusByPrefix: [{ prefix: '/flaky', status: 503 }] });
  });
  afterEach(() => upstream.close());

  test('records the request-target, Host and raw headers exactly as they arrived', async () => {
    const reply = await rawExchange(
      upstream.address.port,
      'POST http://Api.Example:80/a/%2e%2e/b;x=1?q=%41 HTTP/1.1\r\nHost: Other.Example\r\nX-Dup: 1\r\nx-dup: 2\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(upstream.received).toHaveLength(1);
    const got = upstream.received[0]!;
    expect(got).toMatchObject({
      method: 'POST',
      target: 'http://Api.Example:80/a/%2e%2e/b;x=1?q=%41',
      host: 'Other.Example',
      authority: null,
      rawHeaders: ['Host', 'Other.Example', 'X-Dup', '1', 'x-dup', '2', 'Content-Length', '5', 'Connection', 'close'],
      body: { length: 5, text: 'hello', truncated: false },
      local: { address: '127.0.0.1', port: upstream.address.port },
      tls: null,
      status: 200,
    });
  });

  test('answers the status configured for the longest matching path prefix', async () => {
    const flaky = await fetch(`http://127.0.0.1:${upstream.address.port}/flaky/x`);
    expect(flaky.status).toBe(503);
    expect(await flaky.json()).toEqual({ ok: false, path: '/flaky/x', status: 503 });
    const fine = await fetch(`http://127.0.0.1:${upstream.address.port}/fine`);
    expect(await fine.json()).toEqual({ ok: true, path: '/fine', status: 200 });
  });

  test('keeps the first 64 KiB of a body as text and counts all of it', async () => {
    const body = 'x'.repeat(BODY_TEXT_LIMIT + 1000);
    await fetch(`http://127.0.0.1:${upstream.address.port}/big`, { method: 'PUT', body });
    const got = upstream.received[0]!;
    expect(got.body.length).toBe(BODY_TEXT_LIMIT + 1000);
    expect(got.body.text).toHaveLength(BODY_TEXT_LIMIT);
    expect(got.body.truncated).toBe(true);
  });

  test('serves h2c with prior knowledge on the same port and records :authority', async () => {
    const session = connectHttp2(`http://127.0.0.1:${upstream.address.port}`);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/h2/path', ':authority': 'mcp.example' });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
      });
      expect(status).toBe(200);
    } finally {
      session.close();
    }
    expect(upstream.received[0]).toMatchObject({ httpVersion: '2.0', target: '/h2/path', authority: 'mcp.example', host: null });
  });
});

describe('https-upstream', () => {
  test('serves a certificate for its names signed by the test CA and records the SNI', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'upstreams-test-'));
    const upstream = await startHttpsUpstream({ listen: [LOOPBACK], names: ['api.example.test'], caDir: dir });
    try {
      const ca = await readFile(upstream.caFile);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: upstream.address.port, servername: 'api.example.test', ca, path: '/tls', headers: { host: 'api.example.test' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
      expect(upstream.received[0]).toMatchObject({ target: '/tls', host: 'api.example.test', tls: { sni: 'api.example.test', alpn: null } }); // node:https offers no ALPN
      // A second upstream given the same folder signs with the same CA.
      const second = await startHttpsUpstream({ listen: [LOOPBACK], names: ['other.example.test'], caDir: dir });
      await second.close();
      expect(second.caFile).toBe(upstream.caFile);
      expect(second.certFile).not.toBe(upstream.certFile);
    } finally {
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Recorder', () => {
  test(`keeps the newest ${MAX_RECEIVED} entries and counts the dropped`, () => {
    const recorder = new Recorder<number>();
    for (let i = 1; i <= MAX_RECEIVED + 5; i++) recorder.add(i);
    expect(recorder.received).toHaveLength(MAX_RECEIVED);
    expect(recorder.received[0]).toBe(6);
    expect(recorder.dropped).toBe(5);
  });

  test('waitFor resolves on an entry still to come and rejects after its timeout', async () => {
    const recorder = new Recorder<string>();
    const waiting = recorder.waitFor((entry) => entry === 'b', 5000);
    recorder.add('a');
    recorder.add('b');
    await expect(waiting).resolves.toBe('b');
    await expect(recorder.waitFor((entry) => entry === 'c', 10)).rejects.toThrow(/no matching entry within 10 ms/);
  });
});
