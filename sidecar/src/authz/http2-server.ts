// The ext_authz Check served with node:http2 directly: gRPC framing, status and
// deadlines done here, protobuf-es for the messages, no grpc-js on the hot path.
//
// Why: grpc-js spends a large share of the sidecar's CPU per Check on
// per-call machinery this one unary method never uses (interceptors, metadata
// objects, read queues, promises, per-call closures and timers). This server
// does only what the gRPC over HTTP/2 protocol (PROTOCOL-HTTP2.md) asks of a
// unary call, and is tested against grpc-js clients, raw node:http2 clients
// and h2load (sidecar/test/http2-server.test.ts). grpc-js stays available in
// server.ts (impl: 'grpc-js') for comparison and as a fallback.
//
// Measured on the 2-core dev VM (shared with other work, load average 2-3;
// Node 24.21): the sidecar as a process, `bin/agentwarden sidecar --policy
// bench/peers/agentwarden/policy.yaml --pod bench/peers/agentwarden/pod.yaml
// --listen 127.0.0.1:PORT --admin-listen 127.0.0.1:PORT2 --grpc-impl <impl>`
// (--grpc-impl: the flag proposed to select AuthzServerOptions.impl), one
// process per implementation, 10,000 unmeasured requests each first, then
// three interleaved rounds (A B, B A, A B) of
//   h2load -n 30000 -c4 -m16 -d <frame> -H 'content-type: application/grpc' \
//     -H 'te: trailers' http://127.0.0.1:PORT/envoy.service.auth.v3.Authorization/Check
// with <frame> the gh-comment request of bench/compare/mix.ts (308 bytes, framed
// like bench/compare/grpc-raw.ts; allowed by rule gh-comment). CPU per request
// is utime+stime of the sidecar from /proc/<pid>/stat around each run.
//                                 req/s per round          CPU µs/request
//   OTEL_TRACES_EXPORTER=none
//     http2                   15,844  15,156  15,203     76.7  77.0  78.7
//     grpc-js                 10,938  10,600  11,212    118.0 116.7 114.0
//   OTLP http/protobuf export to a local sink (in the driver process)
//     http2                   13,549  12,649  12,729     97.7 102.3 100.3
//     grpc-js                  7,638   9,754   9,139    175.3 135.7 145.7
// Two earlier runs of the same script agreed (export off: http2 58-79 µs,
// 10.1k-19.2k req/s; grpc-js 94-123 µs, 7.0k-9.8k req/s; http2 ahead in every
// round, by 1.02-2.32x in req/s).
// The denied (gh-delete) and MCP (mcp-search) requests of the mix, export off:
// http2 61.7-67.3 µs and 14.1k-19.5k req/s, grpc-js 89.0-117.7 µs and
// 8.5k-14.0k req/s. The transport alone (a handler returning a prebuilt
// response, both servers in one process): http2 ~26-40 µs, grpc-js ~43-48 µs
// per request. What is left is mostly the decision itself (protobuf-es decode
// and encode, CEL, path matching) and node:http2's own stream machinery.
//
// gRPC semantics kept, and where the product rule bends them:
// - Only POST /envoy.service.auth.v3.Authorization/Check with content-type
//   application/grpc or application/grpc+proto (parameters allowed). Other
//   methods: HTTP 405; content types not starting with application/grpc: HTTP
//   415 (as the spec asks, so that non-gRPC clients do not read an error as
//   success); another gRPC content-subtype (+json...): INTERNAL, as grpc-go;
//   another path: trailers-only UNIMPLEMENTED.
// - The size rule (the product rule): every CheckRequest up to the hard cap
//   (4 × maxRequestBytes, as grpc-js was configured) reaches the handler, which
//   denies anything over maxRequestBytes in a NORMAL response (grpc-status 0,
//   DeniedHttpResponse), because a gRPC error is what a `failure_mode_allow`
//   Envoy turns into an allow. Only a message beyond the hard cap is refused
//   with RESOURCE_EXHAUSTED, as soon as its 5-byte header announces it, and the
//   stream is then reset (RST_STREAM NO_ERROR, RFC 9113 §8.1) so the peer stops
//   sending: that is stream memory protection, not a decision. Envoy must be
//   configured so that a CheckRequest cannot reach the hard cap
//   (with_request_body.max_request_bytes + headers well under 4 × maxRequestBytes).
// - Compression (compression.md): a message with the compressed flag is
//   inflated with node:zlib when grpc-encoding is gzip or deflate, its output
//   bounded by the hard cap (beyond: RESOURCE_EXHAUSTED, as grpc-js); any other
//   encoding gets UNIMPLEMENTED with grpc-accept-encoding, the flag without an
//   encoding (or "identity") gets INTERNAL, as grpc-go. Compressed bytes are
//   never handed to the handler as if they were a CheckRequest: a compressing
//   client must get the decision of its request, not a deny for unreadable
//   bytes. Responses are never compressed. Envoy's gRPC client does not
//   compress; this is for grpc-js and grpc-go clients.
// - Deadlines: grpc-timeout is honoured. The handler is synchronous, so the
//   deadline can only pass while the request message is still arriving (or
//   being inflated): checked when the message is complete (and after
//   inflating), and a timer is armed only when a message is split over
//   several reads, so the usual call costs no timer. A call that sends
//   headers and then nothing at all is left to the client's own deadline (it
//   resets the stream) and to the session's end. Already expired (e.g.
//   grpc-timeout 0m): DEADLINE_EXCEEDED, the handler is not called (grpc-js
//   ran such a call: its 0 ms timer fires after the handler).
//   A malformed grpc-timeout: INTERNAL, as grpc-js and grpc-go.
// - Cardinality: a unary call with no message or with bytes after its one
//   message gets INTERNAL, where grpc-go is going (grpc/grpc-go#7286); grpc-js
//   answers UNIMPLEMENTED, as the table in gRPC's statuscodes.md says
//   (CARDINALITY_STATUS below switches). A frame that ends early or whose
//   flag byte is neither 0 nor 1 gets INTERNAL. Envoy never sends such a
//   stream: these are peer bugs, not request content, so the product rule
//   (deny in-band) is not what applies to them.
// - Responses: HTTP 200, content-type application/grpc, one length-prefixed
//   CheckResponse, trailers grpc-status (and grpc-message, percent-encoded, when
//   non-zero); errors as trailers-only responses. A handler that throws (it
//   must not) is answered with a prebuilt deny, never with a gRPC error.
// - Stream and session errors, client resets and garbage never throw out of
//   here; a client that resets simply gets nothing.
// - Not served: server reflection, health checking, metadata to the handler
//   (Envoy's ext_authz sends none that matters), response compression.
import * as http2 from 'node:http2';
import * as zlib from 'node:zlib';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { toBinary } from '@bufbuild/protobuf';
import { CheckResponseSchema } from '../../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import type { CheckHandler } from './handler.js';
import { checkResponse } from './respond.js';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

/** gRPC status codes used here. */
export const GrpcStatus = {
  OK: 0,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

/** Status for a unary call with zero or several request messages (see the header comment). */
export const CARDINALITY_STATUS: number = GrpcStatus.INTERNAL;

/** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS announced to clients (Envoy opens more connections beyond it). */
export const MAX_CONCURRENT_STREAMS = 1000;
/**
 * node:http2 refuses new streams (ENHANCE_YOUR_CALM) while a session holds more
 * than this many MB (open streams, header compression tables, data queued to
 * be sent, unacknowledged PING/SETTINGS). Node's default is 10; grpc-js lifts
 * it to "unlimited" because hitting it fails calls, which a failure_mode_allow
 * Envoy would turn into allows. 1000 open streams with ~1 KiB responses need a
 * few MB; 64 MB keeps legitimate load far from the limit while a peer that
 * never reads its responses still cannot grow a session without bound.
 */
export const MAX_SESSION_MEMORY_MB = 64;
/** Largest buffer allocated up front from a message's announced length; larger messages grow as their bytes arrive. */
export const PREALLOCATE_MAX = 256 * 1024;
/** close(): in-flight calls get this long after GOAWAY before their sessions are destroyed. */
export const CLOSE_GRACE_MS = 5000;

export interface Http2AuthzServerStats {
  /** Calls that reached the handler. */
  checks: number;
  /** Of those, how many came compressed. */
  compressed: number;
  /** Calls answered with a gRPC error status (not counted in checks). */
  grpcErrors: number;
  /** Requests refused at the HTTP level (405, 415). */
  httpErrors: number;
}

export interface Http2AuthzServer {
  /** The bound address: "127.0.0.1:<port>" or "unix:/path". */
  readonly address: string;
  readonly stats: Http2AuthzServerStats;
  close(): Promise<void>;
}

// Constant header and option objects, shared by every response (node:http2
// reads them and does not modify them; raw header arrays it does append to,
// so those could not be shared).
const OK_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });
const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true });
const END_STREAM = Object.freeze({ endStream: true });
const ACCEPT_ENCODING = 'identity,deflate,gzip';

/** A deny for the case the handler breaks its promise and throws. */
const FALLBACK_DENY = toBinary(CheckResponseSchema, checkResponse({
  allowed: false, mode: 'Enforce', policy: '', rule: 'internal-error', reason: 'agentwarden: internal error while deciding',
  auditDecision: null, headers: [], request: undefined,
}, ''));

/** One unary call in progress. Kept on its stream under kCall. */
class UnaryCall {
  constructor(readonly limits: Limits) {}
  /** performance.now() deadline; Infinity without grpc-timeout. */
  deadline = Infinity;
  /** grpc-encoding of the request, when any. */
  encoding: string | undefined = undefined;
  /** A message header split across reads (rare). */
  head: Buffer | undefined = undefined;
  headFilled = 0;
  compressed = false;
  /** Announced message length; -1 until the 5-byte header is read. */
  length = -1;
  /** Message bytes being collected when they arrive in several reads. */
  buffer: Buffer | undefined = undefined;
  filled = 0;
  /** The complete message. */
  message: Uint8Array | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  /** Answered (or being answered): later events are ignored. */
  done = false;
}

const kCall: unique symbol = Symbol('agentwarden.unaryCall');

interface CallStream extends http2.ServerHttp2Stream {
  [kCall]?: UnaryCall;
}

interface Limits {
  readonly handler: CheckHandler;
  readonly hardCap: number;
  readonly stats: Http2AuthzServerStats;
}

/**
 * Serves Check on `listen` ("host:port" or "unix:/path") over h2c with prior
 * knowledge, as Envoy's envoy_grpc client and grpc-js clients speak it.
 * Messages up to 4 × `maxRequestBytes` reach the handler (which denies those
 * over `maxRequestBytes` in-band); larger ones are refused.
 */
export async function startHttp2AuthzServer(listen: string, handler: CheckHandler, maxRequestBytes: number): Promise<Http2AuthzServer> {
  const stats: Http2AuthzServerStats = { checks: 0, compressed: 0, grpcErrors: 0, httpErrors: 0 };
  const limits: Limits = { handler, hardCap: Math.min(4 * maxRequestBytes, 2 ** 31 - 1), stats };
  const server = http2.createServer({
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    // Only bounds streams this side opens (server push) until the peer's
    // SETTINGS arrive; a gRPC server opens none. Node's default, stated.
    peerMaxConcurrentStreams: 100,
    settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
    // No idle timeouts: Envoy owns connection keepalive (HTTP/2 PING is answered by nghttp2).
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // A broken peer (bad preface, HTTP/1.1 on this port, protocol errors) ends its own session only.
  server.on('sessionError', ignore);
  server.on('stream', (stream: CallStream, headers: http2.IncomingHttpHeaders, flags: number) => {
    onStream(limits, stream, headers, (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0);
  });

  const address = await listenOn(server, listen);
  // After listening, an 'error' (e.g. EMFILE on accept) must not crash the sidecar.
  server.on('error', ignore);
  return {
    address,
    stats,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sessions) s.close();
      if (sessions.size > 0) {
        setTimeout(() => { for (const s of sessions) s.destroy(); }, CLOSE_GRACE_MS).unref();
      }
    }),
  };
}

function ignore(): void { /* see the callers */ }

/** `ended`: the request HEADERS carried END_STREAM (no body follows). */
function onStream(limits: Limits, stream: CallStream, headers: http2.IncomingHttpHeaders, ended: boolean): void {
  // A stream that is reset with an error code emits 'error'; unhandled it would end the process.
  stream.on('error', ignore);
  if (headers[':method'] !== 'POST') {
    httpError(limits, stream, 405, ended);
    return;
  }
  const contentType = headers['content-type'];
  if (contentType !== 'application/grpc' && contentType !== 'application/grpc+proto') {
    const subtype = grpcContentSubtype(contentType);
    if (subtype === undefined) {
      httpError(limits, stream, 415, ended);
      return;
    }
    if (subtype !== '' && subtype !== 'proto') {
      fail(limits, stream, undefined, GrpcStatus.INTERNAL, `no codec for content-subtype ${subtype.slice(0, 40)}`, ended);
      return;
    }
  }
  if (headers[':path'] !== CHECK_PATH) {
    fail(limits, stream, undefined, GrpcStatus.UNIMPLEMENTED, `unknown method ${String(headers[':path']).slice(0, 200)}`, ended);
    return;
  }
  const call = new UnaryCall(limits);
  const timeout = headers['grpc-timeout'];
  if (timeout !== undefined) {
    const ms = typeof timeout === 'string' ? parseGrpcTimeout(timeout) : -1;
    if (ms < 0) {
      fail(limits, stream, undefined, GrpcStatus.INTERNAL, `malformed grpc-timeout ${String(timeout).slice(0, 20)}`, ended);
      return;
    }
    call.deadline = performance.now() + ms;
  }
  const encoding = headers['grpc-encoding'];
  if (typeof encoding === 'string') call.encoding = encoding;
  stream[kCall] = call;
  stream.on('data', onData);
  stream.on('end', onEnd);
}

// Stream listeners are module functions (`this` is the stream, the call state
// hangs off it): no closure is allocated per call.
function onData(this: CallStream, chunk: Buffer): void {
  const call = this[kCall];
  if (call !== undefined && !call.done) receive(call, this, chunk);
}

function onEnd(this: CallStream): void {
  const call = this[kCall];
  if (call !== undefined && !call.done) endOfRequest(call, this);
}

/**
 * The content-subtype of a gRPC content-type: "" for application/grpc, "proto"
 * for application/grpc+proto (parameters and case ignored); undefined when the
 * content type is not gRPC at all.
 */
export function grpcContentSubtype(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type === 'application/grpc') return '';
  if (type.startsWith('application/grpc+')) return type.slice('application/grpc+'.length);
  return undefined;
}

/** grpc-timeout ("1-8 digits" + H|M|S|m|u|n) in ms; -1 when malformed. */
export function parseGrpcTimeout(text: string): number {
  const n = text.length;
  if (n < 2 || n > 9) return -1;
  let value = 0;
  for (let i = 0; i < n - 1; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  switch (text.charCodeAt(n - 1)) {
    case 72: return value * 3_600_000; // H
    case 77: return value * 60_000; // M
    case 83: return value * 1000; // S
    case 109: return value; // m
    case 117: return value / 1000; // u
    case 110: return value / 1_000_000; // n
    default: return -1;
  }
}

/** One read of request body bytes. */
function receive(call: UnaryCall, stream: CallStream, chunk: Buffer): void {
  const limits = call.limits;
  const n = chunk.length;
  let off = 0;
  while (off < n) {
    if (call.message !== undefined) {
      fail(limits, stream, call, CARDINALITY_STATUS, 'unary call carries more than one request message', false);
      return;
    }
    if (call.length < 0) {
      let flag: number;
      let length: number;
      if (call.headFilled === 0 && n - off >= 5) {
        flag = chunk[off] ?? 0;
        length = chunk.readUInt32BE(off + 1);
        off += 5;
      } else {
        call.head ??= Buffer.allocUnsafe(5);
        const take = Math.min(5 - call.headFilled, n - off);
        chunk.copy(call.head, call.headFilled, off, off + take);
        call.headFilled += take;
        off += take;
        if (call.headFilled < 5) break;
        flag = call.head[0] ?? 0;
        length = call.head.readUInt32BE(1);
      }
      if (flag > 1) {
        fail(limits, stream, call, GrpcStatus.INTERNAL, `invalid message header: flag byte ${flag}`, false);
        return;
      }
      if (length > limits.hardCap) {
        fail(limits, stream, call, GrpcStatus.RESOURCE_EXHAUSTED, `request message of ${length} bytes exceeds the limit of ${limits.hardCap}`, false);
        return;
      }
      call.compressed = flag === 1;
      call.length = length;
      if (n - off >= length) {
        // The whole message is in this read (the usual case): no copy.
        call.message = chunk.subarray(off, off + length);
        off += length;
        continue;
      }
      call.buffer = Buffer.allocUnsafe(Math.min(length, PREALLOCATE_MAX));
      call.filled = 0;
    }
    const buffer = call.buffer;
    if (buffer === undefined) return; // unreachable: length known and message incomplete
    const take = Math.min(call.length - call.filled, n - off);
    let target = buffer;
    if (call.filled + take > buffer.length) {
      target = Buffer.allocUnsafe(Math.min(call.length, Math.max(2 * buffer.length, call.filled + take)));
      buffer.copy(target, 0, 0, call.filled);
      call.buffer = target;
    }
    chunk.copy(target, call.filled, off, off + take);
    call.filled += take;
    off += take;
    if (call.filled === call.length) {
      call.message = target;
      call.buffer = undefined;
    }
  }
  if (call.message === undefined && call.deadline !== Infinity && call.timer === undefined) {
    const left = call.deadline - performance.now();
    call.timer = setTimeout(deadlineReached, left > 0 ? Math.ceil(left) : 0, stream);
    call.timer.unref();
  }
}

function deadlineReached(stream: CallStream): void {
  const call = stream[kCall];
  if (call === undefined || call.done) return;
  call.timer = undefined;
  fail(call.limits, stream, call, GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded', false);
}

/** The client half-closed: exactly one complete message must have arrived. */
function endOfRequest(call: UnaryCall, stream: CallStream): void {
  const limits = call.limits;
  call.done = true;
  if (call.timer !== undefined) {
    clearTimeout(call.timer);
    call.timer = undefined;
  }
  const message = call.message;
  if (message === undefined) {
    if (call.length < 0 && call.headFilled === 0) fail(limits, stream, call, CARDINALITY_STATUS, 'unary call without a request message', true);
    else fail(limits, stream, call, GrpcStatus.INTERNAL, 'request message truncated', true);
    return;
  }
  if (call.deadline !== Infinity && performance.now() >= call.deadline) {
    fail(limits, stream, call, GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded', true);
    return;
  }
  if (!call.compressed) {
    answer(limits, stream, message);
    return;
  }
  inflate(limits, stream, call, message);
}

/** Compressed messages (rare: Envoy does not compress) are inflated off the event loop, bounded by the hard cap. */
function inflate(limits: Limits, stream: CallStream, call: UnaryCall, message: Uint8Array): void {
  const encoding = call.encoding;
  if (encoding === undefined || encoding === 'identity') {
    fail(limits, stream, call, GrpcStatus.INTERNAL, 'compressed message without grpc-encoding', true);
    return;
  }
  if (encoding !== 'gzip' && encoding !== 'deflate') {
    fail(limits, stream, call, GrpcStatus.UNIMPLEMENTED, `message compressed with unsupported encoding "${encoding.slice(0, 40)}"`, true, true);
    return;
  }
  const done = (err: Error | null, out: Buffer): void => {
    if (err !== null) {
      const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      fail(limits, stream, call, tooLarge ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.INTERNAL,
        tooLarge ? `request message inflates beyond the limit of ${limits.hardCap} bytes` : `cannot inflate the request message (${encoding})`, true);
      return;
    }
    if (call.deadline !== Infinity && performance.now() >= call.deadline) {
      fail(limits, stream, call, GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded', true);
      return;
    }
    limits.stats.compressed++;
    answer(limits, stream, out);
  };
  const options = { maxOutputLength: limits.hardCap };
  if (encoding === 'gzip') zlib.gunzip(message, options, done);
  else zlib.inflate(message, options, done);
}

function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

/** The handler's answer: HEADERS, one length-prefixed CheckResponse, trailers grpc-status 0. */
function answer(limits: Limits, stream: CallStream, message: Uint8Array): void {
  // A client that reset the stream is not answered (nor decided for: grpc-js did not call the handler either).
  if (stream.destroyed || stream.closed) return;
  limits.stats.checks++;
  let response: Uint8Array;
  try {
    response = toBinary(CheckResponseSchema, limits.handler(message));
  } catch {
    response = FALLBACK_DENY;
  }
  const frame = Buffer.allocUnsafe(5 + response.length);
  frame[0] = 0;
  frame.writeUInt32BE(response.length, 1);
  frame.set(response, 5);
  try {
    // 'on', not 'once': the stream is used once, and once() allocates a wrapper per call.
    stream.on('wantTrailers', sendOkTrailers);
    stream.respond(OK_HEADERS, WAIT_FOR_TRAILERS);
    stream.end(frame);
  } catch {
    abandon(stream);
  }
}

/**
 * After a write that threw: the stream went away meanwhile (nothing to do), or
 * node refused the response, and then the stream is reset rather than left
 * open with the client waiting.
 */
function abandon(stream: CallStream): void {
  try {
    if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  } catch {
    stream.destroy();
  }
}

/**
 * Trailers-only error response. `requestEnded` false means the client may
 * still be sending: the stream is then reset with NO_ERROR after the response
 * (RFC 9113 §8.1), so its body is neither buffered nor waited for (a reset
 * that crosses the client's END_STREAM is ignored by the client). node:http2
 * does this by itself only for a stream whose body was never read.
 * `acceptEncoding` adds grpc-accept-encoding (for an unsupported encoding).
 */
function fail(limits: Limits, stream: CallStream, call: UnaryCall | undefined, status: number, message: string, requestEnded: boolean, acceptEncoding = false): void {
  if (call !== undefined) {
    call.done = true;
    call.buffer = undefined;
    if (call.timer !== undefined) {
      clearTimeout(call.timer);
      call.timer = undefined;
    }
  }
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  limits.stats.grpcErrors++;
  const headers: http2.OutgoingHttpHeaders = {
    ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(status), 'grpc-message': percentEncode(message),
  };
  if (acceptEncoding) headers['grpc-accept-encoding'] = ACCEPT_ENCODING;
  try {
    stream.respond(headers, END_STREAM);
    if (!requestEnded) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  } catch {
    abandon(stream);
  }
}

function httpError(limits: Limits, stream: CallStream, status: 405 | 415, requestEnded: boolean): void {
  limits.stats.httpErrors++;
  try {
    stream.respond(status === 405 ? { ':status': 405, allow: 'POST' } : { ':status': 415 }, END_STREAM);
    if (!requestEnded) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  } catch {
    abandon(stream);
  }
}

/**
 * grpc-message encoding (PROTOCOL-HTTP2.md): UTF-8, then every byte outside
 * 0x20-0x7E, and '%', as %XX.
 */
export function percentEncode(text: string): string {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return text;
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    out += b < 0x20 || b > 0x7e || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}

/** Binds "host:port" (port 0: any free one; [v6]:port) or "unix:/path"; resolves with the bound address. */
function listenOn(server: http2.Http2Server, listen: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const failed = (e: Error): void => {
      reject(new Error(`ext_authz: cannot listen on ${listen}: ${e.message}`, { cause: e }));
    };
    server.once('error', failed);
    if (listen.startsWith('unix:')) {
      const path = listen.slice('unix:'.length);
      rmSync(path, { force: true });
      server.listen(path, () => {
        server.off('error', failed);
        resolve(listen);
      });
      return;
    }
    const colon = listen.lastIndexOf(':');
    const host = colon < 0 ? '' : listen.slice(0, colon);
    const portText = listen.slice(colon + 1);
    const port = Number(portText);
    if (colon < 0 || !/^[0-9]{1,5}$/.test(portText) || port > 65535) {
      server.off('error', failed);
      reject(new Error(`ext_authz: cannot listen on ${listen}: expected host:port or unix:/path`));
      return;
    }
    const bindHost = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    server.listen(port, bindHost === '' ? undefined : bindHost, () => {
      server.off('error', failed);
      resolve(`${host}:${(server.address() as AddressInfo).port}`);
    });
  });
}
