// The sidecar's OTLP/HTTP transport (otlp-http-transport.ts) against real
// node:http and node:https collectors on loopback: the configuration the SDK's
// exporter read from OTEL_EXPORTER_OTLP_*, the request it sent, and its
// retries (429/502/503/504, Retry-After, backoff within the timeout).
import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ConfigError, readSidecarConfig } from '../src/config.js';
import { createAuditTracer } from '../src/telemetry/tracing.js';
import type { OtlpTransport } from '../src/telemetry/transport.js';
import { startOtlpReceiver } from './otlp-receiver.js';
import { OtlpHttpTransport, retryAfterMs } from '../src/telemetry/otlp-http-transport.js';
import { otlpHttpOptionsFromEnv, parseOtlpHeaders, type OtlpHttpOptions } from '../src/telemetry/otlp-http-options.js';

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly path: string;
  readonly body: Buffer;
}

/** A collector answering each export with the next of `answers` (the last one repeats). */
async function collector(answers: ((res: ServerResponse) => void)[], tls?: { cert: Buffer; key: Buffer; ca: Buffer }): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, path: req.url ?? '', body: Buffer.concat(chunks) });
      const answer = answers[Math.min(received.length, answers.length) - 1];
      answer?.(res);
    });
  };
  const server: Server = tls === undefined ? createServer(handler) : createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}/v1/traces`,
    received,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => { r(); }); }),
  };
}

const ok = (res: ServerResponse): void => { res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(); };
const status = (code: number, headers: Record<string, string> = {}) => (res: ServerResponse): void => { res.writeHead(code, headers).end(`status ${code} from the collector`); };

function send(transport: OtlpHttpTransport, body: Uint8Array): Promise<{ error: Error | undefined; ms: number }> {
  const start = performance.now();
  return new Promise((resolve) => { transport.send(body, (error) => { resolve({ error, ms: performance.now() - start }); }); });
}

const BODY = Uint8Array.from({ length: 3000 }, (_, i) => i % 251);
const options = (url: string, more: Partial<OtlpHttpOptions> = {}): OtlpHttpOptions => ({ ...otlpHttpOptionsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url }), ...more });

const closers: (() => Promise<void>)[] = [];
afterAll(async () => { await Promise.all(closers.map((c) => c())); });

async function started(answers: ((res: ServerResponse) => void)[], more: Partial<OtlpHttpOptions> = {}): Promise<{ transport: OtlpHttpTransport; received: Received[] }> {
  const c = await collector(answers);
  const transport = new OtlpHttpTransport(options(c.url, more));
  closers.push(async () => { await transport.shutdown(); await c.close(); });
  return { transport, received: c.received };
}

describe('OTLP/HTTP options from OTEL_EXPORTER_OTLP_*', () => {
  it('uses the traces endpoint as given, and appends v1/traces to the general one', () => {
    expect(otlpHttpOptionsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:9999/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://other:1' }).url.href).toBe('http://c:9999/custom');
    expect(otlpHttpOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).url.href).toBe('http://c:4318/v1/traces');
    expect(otlpHttpOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c/otlp/' }).url.href).toBe('https://c/otlp/v1/traces');
    expect(otlpHttpOptionsFromEnv({}).url.href).toBe('http://localhost:4318/v1/traces');
  });

  it('defaults to a 10 s timeout, no compression and 30 exports in flight, as the SDK', () => {
    expect(otlpHttpOptionsFromEnv({ OTEL_EXPORTER_OTLP_TIMEOUT: '  ' })).toMatchObject({ timeoutMs: 10_000, compression: 'none', concurrencyLimit: 30, headers: {} });
    expect(otlpHttpOptionsFromEnv({ OTEL_EXPORTER_OTLP_TIMEOUT: '500', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '250', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' })).toMatchObject({ timeoutMs: 250, compression: 'gzip' });
  });

  it('merges the headers, the traces ones winning, percent-decoded', () => {
    expect(otlpHttpOptionsFromEnv({ OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=2', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'b=3, api-key = x%20y ' }).headers).toEqual({ a: '1', b: '3', 'api-key': 'x y' });
    expect(parseOtlpHeaders('=v,k=,bad,ok=1,,pct=%E0%A4%A')).toEqual({ ok: '1' });
  });

  it('refuses what the SDK would have ignored, naming the variable', () => {
    const refused = (env: Record<string, string>): string => {
      try {
        otlpHttpOptionsFromEnv(env);
      } catch (e: unknown) {
        return e instanceof Error ? e.message : String(e);
      }
      throw new Error('accepted');
    };
    expect(refused({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toMatch(/^OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" is not an http/);
    expect(refused({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://c' })).toMatch(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: /);
    expect(refused({ OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '-5' })).toMatch(/^OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "-5" is not a positive number/);
    expect(refused({ OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' })).toMatch(/^OTEL_EXPORTER_OTLP_COMPRESSION: "zstd" is not gzip or none/);
    expect(refused({ OTEL_EXPORTER_OTLP_CERTIFICATE: '/nonexistent/ca.pem' })).toMatch(/^OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read "\/nonexistent\/ca.pem"/);
  });

  it('are read by the sidecar configuration at start, for http/protobuf only: a bad one is a ConfigError', () => {
    const standalone = ['--policy', 'p.yaml', '--pod', 'pod.yaml'];
    expect(readSidecarConfig(standalone, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }).otlpHttp).toMatchObject({ url: new URL('http://c:4318/v1/traces'), compression: 'gzip' });
    expect(readSidecarConfig(standalone, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TIMEOUT: 'x' }).otlpHttp).toBeUndefined();
    const badTimeout = (): unknown => readSidecarConfig(standalone, { OTEL_EXPORTER_OTLP_TIMEOUT: 'x' });
    expect(badTimeout).toThrow(ConfigError);
    expect(badTimeout).toThrow(/^OTEL_EXPORTER_OTLP_TIMEOUT: "x" is not a positive number of milliseconds$/);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    const inFiveSeconds = retryAfterMs(new Date(Date.now() + 5000).toUTCString()) ?? 0;
    expect(inFiveSeconds).toBeGreaterThan(3000);
    expect(inFiveSeconds).toBeLessThanOrEqual(5000);
  });
});

describe('the OTLP/HTTP transport', () => {
  it('POSTs the request bytes as application/x-protobuf with the configured headers', async () => {
    const { transport, received } = await started([ok], { headers: { authorization: 'Bearer t0ken' } });
    expect((await send(transport, BODY)).error).toBeUndefined();
    expect(received).toHaveLength(1);
    expect(received[0]?.path).toBe('/v1/traces');
    expect(received[0]?.headers['content-type']).toBe('application/x-protobuf');
    expect(received[0]?.headers['authorization']).toBe('Bearer t0ken');
    expect(received[0]?.body.equals(Buffer.from(BODY))).toBe(true);
  });

  it('gzips the body when compression is gzip', async () => {
    const { transport, received } = await started([ok], { compression: 'gzip' });
    expect((await send(transport, BODY)).error).toBeUndefined();
    expect(received[0]?.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(received[0]?.body ?? Buffer.alloc(0)).equals(Buffer.from(BODY))).toBe(true);
  });

  it('retries 503, 429, 502 and 504, after Retry-After, until the collector accepts', async () => {
    const { transport, received } = await started([status(503, { 'retry-after': '0' }), status(429, { 'retry-after': '0' }), status(502, { 'retry-after': '0' }), status(504, { 'retry-after': '0' }), ok]);
    const { error } = await send(transport, BODY);
    expect(error).toBeUndefined();
    expect(received).toHaveLength(5);
    expect(received.every((r) => r.body.equals(Buffer.from(BODY)))).toBe(true);
  });

  it('waits a backoff of about a second between retries when there is no Retry-After', async () => {
    const { transport, received } = await started([status(503), ok]);
    const { error, ms } = await send(transport, BODY);
    expect(error).toBeUndefined();
    expect(received).toHaveLength(2);
    // 1 s with ±20% jitter.
    expect(ms).toBeGreaterThanOrEqual(790);
  });

  it('gives up after 5 retries, with the last status', async () => {
    const { transport, received } = await started([status(503, { 'retry-after': '0' })]);
    const { error } = await send(transport, BODY);
    expect(received).toHaveLength(6);
    expect(error?.message).toMatch(/answered 503.*status 503 from the collector/);
  });

  it('fails at once on a status it must not retry, naming it', async () => {
    const { transport, received } = await started([status(400), ok]);
    const { error } = await send(transport, BODY);
    expect(received).toHaveLength(1);
    expect(error?.message).toMatch(/answered 400 Bad Request: status 400 from the collector/);
  });

  it('does not wait for a Retry-After beyond the export timeout', async () => {
    const { transport, received } = await started([status(429, { 'retry-after': '30' }), ok], { timeoutMs: 2000 });
    const { error, ms } = await send(transport, BODY);
    expect(received).toHaveLength(1);
    expect(error?.message).toMatch(/answered 429/);
    expect(ms).toBeLessThan(1500);
  });

  it('ends an export the collector does not answer at the timeout', async () => {
    const { transport, received } = await started([() => undefined], { timeoutMs: 400 });
    const { error, ms } = await send(transport, BODY);
    expect(error?.message).toMatch(/did not answer within 400 ms/);
    expect(received).toHaveLength(1);
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(ms).toBeLessThan(1900);
  });

  it('retries a refused connection and fails when the collector stays away', async () => {
    const c = await collector([ok]);
    await c.close();
    const transport = new OtlpHttpTransport(options(c.url, { timeoutMs: 1500 }));
    const { error } = await send(transport, BODY);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
    await transport.shutdown();
  });

  it('fails an export beyond the concurrency limit at once', async () => {
    const { transport, received } = await started([() => undefined], { concurrencyLimit: 1, timeoutMs: 300 });
    const first = send(transport, BODY);
    const second = await send(transport, BODY);
    expect(second.error?.message).toMatch(/concurrent export limit/);
    expect((await first).error).toBeDefined();
    expect(received).toHaveLength(1);
  });

  it('shutdown waits for the export in flight', async () => {
    const { transport } = await started([(res) => { setTimeout(() => { ok(res); }, 200); }]);
    let result: Error | undefined | 'pending' = 'pending';
    transport.send(BODY, (e) => { result = e; });
    await transport.shutdown();
    expect(result).toBeUndefined();
  });

  it('exports over https trusting OTEL_EXPORTER_OTLP_CERTIFICATE, with the client certificate and key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aw-otlp-tls-'));
    const file = (name: string): string => join(dir, name);
    const openssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'ignore' }); };
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];
    openssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-subj', '/CN=otlp-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    for (const [name, usage] of [['server', 'serverAuth'], ['client', 'clientAuth']] as const) {
      openssl('req', '-x509', '-CA', file('ca.crt'), '-CAkey', file('ca.key'), ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`), '-subj', `/CN=${name}`,
        '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', `extendedKeyUsage=${usage}`);
    }
    const c = await collector([ok], { cert: readFileSync(file('server.crt')), key: readFileSync(file('server.key')), ca: readFileSync(file('ca.crt')) });
    closers.push(() => c.close());
    const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: c.url, OTEL_EXPORTER_OTLP_CERTIFICATE: file('ca.crt'), OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: file('client.crt'), OTEL_EXPORTER_OTLP_CLIENT_KEY: file('client.key') };
    const transport = new OtlpHttpTransport(otlpHttpOptionsFromEnv(env));
    expect((await send(transport, BODY)).error).toBeUndefined();
    expect(c.received).toHaveLength(1);
    await transport.shutdown();
    // Without the client certificate the collector refuses the handshake; without the CA the sidecar refuses the collector.
    const noClient = new OtlpHttpTransport(otlpHttpOptionsFromEnv({ ...env, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: '', OTEL_EXPORTER_OTLP_CLIENT_KEY: '', OTEL_EXPORTER_OTLP_TIMEOUT: '1000' }));
    expect((await send(noClient, BODY)).error).toBeDefined();
    await noClient.shutdown();
    const noCa = new OtlpHttpTransport(otlpHttpOptionsFromEnv({ ...env, OTEL_EXPORTER_OTLP_CERTIFICATE: '' }));
    expect((await send(noCa, BODY)).error?.message).toMatch(/certificate/);
    await noCa.shutdown();
    expect(c.received).toHaveLength(1);
  });
});

describe('AGENTWARDEN_OTLP_TRANSPORT', () => {
  it('defaults to the sidecar transport, accepts sdk (the export delegate, as before) and refuses any other value, naming the variable', () => {
    const chosen = (value: string | undefined): string => readSidecarConfig(['--policy', 'p.yaml', '--pod', 'pod.yaml'], value === undefined ? {} : { AGENTWARDEN_OTLP_TRANSPORT: value }).otlpTransport;
    expect([chosen(undefined), chosen('sdk')]).toEqual(['sidecar', 'sdk']);
    expect(() => chosen('fetch')).toThrow(/^AGENTWARDEN_OTLP_TRANSPORT: "fetch" is not sidecar or sdk/);
  });

  it.each<OtlpTransport>(['sidecar', 'sdk'])('with %s, the tracer exports every decision span to a real receiver', async (transport) => {
    const receiver = await startOtlpReceiver({ protocol: 'http/protobuf' });
    closers.push(() => receiver.close());
    const saved = process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
    process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = receiver.url;
    try {
      const tracer = await createAuditTracer({ protocol: 'http/protobuf', transport, resource: { 'service.name': 'agentwarden-sidecar' }, maxQueue: 2048, batchSize: 8, delayMs: 60_000 });
      for (let i = 0; i < 20; i++) tracer.end(tracer.begin(undefined, undefined, Date.now()), { 'url.path': `/t/${i}` }, undefined);
      await tracer.shutdown();
      expect(tracer.counters).toEqual({ exported: 20, dropped: 0 });
      expect(receiver.payloads).toHaveLength(3);
      expect(receiver.spans().map((x) => x.attributes['url.path'])).toEqual(Array.from({ length: 20 }, (_, i) => `/t/${i}`));
    } finally {
      if (saved === undefined) Reflect.deleteProperty(process.env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
      else process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = saved;
    }
  });
});
