// One server-side HTTP/2 connection over a net.Socket (h2c with prior
// knowledge, RFC 9113 §3.3), reduced to what a unary gRPC server needs: it
// reads frames, keeps HPACK and flow-control state, checks the protocol rules
// a peer can break, and hands each request stream to the caller as three
// events (open, data, end) plus abort. Responses are pre-encoded header blocks
// and one body, written with as few allocations and socket writes as possible.
//
// Why not node:http2: its per-stream machinery (a Duplex per stream, header
// objects, nextTick hops, nghttp2 callbacks into JS) cost more CPU per call
// than the decision itself when it served Check. This file does the same
// protocol work without it. See ../http2-server.ts for what `make bench-impls`
// measures against grpc-js and the tests that hold it to the protocol (h2spec,
// node:http2, grpc-js and h2load clients).
//
// Not supported, deliberately: server push (a gRPC server sends none), stream
// priorities (ignored, as RFC 9113 §5.3.2 allows), TLS (the sidecar serves
// Envoy on a Unix socket or loopback), HTTP/1.1 upgrade.
import type { Socket } from 'node:net';
import {
  CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, ErrorCode, FRAME_HEADER_LENGTH, Flag, FrameType, MAX_FRAME_SIZE_LIMIT, MAX_WINDOW, Setting,
  goawayFrame, rstStreamFrame, settingsFrame, windowUpdateFrame, writeFrameHeader,
} from './frames.js';
import { HpackDecoder, HpackError, encodeTableSizeUpdate } from './hpack.js';
import { RequestHeaderSink, type RequestHeaders } from './request-headers.js';
import { StreamTable } from './stream-table.js';

export interface ConnectionLimits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams beyond it are refused (REFUSED_STREAM). */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: larger request headers get HTTP 431. */
  readonly maxHeaderListSize: number;
}

/** What the connections of one server count: limits hit and errors, for metrics. Shared by the connections. */
export interface ConnectionCounters {
  /** Connections ended with GOAWAY and an error code (a peer that broke the protocol, or an internal error). */
  connectionErrors: number;
  /** Streams refused because maxConcurrentStreams were open (REFUSED_STREAM). */
  streamsRefused: number;
  /** Requests answered 431 because their header list passed maxHeaderListSize. */
  headersTooLarge: number;
}

export function newConnectionCounters(): ConnectionCounters {
  return { connectionErrors: 0, streamsRefused: 0, headersTooLarge: 0 };
}

/** What the gRPC layer is told. Each is called synchronously from the socket's data event. */
export interface StreamEvents<S extends H2Stream> {
  /** A request's headers; `endStream`: no body follows. `headers` is only valid during the call. */
  open(stream: S, headers: RequestHeaders, endStream: boolean): void;
  /** Request body bytes (a view of the socket's buffer: copy what must outlive a later read). */
  data(stream: S, chunk: Buffer): void;
  /** The client half-closed the stream. */
  end(stream: S): void;
  /** The stream ended without an answer: the client reset it, or the connection went away. */
  abort(stream: S): void;
}

/** Receive windows: the connection's is raised at once so that large CheckRequests need no round trip per 64 KiB. */
const CONNECTION_WINDOW = 1 << 20;
/** A WINDOW_UPDATE is sent once this much of a window has been consumed. */
const CONNECTION_UPDATE_AT = CONNECTION_WINDOW / 2;
const STREAM_UPDATE_AT = DEFAULT_WINDOW >>> 1;
/** A header block (HEADERS + CONTINUATION) larger than this ends the connection: its HPACK state cannot be kept. */
const MAX_HEADER_BLOCK = 256 * 1024;
/** Reading from the socket pauses while more than this is queued for writing (a peer that does not read). */
const OUTPUT_HIGH_WATER = 1 << 20;
/** How many recently closed stream ids are remembered, to tell "closed" from "never opened" (§5.1, §5.1.1). */
const CLOSED_RING = 256;
/** How a stream ends on this side (see finish). */
const Finish = { CLOSED: 0, STOP_SENDING: 1, RESET: 2 } as const;
type Finish = (typeof Finish)[keyof typeof Finish];
/** A closed stream the server reset itself: late frames on it are ignored (§5.1 "closed"). */
const RESET_BY_US = 0x8000_0000;

/** The connection as its streams see it. */
export interface StreamOwner {
  readonly peerInitialWindow: number;
  send(stream: H2Stream, headerBlock: Buffer, body: Buffer | undefined, trailerBlock: Buffer | undefined): void;
  resetStream(stream: H2Stream, code: number): void;
}

/** A request stream. The gRPC layer subclasses it to hang its call state on it without another object. */
export class H2Stream {
  /** Flow-control window for what this side sends. */
  sendWindow: number;
  /** Flow-control window the peer may still send into, and how much of it to hand back. */
  recvWindow = DEFAULT_WINDOW;
  recvUnacked = 0;
  /** Body bytes received (without padding), checked against content-length. */
  received = 0;
  contentLength = -1;
  /** The client sent END_STREAM. */
  remoteEnded = false;
  /** The answer has been committed (possibly still waiting for flow-control window). */
  answered = false;
  /** Gone: answered and closed, or reset by either side. */
  closed = false;
  /** Body and trailers waiting for flow-control window. */
  queuedBody: Buffer | undefined = undefined;
  queuedTrailers: Buffer | undefined = undefined;

  constructor(readonly connection: StreamOwner, readonly id: number) {
    this.sendWindow = connection.peerInitialWindow;
  }

  /**
   * Answers the stream: `headerBlock` (HPACK, already encoded), then `body` as
   * DATA and `trailerBlock`; with neither body nor trailers the HEADERS frame
   * ends the stream (a trailers-only or plain HTTP answer). Ignored once answered.
   */
  respond(headerBlock: Buffer, body?: Buffer, trailerBlock?: Buffer): void {
    if (this.answered || this.closed) return;
    this.answered = true;
    this.connection.send(this, headerBlock, body, trailerBlock);
  }
}

export class H2Connection<S extends H2Stream = H2Stream> implements StreamOwner {
  peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private sendWindow = DEFAULT_WINDOW;
  private recvWindow = CONNECTION_WINDOW;
  private recvUnacked = 0;

  private readonly streams: StreamTable<S>;
  private readonly blocked: S[] = [];
  private lastStreamId = 0;
  private readonly closedIds = new Uint32Array(CLOSED_RING);
  private closedNext = 0;

  private readonly decoder = new HpackDecoder();
  private readonly sink = new RequestHeaderSink();
  /** A header block being continued (HEADERS without END_HEADERS). */
  private blockStream = 0;
  private blockEndStream = false;
  private blockPriorityError = false;
  private blockParts: Buffer[] = [];
  private blockBytes = 0;

  /**
   * The peer set SETTINGS_HEADER_TABLE_SIZE: the next header block this side
   * sends starts with a dynamic table size update (RFC 7541 §4.2; decoders
   * built on nghttp2 insist when the size went down). This encoder never
   * uses the dynamic table, so the update is always to 0.
   */
  private tableSizeUpdate = false;
  private prefaceSeen = 0;
  private settingsSeen = false;
  private partial: Buffer | undefined = undefined;
  private out: Buffer[] = [];
  private inRead = false;
  private paused = false;
  /** The last stream this side will serve (GOAWAY sent); Infinity while open. */
  private acceptUpTo = Infinity;
  private peerGone = false;
  private dead = false;

  constructor(
    private readonly socket: Socket,
    private readonly events: StreamEvents<S>,
    private readonly newStream: (connection: StreamOwner, id: number) => S,
    private readonly limits: ConnectionLimits,
    private readonly counters: ConnectionCounters = newConnectionCounters(),
  ) {
    this.streams = new StreamTable<S>(2 * limits.maxConcurrentStreams);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      // A bug here must cost this connection, not the sidecar: Envoy's retry
      // gets a fresh one, and a crash would take every decision down.
      try {
        this.onRead(chunk);
      } catch {
        this.connectionError(ErrorCode.INTERNAL_ERROR, 'internal error');
      }
    });
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => { /* 'close' follows */ });
    socket.on('close', () => this.onClose());
    this.out.push(
      settingsFrame([[Setting.MAX_CONCURRENT_STREAMS, limits.maxConcurrentStreams], [Setting.MAX_HEADER_LIST_SIZE, limits.maxHeaderListSize], [Setting.ENABLE_PUSH, 0]]),
      windowUpdateFrame(0, CONNECTION_WINDOW - DEFAULT_WINDOW),
    );
    this.flush();
  }

  /** Graceful close: GOAWAY, serve what is in flight, then end the socket. */
  close(): void {
    if (this.dead || this.acceptUpTo !== Infinity) return;
    this.acceptUpTo = this.lastStreamId;
    this.write(goawayFrame(this.lastStreamId, ErrorCode.NO_ERROR));
    this.endIfIdle();
  }

  destroy(): void {
    this.socket.destroy();
  }

  // ---------------------------------------------------------------------------
  // Reading

  private onRead(chunk: Buffer): void {
    if (this.dead) return;
    let buf = chunk;
    let off = 0;
    if (this.partial !== undefined) {
      buf = Buffer.concat([this.partial, chunk]);
      this.partial = undefined;
    }
    if (this.prefaceSeen < CLIENT_PREFACE.length) {
      off = this.readPreface(buf);
      if (off < 0) return;
    }
    this.inRead = true;
    const end = buf.length;
    while (end - off >= FRAME_HEADER_LENGTH && !this.dead) {
      const length = buf.readUIntBE(off, 3);
      if (length > DEFAULT_MAX_FRAME_SIZE) {
        this.connectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE`);
        break;
      }
      if (end - off < FRAME_HEADER_LENGTH + length) break;
      const start = off + FRAME_HEADER_LENGTH;
      off = start + length;
      this.onFrame(buf, buf.readUInt8(start - 6), buf.readUInt8(start - 5), buf.readUInt32BE(start - 4) & 0x7fff_ffff, start, off);
    }
    if (!this.dead && off < end) this.partial = buf.subarray(off);
    if (this.recvUnacked >= CONNECTION_UPDATE_AT && !this.dead) {
      this.out.push(windowUpdateFrame(0, this.recvUnacked));
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    this.inRead = false;
    this.flush();
  }

  /** Consumes the client preface; returns the offset after it, or -1 (need more, or the connection is done). */
  private readPreface(buf: Buffer): number {
    const need = CLIENT_PREFACE.length - this.prefaceSeen;
    const n = Math.min(need, buf.length);
    if (buf.compare(CLIENT_PREFACE, this.prefaceSeen, this.prefaceSeen + n, 0, n) !== 0) {
      // Not HTTP/2 with prior knowledge (HTTP/1.1, TLS, garbage): nothing useful can be said in its language.
      this.dead = true;
      this.socket.destroy();
      return -1;
    }
    this.prefaceSeen += n;
    return n < need ? -1 : n;
  }

  private onFrame(buf: Buffer, type: number, flags: number, id: number, start: number, end: number): void {
    if (this.blockStream !== 0 && type !== FrameType.CONTINUATION) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'header block interrupted by another frame');
      return;
    }
    if (!this.settingsSeen && type !== FrameType.SETTINGS) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'the first frame is not SETTINGS');
      return;
    }
    switch (type) {
      case FrameType.DATA: this.onDataFrame(buf, flags, id, start, end); return;
      case FrameType.HEADERS: this.onHeadersFrame(buf, flags, id, start, end); return;
      case FrameType.PRIORITY: this.onPriority(buf, id, start, end); return;
      case FrameType.RST_STREAM: this.onRstStream(id, end - start); return;
      case FrameType.SETTINGS: this.onSettings(buf, flags, id, start, end); return;
      case FrameType.PUSH_PROMISE: this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client'); return;
      case FrameType.PING: this.onPing(buf, flags, id, start, end); return;
      case FrameType.GOAWAY: this.onGoaway(id); return;
      case FrameType.WINDOW_UPDATE: this.onWindowUpdate(buf, id, start, end); return;
      case FrameType.CONTINUATION: this.onContinuation(buf, flags, id, start, end); return;
      default: return; // unknown frame types are ignored (§4.1, §5.5)
    }
  }

  private onDataFrame(buf: Buffer, flags: number, id: number, start: number, end: number): void {
    if (id === 0) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
      return;
    }
    const frameLength = end - start;
    // The whole frame, padding included, counts against flow control (§6.9.1).
    this.recvWindow -= frameLength;
    this.recvUnacked += frameLength;
    if (this.recvWindow < 0) {
      this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
      return;
    }
    let dataEnd = end;
    if ((flags & Flag.PADDED) !== 0) {
      const pad = frameLength === 0 ? -1 : buf.readUInt8(start);
      if (pad < 0 || pad >= frameLength) {
        this.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding too long');
        return;
      }
      start += 1;
      dataEnd -= pad;
    }
    if (id > this.lastStreamId) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on an idle stream');
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (!this.resetByUs(id)) this.streamError(id, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (stream.remoteEnded) {
      this.resetStream(stream, ErrorCode.STREAM_CLOSED);
      return;
    }
    stream.recvWindow -= frameLength;
    if (stream.recvWindow < 0) {
      this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    stream.received += dataEnd - start;
    if (stream.contentLength >= 0 && stream.received > stream.contentLength) {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    // END_STREAM is noted first: an answer given while reading this frame
    // then needs no RST_STREAM to stop the client.
    const ending = (flags & Flag.END_STREAM) !== 0;
    if (ending) stream.remoteEnded = true;
    if (dataEnd > start && !stream.answered) this.events.data(stream, buf.subarray(start, dataEnd));
    if (ending) {
      this.remoteEnd(stream);
      return;
    }
    if (stream.closed) return;
    stream.recvUnacked += frameLength;
    if (stream.recvUnacked >= STREAM_UPDATE_AT) {
      this.out.push(windowUpdateFrame(id, stream.recvUnacked));
      stream.recvWindow += stream.recvUnacked;
      stream.recvUnacked = 0;
    }
  }

  private onHeadersFrame(buf: Buffer, flags: number, id: number, start: number, end: number): void {
    if (id === 0 || (id & 1) === 0) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, id === 0 ? 'HEADERS on stream 0' : 'HEADERS on a server-initiated stream id');
      return;
    }
    if ((flags & Flag.PADDED) !== 0) {
      const pad = end > start ? buf.readUInt8(start) : -1;
      start += 1;
      end -= pad;
      if (pad < 0 || end < start) {
        this.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding too long');
        return;
      }
    }
    let priorityError = false;
    if ((flags & Flag.PRIORITY) !== 0) {
      if (end - start < 5) {
        this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS too short for its priority fields');
        return;
      }
      priorityError = (buf.readUInt32BE(start) & 0x7fff_ffff) === id; // depends on itself (§5.3.1)
      start += 5;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if ((flags & Flag.END_HEADERS) !== 0) {
      this.onHeaderBlock(id, endStream, priorityError, buf, start, end);
      return;
    }
    this.blockStream = id;
    this.blockEndStream = endStream;
    this.blockPriorityError = priorityError;
    this.blockParts = [Buffer.from(buf.subarray(start, end))];
    this.blockBytes = end - start;
  }

  private onContinuation(buf: Buffer, flags: number, id: number, start: number, end: number): void {
    if (this.blockStream === 0 || id !== this.blockStream) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without a header block to continue');
      return;
    }
    this.blockBytes += end - start;
    if (this.blockBytes > MAX_HEADER_BLOCK) {
      this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, `header block over ${MAX_HEADER_BLOCK} bytes`);
      return;
    }
    this.blockParts.push(Buffer.from(buf.subarray(start, end)));
    if ((flags & Flag.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.blockParts);
    this.blockStream = 0;
    this.blockParts = [];
    this.onHeaderBlock(id, this.blockEndStream, this.blockPriorityError, block, 0, block.length);
  }

  /** A complete header block: a new request, trailers, or a protocol error. */
  private onHeaderBlock(id: number, endStream: boolean, priorityError: boolean, block: Buffer, start: number, end: number): void {
    const existing = id <= this.lastStreamId ? this.streams.get(id) : undefined;
    const sink = this.sink;
    sink.reset(existing !== undefined);
    try {
      this.decoder.decode(block, start, end, sink);
    } catch (e: unknown) {
      this.connectionError(ErrorCode.COMPRESSION_ERROR, e instanceof HpackError ? e.message : 'undecodable header block');
      return;
    }
    if (id <= this.lastStreamId) {
      if (existing !== undefined) this.onTrailers(existing, endStream, priorityError);
      else if (this.resetByUs(id)) return;
      else if (this.wasClosed(id)) this.connectionError(ErrorCode.STREAM_CLOSED, 'HEADERS on a closed stream');
      else this.connectionError(ErrorCode.PROTOCOL_ERROR, 'stream id not greater than the last one opened');
      return;
    }
    this.lastStreamId = id;
    sink.complete();
    if (priorityError || sink.malformed !== '') {
      this.streamError(id, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (id > this.acceptUpTo || this.peerGone) {
      this.streamError(id, ErrorCode.REFUSED_STREAM);
      return;
    }
    if (this.streams.size >= this.limits.maxConcurrentStreams) {
      this.counters.streamsRefused++;
      this.streamError(id, ErrorCode.REFUSED_STREAM);
      return;
    }
    const stream = this.newStream(this, id);
    this.streams.add(stream);
    stream.contentLength = sink.contentLength;
    if (sink.listSize > this.limits.maxHeaderListSize) {
      this.counters.headersTooLarge++;
      stream.respond(HEADERS_TOO_LARGE);
      return;
    }
    if (endStream) {
      stream.remoteEnded = true;
      if (stream.contentLength > 0) {
        this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
        return;
      }
    }
    this.events.open(stream, sink, endStream);
  }

  private onTrailers(stream: S, endStream: boolean, priorityError: boolean): void {
    if (stream.remoteEnded) {
      this.resetStream(stream, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (!endStream || priorityError || this.sink.malformed !== '') {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    this.remoteEnd(stream);
  }

  private remoteEnd(stream: S): void {
    stream.remoteEnded = true;
    if (stream.closed) return;
    if (stream.contentLength >= 0 && stream.received !== stream.contentLength) {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (stream.answered) {
      if (stream.queuedTrailers === undefined) this.finish(stream, Finish.CLOSED);
      return;
    }
    this.events.end(stream);
  }

  private onPriority(buf: Buffer, id: number, start: number, end: number): void {
    if (id === 0) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
      return;
    }
    if (end - start !== 5) {
      this.streamErrorAny(id, ErrorCode.FRAME_SIZE_ERROR);
      return;
    }
    if ((buf.readUInt32BE(start) & 0x7fff_ffff) === id) this.streamErrorAny(id, ErrorCode.PROTOCOL_ERROR);
  }

  private onRstStream(id: number, length: number): void {
    if (length !== 4) {
      this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM of the wrong size');
      return;
    }
    if (id === 0 || id > this.lastStreamId) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, id === 0 ? 'RST_STREAM on stream 0' : 'RST_STREAM on an idle stream');
      return;
    }
    const stream = this.streams.get(id);
    if (stream !== undefined) this.finish(stream, Finish.CLOSED);
  }

  private onSettings(buf: Buffer, flags: number, id: number, start: number, end: number): void {
    if (id !== 0) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
      return;
    }
    if ((flags & Flag.ACK) !== 0) {
      if (end !== start) this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if ((end - start) % 6 !== 0) {
      this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS payload not a multiple of 6');
      return;
    }
    this.settingsSeen = true;
    for (let p = start; p < end; p += 6) {
      const value = buf.readUInt32BE(p + 2);
      switch (buf.readUInt16BE(p)) {
        case Setting.ENABLE_PUSH:
          if (value > 1) {
            this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH not 0 or 1');
            return;
          }
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) {
            this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1');
            return;
          }
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) {
              this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'a stream window above 2^31-1');
              return;
            }
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_FRAME_SIZE_LIMIT) {
            this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
            return;
          }
          this.peerMaxFrameSize = value;
          break;
        case Setting.HEADER_TABLE_SIZE:
          this.tableSizeUpdate = true;
          break;
        default:
          // MAX_CONCURRENT_STREAMS: a server opens no streams; the rest is advisory or unknown.
          break;
      }
    }
    this.out.push(SETTINGS_ACK);
    this.drainBlocked();
  }

  private onPing(buf: Buffer, flags: number, id: number, start: number, end: number): void {
    if (end - start !== 8) {
      this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING of the wrong size');
      return;
    }
    if (id !== 0) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
      return;
    }
    if ((flags & Flag.ACK) !== 0) return;
    const ack = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + 8);
    writeFrameHeader(ack, 0, 8, FrameType.PING, Flag.ACK, 0);
    buf.copy(ack, FRAME_HEADER_LENGTH, start, end);
    this.out.push(ack);
  }

  private onGoaway(id: number): void {
    if (id !== 0) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
      return;
    }
    this.peerGone = true;
    this.endIfIdle();
  }

  private onWindowUpdate(buf: Buffer, id: number, start: number, end: number): void {
    if (end - start !== 4) {
      this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE of the wrong size');
      return;
    }
    const increment = buf.readUInt32BE(start) & 0x7fff_ffff;
    if (id === 0) {
      if (increment === 0) {
        this.connectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
        return;
      }
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) {
        this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
        return;
      }
      this.drainBlocked();
      return;
    }
    if (id > this.lastStreamId) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE on an idle stream');
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return; // closed: late updates are expected (§5.1)
    if (increment === 0) {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    if (stream.queuedBody !== undefined || stream.queuedTrailers !== undefined) this.drainBlocked();
  }

  // ---------------------------------------------------------------------------
  // Writing

  /** Called by H2Stream.respond. */
  send(h2stream: H2Stream, block: Buffer, body: Buffer | undefined, trailerBlock: Buffer | undefined): void {
    const stream = h2stream as S; // streams are made by newStream
    const headerBlock = this.withTableSizeUpdate(block);
    if (body === undefined && trailerBlock === undefined) {
      this.pushHeaders(stream.id, headerBlock, true);
      this.finish(stream, stream.remoteEnded ? Finish.CLOSED : Finish.STOP_SENDING);
      this.flushOutsideRead();
      return;
    }
    const length = body?.length ?? 0;
    const trailers = trailerBlock ?? NO_TRAILERS;
    const window = Math.min(this.sendWindow, stream.sendWindow);
    if (length <= window && length <= this.peerMaxFrameSize && headerBlock.length <= this.peerMaxFrameSize && trailers.length <= this.peerMaxFrameSize) {
      // The usual answer: HEADERS, DATA, trailing HEADERS (when any) in one buffer.
      const withTrailers = trailers !== NO_TRAILERS;
      const out = Buffer.allocUnsafe((withTrailers ? 3 : 2) * FRAME_HEADER_LENGTH + headerBlock.length + length + trailers.length);
      let p = 0;
      writeFrameHeader(out, p, headerBlock.length, FrameType.HEADERS, Flag.END_HEADERS, stream.id);
      p += FRAME_HEADER_LENGTH;
      p += headerBlock.copy(out, p);
      writeFrameHeader(out, p, length, FrameType.DATA, withTrailers ? 0 : Flag.END_STREAM, stream.id);
      p += FRAME_HEADER_LENGTH;
      if (body !== undefined) p += body.copy(out, p);
      if (withTrailers) {
        writeFrameHeader(out, p, trailers.length, FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, stream.id);
        trailers.copy(out, p + FRAME_HEADER_LENGTH);
      }
      this.sendWindow -= length;
      stream.sendWindow -= length;
      this.out.push(out);
      this.finish(stream, stream.remoteEnded ? Finish.CLOSED : Finish.STOP_SENDING);
      this.flushOutsideRead();
      return;
    }
    this.pushHeaders(stream.id, headerBlock, false);
    stream.queuedBody = body ?? Buffer.alloc(0);
    stream.queuedTrailers = trailers;
    this.blocked.push(stream);
    this.drainBlocked();
    this.flushOutsideRead();
  }

  /** Resets a stream: RST_STREAM, and the gRPC layer is told if it had not answered. */
  resetStream(h2stream: H2Stream, code: number): void {
    const stream = h2stream as S;
    if (stream.closed) return;
    this.out.push(rstStreamFrame(stream.id, code));
    this.finish(stream, Finish.RESET);
    this.flushOutsideRead();
  }

  private withTableSizeUpdate(block: Buffer): Buffer {
    if (!this.tableSizeUpdate) return block;
    this.tableSizeUpdate = false;
    return Buffer.concat([TABLE_SIZE_ZERO, block]);
  }

  /** A header block as HEADERS (+ CONTINUATION when larger than the peer's frame size). */
  private pushHeaders(id: number, headerBlock: Buffer, endStream: boolean): void {
    const block = this.withTableSizeUpdate(headerBlock);
    const max = this.peerMaxFrameSize;
    let off = 0;
    let type: number = FrameType.HEADERS;
    do {
      const n = Math.min(max, block.length - off);
      const last = off + n === block.length;
      const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + n);
      const flags = (last ? Flag.END_HEADERS : 0) | (type === FrameType.HEADERS && endStream ? Flag.END_STREAM : 0);
      writeFrameHeader(out, 0, n, type, flags, id);
      block.copy(out, FRAME_HEADER_LENGTH, off, off + n);
      this.out.push(out);
      off += n;
      type = FrameType.CONTINUATION;
    } while (off < block.length);
  }

  /** Sends what flow control now allows of the answers waiting for window. */
  private drainBlocked(): void {
    let i = 0;
    while (i < this.blocked.length) {
      const stream = this.blocked[i];
      if (stream === undefined) break;
      const body = stream.queuedBody;
      if (stream.closed || body === undefined) {
        this.blocked.splice(i, 1);
        continue;
      }
      let off = 0;
      while (off < body.length) {
        const n = Math.min(body.length - off, this.sendWindow, stream.sendWindow, this.peerMaxFrameSize);
        if (n <= 0) break;
        const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + n);
        writeFrameHeader(out, 0, n, FrameType.DATA, 0, stream.id);
        body.copy(out, FRAME_HEADER_LENGTH, off, off + n);
        this.out.push(out);
        this.sendWindow -= n;
        stream.sendWindow -= n;
        off += n;
      }
      if (off < body.length) {
        stream.queuedBody = body.subarray(off);
        i++;
        continue;
      }
      const trailers = stream.queuedTrailers ?? NO_TRAILERS;
      stream.queuedBody = undefined;
      stream.queuedTrailers = undefined;
      if (trailers === NO_TRAILERS) {
        // No trailers: an empty DATA frame ends the stream.
        const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
        writeFrameHeader(out, 0, 0, FrameType.DATA, Flag.END_STREAM, stream.id);
        this.out.push(out);
      } else {
        this.pushHeaders(stream.id, trailers, true);
      }
      this.blocked.splice(i, 1);
      this.finish(stream, stream.remoteEnded ? Finish.CLOSED : Finish.STOP_SENDING);
    }
  }

  /**
   * The stream is done on this side. `how`: CLOSED when nothing more needs
   * saying (both sides ended, or the client reset it); STOP_SENDING when the
   * answer went out while the client is still sending, so RST_STREAM NO_ERROR
   * tells it to stop (RFC 9113 §8.1); RESET when the caller already pushed an
   * RST_STREAM. The gRPC layer hears `abort` when it had not answered.
   */
  private finish(stream: S, how: Finish): void {
    if (stream.closed) return;
    const aborted = !stream.answered;
    stream.closed = true;
    this.streams.delete(stream);
    if (how === Finish.STOP_SENDING) this.out.push(rstStreamFrame(stream.id, ErrorCode.NO_ERROR));
    this.closedIds[this.closedNext] = (how === Finish.CLOSED ? 0 : RESET_BY_US) | stream.id;
    this.closedNext = (this.closedNext + 1) % CLOSED_RING;
    if (aborted) this.events.abort(stream);
    this.endIfIdle();
  }

  private resetByUs(id: number): boolean {
    for (const c of this.closedIds) if (c === (RESET_BY_US | id)) return true;
    return false;
  }

  private wasClosed(id: number): boolean {
    for (const c of this.closedIds) if ((c & 0x7fff_ffff) === id && c !== 0) return true;
    return false;
  }

  /** A stream error on a stream that may not exist (e.g. PRIORITY on an idle or closed one). */
  private streamErrorAny(id: number, code: number): void {
    const stream = this.streams.get(id);
    if (stream !== undefined) this.resetStream(stream, code);
    else this.streamError(id, code);
  }

  /** RST_STREAM for a stream this side holds no state for. */
  private streamError(id: number, code: number): void {
    this.out.push(rstStreamFrame(id, code));
    this.closedIds[this.closedNext] = RESET_BY_US | id;
    this.closedNext = (this.closedNext + 1) % CLOSED_RING;
  }

  private connectionError(code: number, reason: string): void {
    if (this.dead) return;
    this.counters.connectionErrors++;
    this.out.push(goawayFrame(this.lastStreamId, code, reason));
    this.dead = true;
    this.inRead = false;
    this.flush();
    this.socket.end();
    // A peer that never closes its side is not waited for.
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.abortAll();
  }

  private endIfIdle(): void {
    if ((this.peerGone || this.acceptUpTo !== Infinity) && this.streams.size === 0 && !this.dead) {
      this.dead = true;
      this.flushOutsideRead();
      this.socket.end();
    }
  }

  private abortAll(): void {
    const streams = this.streams.values();
    this.streams.clear();
    for (const s of streams) {
      const aborted = !s.answered;
      s.closed = true;
      if (aborted) this.events.abort(s);
    }
  }

  private onClose(): void {
    this.dead = true;
    this.abortAll();
  }

  private onDrain(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private write(b: Buffer): void {
    this.out.push(b);
    this.flushOutsideRead();
  }

  private flushOutsideRead(): void {
    if (!this.inRead) this.flush();
  }

  private flush(): void {
    const out = this.out;
    if (out.length === 0) return;
    this.out = [];
    if (this.socket.destroyed) return;
    this.socket.write(out.length === 1 ? (out[0] ?? NO_TRAILERS) : Buffer.concat(out));
    if (this.socket.writableLength > OUTPUT_HIGH_WATER && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }
}

const SETTINGS_ACK = Buffer.from([0, 0, 0, FrameType.SETTINGS, Flag.ACK, 0, 0, 0, 0]);
const TABLE_SIZE_ZERO = encodeTableSizeUpdate(0);
/** Stands for "no trailers": the last DATA frame ends the stream. */
const NO_TRAILERS = Buffer.alloc(0);
/** HPACK for ":status: 431" (literal without indexing, indexed name :status). */
const HEADERS_TOO_LARGE = Buffer.from([0x08, 0x03, 0x34, 0x33, 0x31]);
