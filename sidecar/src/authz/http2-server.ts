// The ext_authz Check served on our own HTTP/2 framing (h2/connection.ts, over
// net.Socket) with HPACK (h2/hpack.ts): gRPC framing, status and deadlines
// done here, the CheckResponse written straight to wire bytes
// (response-wire.ts). No grpc-js and no node:http2 on the hot path.
//
// Why: grpc-js spends a large share of the sidecar's CPU per Check on per-call
// machinery this one unary method never uses (interceptors, metadata objects,
// read queues, promises, per-call timers), and node:http2, which served Check
// here before (commit a22e42f has it), spent much of it in its stream objects,
// header objects and nghttp2 callbacks. This server does only what the gRPC over
// HTTP/2 protocol (PROTOCOL-HTTP2.md) asks of a unary call. It is tested
// against grpc-js clients, raw node:http2 clients sending what broken or hostile
// peers send, h2load (sidecar/test/http2-server.test.ts) and h2spec, the HTTP/2
// conformance suite (sidecar/test/h2spec.test.ts). grpc-js stays available in
// server.ts (impl: 'grpc-js') as a fallback.
//
// `make bench-impls` measures this server against --grpc-impl grpc-js: the
// whole sidecar as a process (bench/peers/agentwarden policy and pod, audit
// spans exported over OTLP http/protobuf to a local sink), h2load -c4 -m16 -t1
// for 2 s per request class of the bench mix, 6 alternated rounds, CPU per
// request from /proc/<pid>/stat. One run (2026-12-05, Node 24.21, load average
// 11-13 on the shared 2-core machine): 15,867 req/s against 4,065 (3.72× per
// round, 2.56-13.12), CPU per request 27.8 µs against 113.7 (grpc-js uses
// 4.22×, 3.69-8.15).
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
//   Across calls and connections, the messages being assembled from several
//   reads share one budget of one hard cap; a call whose next bytes would pass
//   it is refused with RESOURCE_EXHAUSTED and reset the same way (see Budget).
// - Compression (compression.md): a message with the compressed flag is
//   inflated with node:zlib when grpc-encoding is gzip or deflate, its output
//   bounded by the hard cap (beyond: RESOURCE_EXHAUSTED, as grpc-js) and held
//   against the same shared budget as messages being received (a call whose
//   inflated bytes would pass it is refused the same way); any other
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
//   resets the stream) and to the connection's end. Already expired (e.g.
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
// - Stream and connection errors, client resets and garbage never throw out
//   of here; a client that resets simply gets nothing. HTTP/2 protocol errors
//   are answered as RFC 9113 says (RST_STREAM or GOAWAY, h2/connection.ts).
// - Not served: server reflection, health checking, metadata to the handler
//   (Envoy's ext_authz sends none that matters), response compression.
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { CheckHandler } from './handler.js';
import { encodeCheckResponse } from './response-wire.js';
import { H2Connection, H2Stream, newConnectionCounters, type StreamOwner } from './h2/connection.js';
import { encodeHeaderBlock } from './h2/hpack.js';
import type { RequestHeaders } from './h2/request-headers.js';
import { GRPC_STATUS_NAMES, type AuthzLimit, type AuthzServer, type AuthzServerStats } from './server-api.js';
const net = process.getBuiltinModule('node:net');
const { rmSync } = process.getBuiltinModule('node:fs');

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
/** SETTINGS_MAX_HEADER_LIST_SIZE: Envoy's ext_authz request headers are a few hundred bytes. */
export const MAX_HEADER_LIST_SIZE = 64 * 1024;
/** Largest buffer allocated up front from a message's announced length; larger messages grow as their bytes arrive. */
export const PREALLOCATE_MAX = 256 * 1024;
/** close(): in-flight calls get this long after GOAWAY before their connections are destroyed. */
export const CLOSE_GRACE_MS = 5000;

/** The counters this server keeps itself (the connections keep theirs, h2/connection.ts). */
interface Counters {
  checks: number;
  compressed: number;
  /** By gRPC status code. */
  readonly grpcErrors: number[];
  readonly httpErrors: Record<'405' | '415', number>;
  readonly limitsHit: Record<'message-size' | 'buffer' | 'inflated-size', number>;
}

// Header blocks of every successful answer, HPACK-encoded once.
const OK_HEADERS = encodeHeaderBlock([[':status', '200'], ['content-type', 'application/grpc']]);
const OK_TRAILERS = encodeHeaderBlock([['grpc-status', '0']]);
const HTTP_405 = encodeHeaderBlock([[':status', '405'], ['allow', 'POST']]);
const HTTP_415 = encodeHeaderBlock([[':status', '415']]);
const ACCEPT_ENCODING = 'identity,deflate,gzip';

/** A deny for the case the handler breaks its promise and throws. */
const FALLBACK_DENY = encodeCheckResponse({
  allowed: false, mode: 'Enforce', policy: '', rule: 'internal-error', reason: 'agentwarden: internal error while deciding',
  auditDecision: null, headers: [], request: undefined,
}, '');

interface Limits {
  readonly handler: CheckHandler;
  readonly hardCap: number;
  readonly counters: Counters;
  readonly budget: Budget;
}

/**
 * Request messages being assembled from several reads, across every connection
 * of the server: bytes held and the most there may be. Each call is bounded by
 * the hard cap already, but a client opening many calls and sending part of a
 * large message on each could otherwise make the sidecar hold calls × hard cap.
 * A call whose next bytes would pass the budget is refused (RESOURCE_EXHAUSTED);
 * the others go on. Messages that arrive in one read are not copied and not
 * counted. Inflated messages are counted as their bytes come out of zlib.
 */
interface Budget {
  held: number;
  readonly max: number;
}

/** One unary call: the HTTP/2 stream with the gRPC call state on it. */
class CallStream extends H2Stream {
  /** Not a Check call (refused at open): later events are ignored. */
  refused = false;
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
  /** Bytes of the budget this call holds (its message buffer). */
  reserved = 0;
  timer: NodeJS.Timeout | undefined = undefined;
  limits!: Limits;
}

/**
 * Serves Check on `listen` ("host:port" or "unix:/path") over h2c with prior
 * knowledge, as Envoy's envoy_grpc client and grpc-js clients speak it.
 * Messages up to 4 × `maxRequestBytes` reach the handler (which denies those
 * over `maxRequestBytes` in-band); larger ones are refused.
 */
export async function startHttp2AuthzServer(listen: string, handler: CheckHandler, maxRequestBytes: number): Promise<AuthzServer> {
  const counters: Counters = {
    checks: 0, compressed: 0, grpcErrors: new Array<number>(GRPC_STATUS_NAMES.length).fill(0),
    httpErrors: { 405: 0, 415: 0 }, limitsHit: { 'message-size': 0, buffer: 0, 'inflated-size': 0 },
  };
  const connectionCounters = newConnectionCounters();
  const hardCap = Math.min(4 * maxRequestBytes, 2 ** 31 - 1);
  const limits: Limits = { handler, hardCap, counters, budget: { held: 0, max: hardCap } };
  const connections = new Set<H2Connection<CallStream>>();
  const newStream = (connection: StreamOwner, id: number): CallStream => {
    const s = new CallStream(connection, id);
    s.limits = limits;
    return s;
  };
  const server = net.createServer({ noDelay: true }, (socket) => {
    const connection = new H2Connection<CallStream>(socket, EVENTS, newStream, { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: MAX_HEADER_LIST_SIZE }, connectionCounters);
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  });
  const address = await listenOn(server, listen);
  // After listening, an 'error' (e.g. EMFILE on accept) must not crash the sidecar.
  server.on('error', ignore);
  return {
    address,
    stats: (): AuthzServerStats => ({
      checks: counters.checks,
      compressed: counters.compressed,
      grpcErrors: [...counters.grpcErrors],
      httpErrors: { ...counters.httpErrors, 431: connectionCounters.headersTooLarge },
      limitsHit: {
        ...counters.limitsHit,
        'concurrent-streams': connectionCounters.streamsRefused,
        'header-list-size': connectionCounters.headersTooLarge,
      } satisfies Record<AuthzLimit, number>,
      connectionErrors: connectionCounters.connectionErrors,
      bufferedBytes: limits.budget.held,
      bufferLimitBytes: limits.budget.max,
    }),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const c of connections) c.close();
      if (connections.size > 0) {
        setTimeout(() => { for (const c of connections) c.destroy(); }, CLOSE_GRACE_MS).unref();
      }
    }),
  };
}

function ignore(): void { /* see the callers */ }

const EVENTS = {
  open: onOpen,
  data(stream: CallStream, chunk: Buffer): void {
    if (!stream.refused) receive(stream, chunk);
  },
  end(stream: CallStream): void {
    if (!stream.refused) endOfRequest(stream);
  },
  abort(stream: CallStream): void {
    clearCall(stream);
  },
};

/** The request headers: a Check call, or an answer at once. `ended`: no body follows. */
function onOpen(stream: CallStream, headers: RequestHeaders, ended: boolean): void {
  if (headers.method !== 'POST') {
    httpError(stream, 405);
    return;
  }
  const contentType = headers.contentType;
  if (contentType !== 'application/grpc' && contentType !== 'application/grpc+proto') {
    const subtype = grpcContentSubtype(contentType);
    if (subtype === undefined) {
      httpError(stream, 415);
      return;
    }
    if (subtype !== '' && subtype !== 'proto') {
      fail(stream, GrpcStatus.INTERNAL, `no codec for content-subtype ${subtype.slice(0, 40)}`);
      return;
    }
  }
  if (headers.path !== CHECK_PATH) {
    fail(stream, GrpcStatus.UNIMPLEMENTED, `unknown method ${headers.path.slice(0, 200)}`);
    return;
  }
  const timeout = headers.grpcTimeout;
  if (timeout !== undefined) {
    const ms = parseGrpcTimeout(timeout);
    if (ms < 0) {
      fail(stream, GrpcStatus.INTERNAL, `malformed grpc-timeout ${timeout.slice(0, 20)}`);
      return;
    }
    stream.deadline = performance.now() + ms;
  }
  stream.encoding = headers.grpcEncoding;
  if (ended) endOfRequest(stream);
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
function receive(call: CallStream, chunk: Buffer): void {
  const limits = call.limits;
  const n = chunk.length;
  let off = 0;
  while (off < n) {
    if (call.message !== undefined) {
      fail(call, CARDINALITY_STATUS, 'unary call carries more than one request message');
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
        fail(call, GrpcStatus.INTERNAL, `invalid message header: flag byte ${flag}`);
        return;
      }
      if (length > limits.hardCap) {
        limits.counters.limitsHit['message-size']++;
        fail(call, GrpcStatus.RESOURCE_EXHAUSTED, `request message of ${length} bytes exceeds the limit of ${limits.hardCap}`);
        return;
      }
      call.compressed = flag === 1;
      call.length = length;
      if (n - off >= length) {
        // The whole message is in this read (the usual case): no copy. The
        // chunk is the socket's own buffer, never reused by it.
        call.message = chunk.subarray(off, off + length);
        off += length;
        continue;
      }
      const size = Math.min(length, PREALLOCATE_MAX);
      if (!reserve(call, size)) return;
      call.buffer = Buffer.allocUnsafe(size);
      call.filled = 0;
    }
    const buffer = call.buffer;
    if (buffer === undefined) return; // unreachable: length known and message incomplete
    const take = Math.min(call.length - call.filled, n - off);
    let target = buffer;
    if (call.filled + take > buffer.length) {
      const size = Math.min(call.length, Math.max(2 * buffer.length, call.filled + take));
      if (!reserve(call, size - buffer.length)) return;
      target = Buffer.allocUnsafe(size);
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
    call.timer = setTimeout(deadlineReached, left > 0 ? Math.ceil(left) : 0, call);
    call.timer.unref();
  }
}

/** Takes `bytes` more of the server's budget for this call's message; refuses the call when it would pass the budget. */
function reserve(call: CallStream, bytes: number): boolean {
  const budget = call.limits.budget;
  if (budget.held + bytes > budget.max) {
    call.limits.counters.limitsHit.buffer++;
    fail(call, GrpcStatus.RESOURCE_EXHAUSTED, `request messages being received exceed the sidecar's buffer of ${budget.max} bytes`);
    return false;
  }
  budget.held += bytes;
  call.reserved += bytes;
  return true;
}

function release(call: CallStream): void {
  call.limits.budget.held -= call.reserved;
  call.reserved = 0;
}

function deadlineReached(call: CallStream): void {
  call.timer = undefined;
  if (!call.answered && !call.closed) fail(call, GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded');
}

/** The client half-closed: exactly one complete message must have arrived. */
function endOfRequest(call: CallStream): void {
  if (call.answered || call.closed) return;
  if (call.timer !== undefined) {
    clearTimeout(call.timer);
    call.timer = undefined;
  }
  const message = call.message;
  if (message === undefined) {
    if (call.length < 0 && call.headFilled === 0) fail(call, CARDINALITY_STATUS, 'unary call without a request message');
    else fail(call, GrpcStatus.INTERNAL, 'request message truncated');
    return;
  }
  if (call.deadline !== Infinity && performance.now() >= call.deadline) {
    fail(call, GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded');
    return;
  }
  if (!call.compressed) {
    answer(call, message);
    return;
  }
  inflate(call, message);
}

/**
 * Compressed messages (rare: Envoy does not compress) are inflated off the
 * event loop, bounded by the hard cap, and their inflated bytes are held
 * against the shared budget as they come out (a zip bomb on many calls at once
 * stops at the budget, not at calls × hard cap).
 */
function inflate(call: CallStream, message: Uint8Array): void {
  const limits = call.limits;
  const encoding = call.encoding;
  if (encoding === undefined || encoding === 'identity') {
    fail(call, GrpcStatus.INTERNAL, 'compressed message without grpc-encoding');
    return;
  }
  if (encoding !== 'gzip' && encoding !== 'deflate') {
    fail(call, GrpcStatus.UNIMPLEMENTED, `message compressed with unsupported encoding "${encoding.slice(0, 40)}"`, true);
    return;
  }
  // zlib is loaded with the first compressed message: Envoy does not compress
  // by default, and nothing else in the sidecar needs it.
  const zlib = process.getBuiltinModule('node:zlib');
  const inflater = encoding === 'gzip' ? zlib.createGunzip() : zlib.createInflate();
  const chunks: Buffer[] = [];
  let size = 0;
  // Refused (a limit, a reset, a failure): zlib is stopped and the rest ignored.
  const over = (): boolean => {
    if (!call.refused && !call.closed) return false;
    inflater.destroy();
    return true;
  };
  inflater.on('data', (chunk: Buffer) => {
    if (over()) return;
    size += chunk.length;
    if (size > limits.hardCap) {
      limits.counters.limitsHit['inflated-size']++;
      fail(call, GrpcStatus.RESOURCE_EXHAUSTED, `request message inflates beyond the limit of ${limits.hardCap} bytes`);
      over();
      return;
    }
    if (!reserve(call, chunk.length)) {
      over();
      return;
    }
    chunks.push(chunk);
  });
  inflater.on('error', () => {
    if (over()) return;
    fail(call, GrpcStatus.INTERNAL, `cannot inflate the request message (${encoding})`);
  });
  inflater.on('end', () => {
    if (over()) return;
    if (call.deadline !== Infinity && performance.now() >= call.deadline) {
      fail(call, GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded');
      return;
    }
    limits.counters.compressed++;
    // One more copy of the inflated bytes while the chunks are joined; they stay reserved until the answer.
    answer(call, chunks.length === 1 ? (chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(chunks, size));
  });
  inflater.end(message);
}

/** The handler's answer: HEADERS, one length-prefixed CheckResponse, trailers grpc-status 0. */
function answer(call: CallStream, message: Uint8Array): void {
  const limits = call.limits;
  limits.counters.checks++;
  let response: Uint8Array;
  try {
    response = limits.handler(message);
  } catch {
    response = FALLBACK_DENY;
  }
  release(call);
  const frame = Buffer.allocUnsafe(5 + response.length);
  frame[0] = 0;
  frame.writeUInt32BE(response.length, 1);
  frame.set(response, 5);
  call.respond(OK_HEADERS, frame, OK_TRAILERS);
}

function clearCall(call: CallStream): void {
  call.refused = true;
  call.buffer = undefined;
  call.message = undefined;
  release(call);
  if (call.timer !== undefined) {
    clearTimeout(call.timer);
    call.timer = undefined;
  }
}

/**
 * Trailers-only error response. A client still sending is then told to stop
 * (RST_STREAM NO_ERROR, RFC 9113 §8.1, done by the connection), so its body is
 * neither buffered nor waited for. `acceptEncoding` adds grpc-accept-encoding
 * (for an unsupported encoding).
 */
function fail(call: CallStream, status: number, message: string, acceptEncoding = false): void {
  clearCall(call);
  if (call.answered || call.closed) return;
  call.limits.counters.grpcErrors[status] = (call.limits.counters.grpcErrors[status] ?? 0) + 1;
  const fields: Array<[string, string]> = [
    [':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', String(status)], ['grpc-message', percentEncode(message)],
  ];
  if (acceptEncoding) fields.push(['grpc-accept-encoding', ACCEPT_ENCODING]);
  call.respond(encodeHeaderBlock(fields));
}

function httpError(call: CallStream, status: 405 | 415): void {
  clearCall(call);
  call.limits.counters.httpErrors[status]++;
  call.respond(status === 405 ? HTTP_405 : HTTP_415);
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
function listenOn(server: NetServer, listen: string): Promise<string> {
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
