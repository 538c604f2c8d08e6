// The Check server on node:http2 (sidecar/src/authz/http2-server.ts), proven
// against real clients: grpc-js (as the rest of the suite and the e2e tests
// use), raw node:http2 streams that send what a broken or hostile peer would,
// and h2load (the benchmark's load generator). The same raw cases also run
// against the grpc-js server (impl: 'grpc-js'), so where the two differ is
// written down here rather than discovered in production.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  CheckRequestSchema, CheckResponseSchema, type CheckResponse,
} from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import type { CheckHandler } from '../src/authz/handler.js';
import { startAuthzServer, type AuthzServer, type AuthzServerImpl } from '../src/authz/server.js';
import {
  CHECK_PATH, GrpcStatus, PREALLOCATE_MAX, grpcContentSubtype, parseGrpcTimeout, percentEncode, startHttp2AuthzServer,
} from '../src/authz/http2-server.js';
import { agentPolicy, denied, eventually, okHeaders, outcome, startTestSidecar, stopSidecars, type TestSidecar } from './helpers.js';

// ---------------------------------------------------------------------------
// Clients

/** An HTTP/2 session to "host:port" or "unix:/path" (h2c, prior knowledge). */
function connect(address: string): http2.ClientHttp2Session {
  const session = address.startsWith('unix:')
    ? http2.connect('http://localhost', { createConnection: () => net.connect(address.slice('unix:'.length)) })
    : http2.connect(`http://${address}`);
  session.on('error', () => { /* the calls report what matters */ });
  return session;
}

interface RawRequest {
  readonly method?: string;
  readonly path?: string;
  /** Extra or replaced request headers; undefined removes one. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** Body writes, in order. */
  readonly chunks?: readonly Uint8Array[];
  /** Pause between writes, ms. */
  readonly delayMs?: number;
  /** Half-close after the writes (default true). */
  readonly end?: boolean;
}

interface RawAnswer {
  readonly httpStatus: number;
  /** From the trailers, or the headers of a trailers-only answer; undefined when none. */
  readonly grpcStatus: number | undefined;
  readonly grpcMessage: string;
  readonly headers: http2.IncomingHttpHeaders;
  readonly message: Uint8Array | undefined;
  /** The server closed the stream itself (END_STREAM both ways, or RST_STREAM) before this client gave up on it. */
  readonly closedByServer: boolean;
}

/** One call with raw bytes; resolves once the answer is complete. */
function rawCall(session: http2.ClientHttp2Session, r: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ':method': r.method ?? 'POST', ':path': r.path ?? CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' };
    for (const [k, v] of Object.entries(r.headers ?? {})) {
      if (v === undefined) Reflect.deleteProperty(headers, k);
      else headers[k] = v;
    }
    const chunks = r.chunks ?? [];
    const end = r.end ?? true;
    const stream = session.request(headers, { endStream: end && chunks.length === 0 });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const data: Buffer[] = [];
    let gaveUp = false;
    const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(r.headers ?? {})} in 10 s`)), 10_000);
    stream.on('response', (h) => { responseHeaders = h; });
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => { trailers = t; });
    stream.on('data', (c: Buffer) => data.push(c));
    stream.on('error', () => { /* a reset; reported by close */ });
    // The answer is complete at END_STREAM; a server that keeps reading after
    // it (grpc-js) is left by the client, after a moment to see a reset.
    stream.on('end', () => {
      setTimeout(() => {
        if (!stream.closed) {
          gaveUp = true;
          stream.close(http2.constants.NGHTTP2_CANCEL);
        }
      }, 50);
    });
    stream.on('close', () => {
      clearTimeout(timer);
      const body = Buffer.concat(data);
      const status = trailers['grpc-status'] ?? responseHeaders['grpc-status'];
      resolve({
        httpStatus: Number(responseHeaders[':status'] ?? 0),
        grpcStatus: status === undefined ? undefined : Number(status),
        grpcMessage: decodeURIComponent(String(trailers['grpc-message'] ?? responseHeaders['grpc-message'] ?? '')),
        headers: responseHeaders,
        message: body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : undefined,
        closedByServer: !gaveUp,
      });
    });
    void (async () => {
      for (const c of chunks) {
        if (stream.closed || stream.destroyed) return;
        stream.write(c);
        if (r.delayMs !== undefined) await new Promise((res) => setTimeout(res, r.delayMs));
      }
      if (end && chunks.length > 0 && !stream.closed) stream.end();
    })();
  });
}

/** gRPC message frame: flag, 4-byte big-endian length (default: the body's), body. */
function frame(body: Uint8Array, { flag = 0, length = body.length }: { flag?: number; length?: number } = {}): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = flag;
  out.writeUInt32BE(length, 1);
  out.set(body, 5);
  return out;
}

/** grpc-js unary call on `path` with raw bytes; resolves with the status and the response (if OK). */
function grpcJsCall(client: grpc.Client, path: string, bytes: Uint8Array, deadlineMs = 10_000): Promise<{ code: grpc.status; details: string; response: CheckResponse | undefined }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest<Uint8Array, CheckResponse>(
      path, (b) => Buffer.from(b), (b) => fromBinary(CheckResponseSchema, b), bytes, new grpc.Metadata(), { deadline: Date.now() + deadlineMs },
      (err, response) => {
        resolve(err === null ? { code: grpc.status.OK, details: '', response } : { code: err.code, details: err.details, response: undefined });
      },
    );
  });
}

// ---------------------------------------------------------------------------
// A stub handler: allows a CheckRequest for host "allowed.example", denies
// anything else in-band (PERMISSION_DENIED in the CheckResponse) like the real
// handler does, including undecodable bytes and messages over MAX.

const MAX = 128 * 1024;
const HARD_CAP = 4 * MAX;

const ALLOWED = toBinary(CheckRequestSchema, checkRequestFrom({ url: 'https://allowed.example/x' }));
const OTHER = toBinary(CheckRequestSchema, checkRequestFrom({ url: 'https://other.example/x' }));

function stubHandler(received: Uint8Array[]): CheckHandler {
  return (bytes) => {
    received.push(Uint8Array.from(bytes));
    let allowed = false;
    if (bytes.length <= MAX) {
      try {
        allowed = fromBinary(CheckRequestSchema, bytes).attributes?.request?.http?.host === 'allowed.example';
      } catch {
        allowed = false;
      }
    }
    return toBinary(CheckResponseSchema, create(CheckResponseSchema, { status: { code: allowed ? 0 : 7, message: allowed ? '' : 'denied by stub' } }));
  };
}

function decision(message: Uint8Array | undefined): 'allow' | 'deny' | 'none' {
  if (message === undefined) return 'none';
  return fromBinary(CheckResponseSchema, message).status?.code === 0 ? 'allow' : 'deny';
}

// ---------------------------------------------------------------------------
// The raw cases, with what each implementation answers. `handler` says whether
// the message reached the handler. Differences from grpc-js are deliberate
// (see http2-server.ts) except where noted.

interface Expect {
  readonly http: number;
  readonly grpc: number | undefined;
  readonly handler: boolean;
  readonly decision?: 'allow' | 'deny';
}

interface RawCase {
  readonly name: string;
  readonly request: () => RawRequest;
  readonly http2: Expect;
  readonly grpcJs: Expect;
  /** The exact bytes the handler must get (after decompression). */
  readonly delivers?: Uint8Array;
  /** http2 only: the server ends the stream although the client has not finished sending. */
  readonly resetsStream?: boolean;
}

const OK_ALLOW: Expect = { http: 200, grpc: 0, handler: true, decision: 'allow' };
const OK_DENY: Expect = { http: 200, grpc: 0, handler: true, decision: 'deny' };
const grpcError = (code: number): Expect => ({ http: 200, grpc: code, handler: false });
const { DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNIMPLEMENTED, INTERNAL } = GrpcStatus;

const gzipped = (b: Uint8Array): Buffer => zlib.gzipSync(b);
const deflated = (b: Uint8Array): Buffer => zlib.deflateSync(b);
/** A large CheckRequest: `size` bytes or a little more, with a body of printable bytes. */
const largeRequest = (size: number): Uint8Array => {
  const r = checkRequestFrom({ method: 'POST', url: 'https://allowed.example/upload' });
  r.attributes!.request!.http!.rawBody = Buffer.alloc(size, 0x61);
  return toBinary(CheckRequestSchema, r);
};
const LARGE = largeRequest(HARD_CAP - 1024);
const chunked = (b: Uint8Array, size: number): Uint8Array[] => {
  const out: Uint8Array[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
};

const RAW_CASES: readonly RawCase[] = [
  { name: 'a framed CheckRequest is allowed', request: () => ({ chunks: [frame(ALLOWED)] }), http2: OK_ALLOW, grpcJs: OK_ALLOW, delivers: ALLOWED },
  { name: 'a framed CheckRequest is denied in-band', request: () => ({ chunks: [frame(OTHER)] }), http2: OK_DENY, grpcJs: OK_DENY, delivers: OTHER },
  { name: 'a frame written one byte at a time (header split across reads)', request: () => ({ chunks: chunked(frame(ALLOWED), 1) }), http2: OK_ALLOW, grpcJs: OK_ALLOW, delivers: ALLOWED },
  { name: 'a frame written in 7-byte pieces', request: () => ({ chunks: chunked(frame(OTHER), 7) }), http2: OK_DENY, grpcJs: OK_DENY, delivers: OTHER },
  { name: 'an empty message (a valid, empty CheckRequest) reaches the handler', request: () => ({ chunks: [frame(new Uint8Array(0))] }), http2: OK_DENY, grpcJs: OK_DENY },
  { name: 'garbage bytes in a valid frame are denied in-band', request: () => ({ chunks: [frame(Buffer.from('\xff\xfe garbage \x00\x01 not protobuf', 'latin1'))] }), http2: OK_DENY, grpcJs: OK_DENY },
  {
    name: `a message over maxRequestBytes, under the hard cap, in 16 KiB writes (> ${PREALLOCATE_MAX / 1024} KiB: buffer grows) is denied in-band`,
    request: () => ({ chunks: chunked(frame(LARGE), 16 * 1024) }), http2: OK_DENY, grpcJs: OK_DENY, delivers: LARGE,
  },
  { name: 'a message of exactly the hard cap reaches the handler', request: () => ({ chunks: [frame(Buffer.alloc(HARD_CAP, 0))] }), http2: OK_DENY, grpcJs: OK_DENY },
  {
    name: 'a length beyond the hard cap is refused from its header, before the body',
    request: () => ({ chunks: [frame(Buffer.alloc(1000), { length: HARD_CAP + 1 })], end: false }),
    http2: grpcError(RESOURCE_EXHAUSTED), grpcJs: grpcError(RESOURCE_EXHAUSTED), resetsStream: true,
  },
  { name: 'a truncated frame (3 bytes of header)', request: () => ({ chunks: [Buffer.from([0, 0, 0])] }), http2: grpcError(INTERNAL), grpcJs: grpcError(UNIMPLEMENTED) },
  { name: 'a length header larger than the body', request: () => ({ chunks: [frame(Buffer.alloc(10), { length: 100 })] }), http2: grpcError(INTERNAL), grpcJs: grpcError(UNIMPLEMENTED) },
  // grpc-js reads "GET " as flag 'G' and a length of 1.1 GB.
  { name: 'garbage instead of a frame (flag byte not 0/1)', request: () => ({ chunks: [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')] }), http2: grpcError(INTERNAL), grpcJs: grpcError(RESOURCE_EXHAUSTED) },
  // Cardinality: grpc-js answers UNIMPLEMENTED (statuscodes.md), grpc-go INTERNAL; here INTERNAL (CARDINALITY_STATUS).
  { name: 'two messages on the unary call', request: () => ({ chunks: [frame(ALLOWED), frame(ALLOWED)] }), http2: grpcError(INTERNAL), grpcJs: grpcError(UNIMPLEMENTED) },
  { name: 'no message at all', request: () => ({ chunks: [] }), http2: grpcError(INTERNAL), grpcJs: grpcError(UNIMPLEMENTED) },
  { name: 'content-type application/json', request: () => ({ headers: { 'content-type': 'application/json' }, chunks: [frame(ALLOWED)] }), http2: { http: 415, grpc: undefined, handler: false }, grpcJs: { http: 415, grpc: undefined, handler: false } },
  { name: 'no content-type', request: () => ({ headers: { 'content-type': undefined }, chunks: [frame(ALLOWED)] }), http2: { http: 415, grpc: undefined, handler: false }, grpcJs: { http: 415, grpc: undefined, handler: false } },
  { name: 'content-type application/grpc+proto; charset=utf-8', request: () => ({ headers: { 'content-type': 'application/grpc+proto; charset=utf-8' }, chunks: [frame(ALLOWED)] }), http2: OK_ALLOW, grpcJs: OK_ALLOW },
  // grpc-js decodes +json as protobuf; grpc-go answers INTERNAL (no codec), as here.
  { name: 'content-type application/grpc+json', request: () => ({ headers: { 'content-type': 'application/grpc+json' }, chunks: [frame(ALLOWED)] }), http2: grpcError(INTERNAL), grpcJs: OK_ALLOW },
  // grpc-js does not look at the method.
  { name: 'GET', request: () => ({ method: 'GET', chunks: [] }), http2: { http: 405, grpc: undefined, handler: false }, grpcJs: grpcError(UNIMPLEMENTED) },
  { name: 'an unknown method', request: () => ({ path: '/envoy.service.auth.v3.Authorization/Nope', chunks: [frame(ALLOWED)] }), http2: grpcError(UNIMPLEMENTED), grpcJs: grpcError(UNIMPLEMENTED) },
  // Refused from the headers while the client is still sending more than a flow-control window: not left hanging.
  {
    name: 'an unknown method with 1 MiB of body still being sent',
    request: () => ({ path: '/envoy.service.auth.v3.Authorization/Nope', chunks: chunked(Buffer.alloc(1 << 20), 64 * 1024), delayMs: 5, end: false }),
    http2: grpcError(UNIMPLEMENTED), grpcJs: grpcError(UNIMPLEMENTED), resetsStream: true,
  },
  {
    name: 'content-type text/plain with 1 MiB of body still being sent',
    request: () => ({ headers: { 'content-type': 'text/plain' }, chunks: chunked(Buffer.alloc(1 << 20), 64 * 1024), delayMs: 5, end: false }),
    http2: { http: 415, grpc: undefined, handler: false }, grpcJs: { http: 415, grpc: undefined, handler: false }, resetsStream: true,
  },
  { name: 'an unknown service', request: () => ({ path: '/grpc.health.v1.Health/Check', chunks: [frame(new Uint8Array(0))] }), http2: grpcError(UNIMPLEMENTED), grpcJs: grpcError(UNIMPLEMENTED) },
  // grpc-js arms a 0 ms timer and runs the handler first: an expired call is served.
  { name: 'grpc-timeout 0m (already expired)', request: () => ({ headers: { 'grpc-timeout': '0m' }, chunks: [frame(ALLOWED)] }), http2: grpcError(DEADLINE_EXCEEDED), grpcJs: OK_ALLOW },
  {
    name: 'grpc-timeout 1m, the message completed 40 ms later',
    request: () => ({ headers: { 'grpc-timeout': '1m' }, chunks: [frame(ALLOWED).subarray(0, 8), frame(ALLOWED).subarray(8)], delayMs: 40 }),
    http2: grpcError(DEADLINE_EXCEEDED), grpcJs: grpcError(DEADLINE_EXCEEDED),
  },
  {
    name: 'grpc-timeout 100m, the message never completed (the server answers on its own)',
    request: () => ({ headers: { 'grpc-timeout': '100m' }, chunks: [frame(ALLOWED).subarray(0, 8)], end: false }),
    http2: grpcError(DEADLINE_EXCEEDED), grpcJs: grpcError(DEADLINE_EXCEEDED), resetsStream: true,
  },
  { name: 'grpc-timeout 5S is honoured, not in the way', request: () => ({ headers: { 'grpc-timeout': '5S' }, chunks: [frame(ALLOWED)] }), http2: OK_ALLOW, grpcJs: OK_ALLOW },
  { name: 'a malformed grpc-timeout', request: () => ({ headers: { 'grpc-timeout': 'soon' }, chunks: [frame(ALLOWED)] }), http2: grpcError(INTERNAL), grpcJs: grpcError(INTERNAL) },
  { name: 'gzip-compressed', request: () => ({ headers: { 'grpc-encoding': 'gzip' }, chunks: [frame(gzipped(ALLOWED), { flag: 1 })] }), http2: OK_ALLOW, grpcJs: OK_ALLOW, delivers: ALLOWED },
  { name: 'deflate-compressed', request: () => ({ headers: { 'grpc-encoding': 'deflate' }, chunks: [frame(deflated(ALLOWED), { flag: 1 })] }), http2: OK_ALLOW, grpcJs: OK_ALLOW, delivers: ALLOWED },
  { name: 'gzip-compressed large message in 16 KiB writes', request: () => ({ headers: { 'grpc-encoding': 'gzip' }, chunks: chunked(frame(gzipped(LARGE), { flag: 1 }), 16 * 1024) }), http2: OK_DENY, grpcJs: OK_DENY, delivers: LARGE },
  { name: 'grpc-encoding gzip, message not compressed (flag 0)', request: () => ({ headers: { 'grpc-encoding': 'gzip' }, chunks: [frame(ALLOWED)] }), http2: OK_ALLOW, grpcJs: OK_ALLOW },
  { name: 'compressed with an unsupported encoding', request: () => ({ headers: { 'grpc-encoding': 'snappy' }, chunks: [frame(Buffer.from('xyz'), { flag: 1 })] }), http2: grpcError(UNIMPLEMENTED), grpcJs: grpcError(UNIMPLEMENTED) },
  // grpc-js takes the bytes as uncompressed; grpc-go answers INTERNAL, as here.
  { name: 'compressed flag without grpc-encoding', request: () => ({ chunks: [frame(ALLOWED, { flag: 1 })] }), http2: grpcError(INTERNAL), grpcJs: OK_ALLOW },
  { name: 'corrupt gzip', request: () => ({ headers: { 'grpc-encoding': 'gzip' }, chunks: [frame(Buffer.from('not gzip at all'), { flag: 1 })] }), http2: grpcError(INTERNAL), grpcJs: grpcError(INTERNAL) },
  { name: 'gzip inflating beyond the hard cap', request: () => ({ headers: { 'grpc-encoding': 'gzip' }, chunks: [frame(gzipped(Buffer.alloc(HARD_CAP + 1)), { flag: 1 })] }), http2: grpcError(RESOURCE_EXHAUSTED), grpcJs: grpcError(RESOURCE_EXHAUSTED) },
  { name: 'gzip inflating over maxRequestBytes, under the hard cap, is denied in-band', request: () => ({ headers: { 'grpc-encoding': 'gzip' }, chunks: [frame(gzipped(largeRequest(MAX + 1)), { flag: 1 })] }), http2: OK_DENY, grpcJs: OK_DENY },
];

// ---------------------------------------------------------------------------

const IMPLS: readonly AuthzServerImpl[] = ['http2', 'grpc-js'];
const TRANSPORTS = [['TCP', 'tcp'], ['a Unix socket', 'unix']] as const;

describe.each(IMPLS.flatMap((impl) => TRANSPORTS.map(([label, kind]) => [impl, label, kind] as const)))('raw HTTP/2 streams against the %s server over %s', (impl, _label, kind) => {
  let dir: string;
  let server: AuthzServer;
  let session: http2.ClientHttp2Session;
  const received: Uint8Array[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentwarden-h2-'));
    server = await startAuthzServer(kind === 'unix' ? `unix:${join(dir, 'authz.sock')}` : '127.0.0.1:0', stubHandler(received), MAX, { impl });
    session = connect(server.address);
  });
  afterAll(async () => {
    session.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A valid call on the shared session (when it is still up) and on a fresh one: the server still serves. */
  async function stillServes(): Promise<void> {
    if (!session.closed && !session.destroyed) {
      const again = await rawCall(session, { chunks: [frame(ALLOWED)] });
      expect([again.grpcStatus, decision(again.message)]).toEqual([0, 'allow']);
    } else {
      session = connect(server.address);
    }
    const fresh = connect(server.address);
    try {
      const a = await rawCall(fresh, { chunks: [frame(ALLOWED)] });
      expect([a.grpcStatus, decision(a.message)]).toEqual([0, 'allow']);
    } finally {
      fresh.close();
    }
  }

  it.each(RAW_CASES)('$name', async (c) => {
    const want = impl === 'http2' ? c.http2 : c.grpcJs;
    const request = c.request();
    received.length = 0;
    const a = await rawCall(session, request);
    expect({ http: a.httpStatus, grpc: a.grpcStatus }).toEqual({ http: want.http, grpc: want.grpc });
    expect(received.length).toBe(want.handler ? 1 : 0);
    if (want.decision !== undefined) expect(decision(a.message)).toBe(want.decision);
    if (want.grpc === 0) expect(a.headers['content-type']).toMatch(/^application\/grpc/);
    if (impl === 'http2') {
      // Every answer ends the stream: the server never waits for a client that is still sending.
      expect(a.closedByServer).toBe(true);
      if (want.grpc !== undefined && want.grpc !== 0) expect(a.grpcMessage).not.toBe('');
      if (c.name === 'compressed with an unsupported encoding') expect(a.headers['grpc-accept-encoding']).toBe('identity,deflate,gzip');
    }
    // The exact bytes reach the handler (decompressed when compressed).
    if (c.delivers !== undefined) expect(Buffer.from(received[0]!).equals(c.delivers)).toBe(true);
    await stillServes();
  });

  it('survives a client that resets mid-message, and one that drops the connection mid-message', async () => {
    const s = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc' });
    s.on('error', () => { /* expected */ });
    s.write(frame(ALLOWED).subarray(0, 10));
    await new Promise((res) => setTimeout(res, 20));
    s.close(http2.constants.NGHTTP2_CANCEL);
    const doomed = connect(server.address);
    const d = doomed.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', 'grpc-timeout': '50m' });
    d.on('error', () => { /* expected */ });
    d.write(frame(ALLOWED).subarray(0, 10));
    await new Promise((res) => setTimeout(res, 20));
    doomed.destroy();
    // And one that resets with an error code (the server stream emits 'error').
    const e = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc' });
    e.on('error', () => { /* expected */ });
    e.write(frame(ALLOWED).subarray(0, 10));
    await new Promise((res) => setTimeout(res, 20));
    e.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    await new Promise((res) => setTimeout(res, 100)); // past the 50 ms deadline of the dropped call
    await stillServes();
  });

  it('survives HTTP/1.1 and garbage on the socket', async () => {
    for (const bytes of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x08garbage', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03']) {
      await new Promise<void>((resolve) => {
        const socket = kind === 'unix' ? net.connect(server.address.slice('unix:'.length)) : net.connect(Number(server.address.split(':')[1]), '127.0.0.1');
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.on('data', () => { /* whatever the server answers */ });
        socket.on('connect', () => { socket.end(Buffer.from(bytes, 'latin1')); });
        setTimeout(() => { socket.destroy(); resolve(); }, 500);
      });
    }
    await stillServes();
  });
});

// ---------------------------------------------------------------------------
// grpc-js clients against the http2 server, with the real handler.

const SUPPORT = agentPolicy('support', `
  podSelector: {matchLabels: {app: support-agent}}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com], ports: [443]}
      http: {methods: [GET], paths: ["/api/v2/tickets/{id}"]}
    - name: block-billing
      action: Deny
      to: {hosts: [billing.internal]}
`);

describe.each(TRANSPORTS)('grpc-js clients and the real handler on the http2 server over %s', (_label, kind) => {
  let sidecar: TestSidecar;
  beforeAll(async () => {
    sidecar = await startTestSidecar({ policies: { 'support.yaml': SUPPORT }, listen: kind === 'unix' ? 'unix' : '127.0.0.1:0', config: { maxRequestBytes: 16 * 1024 } });
  });
  afterAll(stopSidecars);

  it('allows and denies (round trip through the test client)', async () => {
    expect(okHeaders(await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/4711' })).get('x-agentwarden-decision')).toBe('allow');
    expect(outcome(await sidecar.checkShort({ url: 'https://billing.internal/v1/invoices' }))).toEqual({ decision: 'deny', rule: 'block-billing' });
  });

  it('answers grpc-js clients with gzip or deflate compression switched on', async () => {
    for (const algorithm of [grpc.compressionAlgorithms.gzip, grpc.compressionAlgorithms.deflate]) {
      const client = new grpc.Client(sidecar.running.authz.address, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': algorithm });
      try {
        // Twice: grpc-js decides on compression again once it has seen the server's headers.
        for (let i = 0; i < 2; i++) {
          const allow = await grpcJsCall(client, CHECK_PATH, toBinary(CheckRequestSchema, checkRequestFrom({ url: 'https://api.zendesk.com/api/v2/tickets/1' })));
          expect(allow.code).toBe(grpc.status.OK);
          expect(allow.response?.httpResponse.case).toBe('okResponse');
          const deny = await grpcJsCall(client, CHECK_PATH, toBinary(CheckRequestSchema, checkRequestFrom({ url: 'https://billing.internal/' })));
          expect(deny.code).toBe(grpc.status.OK);
          expect(denied(deny.response!).body).toMatchObject({ rule: 'block-billing' });
        }
      } finally {
        client.close();
      }
    }
  });

  it('answers UNIMPLEMENTED for an unknown method, and keeps serving', async () => {
    const client = new grpc.Client(sidecar.running.authz.address, grpc.credentials.createInsecure());
    try {
      const r = await grpcJsCall(client, '/envoy.service.auth.v3.Authorization/Nope', new Uint8Array(0));
      expect(r.code).toBe(grpc.status.UNIMPLEMENTED);
      const r2 = await grpcJsCall(client, '/envoy.service.auth.v2.Authorization/Check', new Uint8Array(0));
      expect(r2.code).toBe(grpc.status.UNIMPLEMENTED);
      expect((await grpcJsCall(client, CHECK_PATH, toBinary(CheckRequestSchema, checkRequestFrom({ url: 'https://api.zendesk.com/api/v2/tickets/1' })))).code).toBe(grpc.status.OK);
    } finally {
      client.close();
    }
  });

  it('denies in-band up to the hard cap, and refuses beyond it with RESOURCE_EXHAUSTED', async () => {
    const over = largeRequest(20 * 1024); // > maxRequestBytes (16 KiB) < hard cap (64 KiB)
    const d = denied(await sidecar.client.checkBytes(over));
    expect(d.body).toMatchObject({ rule: 'invalid-request', reason: expect.stringContaining('exceeds the limit') });
    await expect(sidecar.client.checkBytes(largeRequest(70 * 1024))).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect(okHeaders(await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/4711' })).get('x-agentwarden-decision')).toBe('allow');
  });

  it('serves many concurrent calls on one connection', async () => {
    const calls = Array.from({ length: 300 }, (_, i) => sidecar.checkShort({ url: i % 2 === 0 ? 'https://api.zendesk.com/api/v2/tickets/1' : 'https://billing.internal/' }));
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.httpResponse.case === 'okResponse')).toHaveLength(150);
  });
});

describe('the http2 server directly', () => {
  let server: AuthzServer;
  const received: Uint8Array[] = [];
  beforeAll(async () => {
    server = await startHttp2AuthzServer('127.0.0.1:0', stubHandler(received), MAX);
  });
  afterAll(() => server.close());

  it('answers a client whose stream flow-control window is 1 byte (the answer waits for WINDOW_UPDATEs)', async () => {
    const session = http2.connect(`http://${server.address}`, { settings: { initialWindowSize: 1 } });
    session.on('error', () => { /* reported by the calls */ });
    try {
      const answers = await Promise.all([0, 1, 2].map(() => rawCall(session, { chunks: [frame(ALLOWED)] })));
      expect(answers.map((a) => [a.httpStatus, a.grpcStatus, decision(a.message)])).toEqual([[200, 0, 'allow'], [200, 0, 'allow'], [200, 0, 'allow']]);
    } finally {
      session.close();
    }
  });

  it.each([0, 256])('answers a client that sets SETTINGS_HEADER_TABLE_SIZE %d (nghttp2 then insists on a table size update)', async (size) => {
    const session = http2.connect(`http://${server.address}`, { settings: { headerTableSize: size } });
    session.on('error', () => { /* reported by the calls */ });
    try {
      for (let i = 0; i < 3; i++) {
        const a = await rawCall(session, { chunks: [frame(ALLOWED)] });
        expect([a.httpStatus, a.grpcStatus, decision(a.message)]).toEqual([200, 0, 'allow']);
      }
    } finally {
      session.close();
    }
  });

  it('holds at most a hard cap of partly received messages across calls: the call that would pass it is refused, the others go on', async () => {
    const session = connect(server.address);
    try {
      // Over half the budget each, and sent in part: two of them cannot be held at once.
      const big = frame(largeRequest(Math.floor(HARD_CAP * 0.6)));
      const first = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      const firstAnswer = new Promise<{ status: string | undefined; body: Buffer }>((resolve) => {
        const data: Buffer[] = [];
        let status: string | undefined;
        first.on('data', (c: Buffer) => data.push(c));
        first.on('trailers', (t: http2.IncomingHttpHeaders) => { status = String(t['grpc-status']); });
        first.on('error', () => { /* reported by close */ });
        first.on('close', () => resolve({ status, body: Buffer.concat(data) }));
      });
      first.write(big.subarray(0, big.length - 1000));
      await eventually('the first message to be held in part', () => (server.stats().bufferedBytes >= big.length - 1005 ? true : undefined));

      const refusedBefore = server.stats().limitsHit.buffer;
      const second = await rawCall(session, { chunks: [big.subarray(0, 64 * 1024)], end: false });
      expect([second.grpcStatus, second.grpcMessage]).toEqual([RESOURCE_EXHAUSTED, `request messages being received exceed the sidecar's buffer of ${HARD_CAP} bytes`]);
      expect(second.closedByServer).toBe(true);
      expect(server.stats().limitsHit.buffer - refusedBefore).toBe(1);

      first.end(big.subarray(big.length - 1000));
      const answer = await firstAnswer;
      expect(answer.status).toBe('0');
      expect(decision(answer.body.subarray(5))).toBe('deny'); // over MAX: denied in-band
      expect(server.stats().bufferedBytes).toBe(0);

      // A call reset by its client mid-message gives its share back.
      const third = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc' });
      third.on('error', () => { /* expected */ });
      third.write(big.subarray(0, 200 * 1024));
      await eventually('the third message to be held in part', () => (server.stats().bufferedBytes > 0 ? true : undefined));
      third.close(http2.constants.NGHTTP2_CANCEL);
      await eventually('the reset call to give its buffer back', () => (server.stats().bufferedBytes === 0 ? true : undefined));
      expect(decision((await rawCall(session, { chunks: [frame(ALLOWED)] })).message)).toBe('allow');
    } finally {
      session.close();
    }
  });

  it('holds inflated messages against the same buffer: a compressed call that inflates past what is left is refused, not answered', async () => {
    const session = connect(server.address);
    try {
      const big = frame(largeRequest(Math.floor(HARD_CAP * 0.6)));
      const first = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      first.on('error', () => { /* reset below */ });
      first.write(big.subarray(0, big.length - 1000));
      await eventually('the first message to be held in part', () => (server.stats().bufferedBytes >= big.length - 1005 ? true : undefined));

      // A few KiB on the wire, 60% of the hard cap once inflated: under the hard cap, over what the buffer has left.
      const bomb = frame(gzipped(largeRequest(Math.floor(HARD_CAP * 0.6))), { flag: 1 });
      const refusedBefore = server.stats().limitsHit.buffer;
      const answer = await rawCall(session, { headers: { 'grpc-encoding': 'gzip' }, chunks: [bomb] });
      expect([answer.grpcStatus, answer.grpcMessage]).toEqual([RESOURCE_EXHAUSTED, `request messages being received exceed the sidecar's buffer of ${HARD_CAP} bytes`]);
      expect(server.stats().limitsHit.buffer - refusedBefore).toBe(1);

      first.close(http2.constants.NGHTTP2_CANCEL);
      await eventually('the buffer to be given back', () => (server.stats().bufferedBytes === 0 ? true : undefined));
      // With the buffer free the same message is inflated, decided (over MAX: denied in-band) and its bytes given back.
      const again = await rawCall(session, { headers: { 'grpc-encoding': 'gzip' }, chunks: [bomb] });
      expect([again.grpcStatus, decision(again.message)]).toEqual([0, 'deny']);
      expect(server.stats().bufferedBytes).toBe(0);
    } finally {
      session.close();
    }
  });

  it('counts each refusal by the limit that refused it and by gRPC status', async () => {
    const session = connect(server.address);
    try {
      const before = server.stats();
      const tooLong = await rawCall(session, { chunks: [frame(Buffer.alloc(0), { length: HARD_CAP + 1 })], end: false });
      expect(tooLong.grpcStatus).toBe(RESOURCE_EXHAUSTED);
      const bomb = await rawCall(session, { headers: { 'grpc-encoding': 'gzip' }, chunks: [frame(gzipped(Buffer.alloc(HARD_CAP + 1)), { flag: 1 })] });
      expect(bomb.grpcStatus).toBe(RESOURCE_EXHAUSTED);
      const after = server.stats();
      expect(after.limitsHit['message-size'] - before.limitsHit['message-size']).toBe(1);
      expect(after.limitsHit['inflated-size'] - before.limitsHit['inflated-size']).toBe(1);
      expect((after.grpcErrors[RESOURCE_EXHAUSTED] ?? 0) - (before.grpcErrors[RESOURCE_EXHAUSTED] ?? 0)).toBe(2);
      expect(after.bufferLimitBytes).toBe(HARD_CAP);
    } finally {
      session.close();
    }
  });

  it('gets compressed messages from a grpc-js client with grpc.default_compression_algorithm gzip', async () => {
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip });
    try {
      const before = server.stats().compressed;
      for (let i = 0; i < 3; i++) expect(decision(toBinary(CheckResponseSchema, (await grpcJsCall(client, CHECK_PATH, ALLOWED)).response!))).toBe('allow');
      expect(server.stats().compressed - before).toBe(3);
      expect(Buffer.from(received.at(-1)!)).toEqual(Buffer.from(ALLOWED));
    } finally {
      client.close();
    }
  });

  it('takes the grpc-timeout grpc-js sends for deadlines from 50 ms to 100 days (m, S units)', async () => {
    // (A deadline that has passed never reaches a server from grpc-js: the
    // client fails the call itself. Expired deadlines are in the raw cases.)
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
    try {
      const before = grpcErrorCount(server);
      for (const ms of [50, 1000, 60_000, 3_600_000, 100 * 86_400_000]) {
        expect((await grpcJsCall(client, CHECK_PATH, ALLOWED, ms)).code).toBe(grpc.status.OK);
      }
      expect(grpcErrorCount(server) - before).toBe(0);
    } finally {
      client.close();
    }
  });

  it('serves h2load (the benchmark client): every request answered with grpc-status 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentwarden-h2load-'));
    try {
      const file = join(dir, 'frame.bin');
      writeFileSync(file, frame(ALLOWED));
      const before = server.stats().checks;
      const out = await new Promise<string | undefined>((resolve, reject) => {
        execFile('h2load', ['-n', '2000', '-c4', '-m16', '-t1', '-d', file, '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://${server.address}${CHECK_PATH}`],
          { timeout: 60_000 }, (err, stdout) => {
            if (err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT') resolve(undefined);
            else if (err !== null) reject(new Error(`h2load: ${err.message}`, { cause: err }));
            else resolve(stdout);
          });
      });
      if (out === undefined) {
        console.warn('h2load not installed: h2load check skipped');
        return;
      }
      expect(out).toMatch(/requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/);
      expect(server.stats().checks - before).toBe(2000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports the bound address, and refuses a listen address it cannot parse or bind', async () => {
    expect(server.address).toMatch(/^127\.0\.0\.1:[1-9][0-9]*$/);
    await expect(startHttp2AuthzServer('127.0.0.1', stubHandler([]), MAX)).rejects.toThrow(/cannot listen on 127\.0\.0\.1/);
    await expect(startHttp2AuthzServer(server.address, stubHandler([]), MAX)).rejects.toThrow(/cannot listen on .*EADDRINUSE/);
  });
});

describe('gRPC wire details', () => {
  it('parses grpc-timeout', () => {
    expect(parseGrpcTimeout('1H')).toBe(3_600_000);
    expect(parseGrpcTimeout('2M')).toBe(120_000);
    expect(parseGrpcTimeout('3S')).toBe(3000);
    expect(parseGrpcTimeout('200m')).toBe(200);
    expect(parseGrpcTimeout('1500u')).toBe(1.5);
    expect(parseGrpcTimeout('99999999n')).toBeCloseTo(99.999999);
    expect(parseGrpcTimeout('0m')).toBe(0);
    for (const bad of ['', 'm', '5', '123456789m', '5s', '-5m', ' 5m', '5 m', '1.5S']) expect(parseGrpcTimeout(bad)).toBe(-1);
  });

  it('percent-encodes grpc-message', () => {
    expect(percentEncode('plain text: fine')).toBe('plain text: fine');
    expect(percentEncode('100% sure')).toBe('100%25 sure');
    expect(percentEncode('grüße\n')).toBe('gr%C3%BC%C3%9Fe%0A');
    expect(decodeURIComponent(percentEncode('ünïcode % \t'))).toBe('ünïcode % \t');
  });

  it('recognises gRPC content types', () => {
    expect(grpcContentSubtype('application/grpc')).toBe('');
    expect(grpcContentSubtype('application/grpc+proto')).toBe('proto');
    expect(grpcContentSubtype('Application/GRPC+Proto; charset=utf-8')).toBe('proto');
    expect(grpcContentSubtype('application/grpc;x=1')).toBe('');
    expect(grpcContentSubtype('application/grpc+json')).toBe('json');
    expect(grpcContentSubtype('application/grpcx')).toBeUndefined();
    expect(grpcContentSubtype('application/json')).toBeUndefined();
    expect(grpcContentSubtype(undefined)).toBeUndefined();
  });

  it('percent-encodes what it echoes into grpc-message', async () => {
    const server = await startHttp2AuthzServer('127.0.0.1:0', stubHandler([]), MAX);
    const session = connect(server.address);
    try {
      const a = await rawCall(session, { path: '/envoy.service.auth.v3.Authorization/Ch%eck', chunks: [frame(ALLOWED)] });
      expect(a.grpcStatus).toBe(UNIMPLEMENTED);
      expect(a.headers['grpc-message']).toBe('unknown method /envoy.service.auth.v3.Authorization/Ch%25eck');
    } finally {
      session.close();
      await server.close();
    }
  });
});

function grpcErrorCount(server: AuthzServer): number {
  return server.stats().grpcErrors.reduce((a, b) => a + b, 0);
}
