// HpackDecoder against a real HPACK encoder: node:http2's client (nghttp2's
// deflater, the same family of encoder as Envoy's). A raw TCP server plays the
// HTTP/2 server just far enough (SETTINGS, SETTINGS ACK) for the client to
// send requests, cuts the HEADERS (+ CONTINUATION) payloads out of its frames,
// and feeds them, in order, to one decoder per connection. Long values get
// Huffman-coded, repeated ones come back as dynamic table references, and a
// smaller SETTINGS_HEADER_TABLE_SIZE makes the client send a size update.
import { afterEach, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { HpackDecoder } from '../src/authz/h2/hpack.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const FRAME_HEADERS = 0x1;
const FRAME_SETTINGS = 0x4;
const FRAME_CONTINUATION = 0x9;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const SETTINGS_HEADER_TABLE_SIZE = 0x1;

function frame(type: number, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  return Buffer.concat([header, payload]);
}

/** A raw HTTP/2 "server" that collects the client's header blocks in arrival order. */
class RawPeer {
  private buffered = Buffer.alloc(0);
  private prefaceSeen = false;
  private pending: Buffer[] = [];
  private readonly blocks: Buffer[] = [];
  private readonly waiters: Array<(block: Buffer) => void> = [];
  /** Every block received, for assertions on the raw bytes. */
  readonly history: Buffer[] = [];

  constructor(private readonly socket: net.Socket, settings: Buffer) {
    socket.write(frame(FRAME_SETTINGS, 0, settings));
    socket.on('data', (data: Buffer) => this.receive(data));
  }

  next(): Promise<Buffer> {
    const block = this.blocks.shift();
    if (block !== undefined) return Promise.resolve(block);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private receive(data: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, data]);
    if (!this.prefaceSeen) {
      if (this.buffered.length < PREFACE.length) return;
      expect(this.buffered.subarray(0, PREFACE.length)).toEqual(PREFACE);
      this.buffered = this.buffered.subarray(PREFACE.length);
      this.prefaceSeen = true;
    }
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < 9 + length) return;
      const type = this.buffered[3]!;
      const flags = this.buffered[4]!;
      const payload = this.buffered.subarray(9, 9 + length);
      this.buffered = this.buffered.subarray(9 + length);
      this.frame(type, flags, payload);
    }
  }

  private frame(type: number, flags: number, payload: Buffer): void {
    if (type === FRAME_SETTINGS && (flags & FLAG_ACK) === 0) {
      this.socket.write(frame(FRAME_SETTINGS, FLAG_ACK));
    } else if (type === FRAME_HEADERS) {
      // RFC 9113 §6.2: Pad Length (if PADDED), then 5 priority bytes (if PRIORITY), then the fragment, then padding.
      let start = 0;
      let end = payload.length;
      if ((flags & FLAG_PADDED) !== 0) {
        start = 1;
        end -= payload[0]!;
      }
      if ((flags & FLAG_PRIORITY) !== 0) start += 5;
      this.pending = [payload.subarray(start, end)];
      if ((flags & FLAG_END_HEADERS) !== 0) this.complete();
    } else if (type === FRAME_CONTINUATION) {
      this.pending.push(payload);
      if ((flags & FLAG_END_HEADERS) !== 0) this.complete();
    }
  }

  private complete(): void {
    const block = Buffer.concat(this.pending);
    this.pending = [];
    this.history.push(block);
    const waiter = this.waiters.shift();
    if (waiter === undefined) this.blocks.push(block);
    else waiter(block);
  }
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A connected node:http2 client and the raw peer it talks to. */
async function connect(settings: Buffer): Promise<{ client: http2.ClientHttp2Session; peer: RawPeer }> {
  const server = net.createServer();
  const peers: RawPeer[] = [];
  server.on('connection', (socket) => peers.push(new RawPeer(socket, settings)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined); // destroyed mid-stream at the end of each test
  cleanups.push(() => {
    client.destroy();
    server.close();
  });
  // Requests wait for our SETTINGS, so the client encodes with the table size we announce.
  await once(client, 'remoteSettings');
  return { client, peer: peers[0]! };
}

/** Sends one request and returns the fields the decoder saw for it. */
async function roundTrip(client: http2.ClientHttp2Session, peer: RawPeer, decoder: HpackDecoder,
  headers: http2.OutgoingHttpHeaders, sensitive: string[] = []): Promise<Map<string, string>> {
  const stream = client.request({ ...headers, [http2.sensitiveHeaders]: sensitive }, { endStream: true });
  stream.on('error', () => undefined); // never answered; reset when the client is destroyed
  const block = await peer.next();
  const decoded = new Map<string, string>();
  decoder.decode(block, 0, block.length, {
    header: (name, value) => {
      expect(decoded.has(name)).toBe(false);
      decoded.set(name, value);
    },
  });
  return decoded;
}

function expectSent(decoded: Map<string, string>, headers: http2.OutgoingHttpHeaders): void {
  for (const [name, value] of Object.entries(headers)) expect([name, decoded.get(name)]).toEqual([name, value]);
}

/** A gRPC ext_authz request like Envoy's, with per-request values the encoder cannot reuse. */
function checkRequest(i: number): http2.OutgoingHttpHeaders {
  return {
    ':method': 'POST',
    ':path': '/envoy.service.auth.v3.Authorization/Check',
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': `${250 + i}m`,
    'user-agent': 'envoy/1.34.1 grpc-c++',
    'x-request-id': `6c0a3c7e-9d55-4a58-8d2b-${String(i).padStart(12, '0')}`,
    'x-envoy-internal': 'true',
  };
}

describe('HpackDecoder against node:http2 as the encoder', () => {
  it('decodes a sequence of requests on one connection, through the dynamic table', async () => {
    const { client, peer } = await connect(Buffer.alloc(0));
    const decoder = new HpackDecoder();
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const headers = checkRequest(i);
      expectSent(await roundTrip(client, peer, decoder, headers), headers);
      sizes.push(decoder.dynamicTableSize);
    }
    // The constant fields went into the table on the first request and were referenced after.
    expect(sizes[0]).toBeGreaterThan(0);
    expect(decoder.dynamicTable().map(([name]) => name)).toContain('user-agent');
  });

  it('decodes long, Huffman-coded, sensitive, latin1 and larger-than-a-frame values', async () => {
    const { client, peer } = await connect(Buffer.alloc(0));
    const decoder = new HpackDecoder();
    const requests: http2.OutgoingHttpHeaders[] = [
      { ...checkRequest(1), 'x-long': 'abcdefghij'.repeat(30) }, // 300 bytes, Huffman-coded and indexed
      { ...checkRequest(2), 'x-long': 'abcdefghij'.repeat(30) }, // now a dynamic table reference
      { ...checkRequest(3), authorization: 'Bearer s3cr3t' }, // sensitive below: never indexed
      { ...checkRequest(4), 'x-bytes': 'caf\u00e9 \u00ff\u0080 ~|{}' }, // raw latin1 octets
      { ...checkRequest(5), 'x-huge': 'z'.repeat(20000) }, // > 16384: CONTINUATION frames, 3-byte length
      { ...checkRequest(6), 'x-many': Array.from({ length: 60 }, (_, i) => `v${i}`).join(', ') },
    ];
    for (const headers of requests) {
      expectSent(await roundTrip(client, peer, decoder, headers, ['authorization']), headers);
    }
    // §6.2.3 never-indexed representation (0001xxxx) for authorization, and no table entry for it.
    expect(peer.history[2]!.includes(Buffer.from([0x10 | 15, 23 - 15]))).toBe(true);
    expect(decoder.dynamicTable().map(([name]) => name)).not.toContain('authorization');
  });

  it('follows the size update the client sends after a smaller SETTINGS_HEADER_TABLE_SIZE', async () => {
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(SETTINGS_HEADER_TABLE_SIZE, 0);
    settings.writeUInt32BE(256, 2);
    const { client, peer } = await connect(settings);
    const decoder = new HpackDecoder(256);
    for (let i = 0; i < 10; i++) {
      const headers = { ...checkRequest(i), 'x-rotating': `value-${i}-${'r'.repeat(40)}` };
      expectSent(await roundTrip(client, peer, decoder, headers), headers);
      expect(decoder.dynamicTableSize).toBeLessThanOrEqual(256);
    }
    // §6.3: the first block opens with a size update to 256 (5-bit prefix: 31, then 225).
    expect(peer.history[0]!.subarray(0, 3)).toEqual(Buffer.from([0x3f, 0xe1, 0x01]));
  });
});
