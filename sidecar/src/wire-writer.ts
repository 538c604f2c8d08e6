// Protobuf wire bytes appended to one growing buffer: the writing side of
// policy/src/wire-reader.ts, shared by the sidecar's hand-written encoders
// (authz/response-wire.ts: the CheckResponse; telemetry/otlp-trace-proto.ts:
// OTLP spans). Strings are written as UTF-8, short ASCII ones without a
// native call and in one pass.
import { WIRE_LEN } from '../../policy/src/wire-reader.js';

/**
 * Appends protobuf to one buffer. A nested message's length is written in
 * front of it once it is complete: begin() leaves one byte for it, end() fills
 * it in and moves the message when the length needs more (messages of 128
 * bytes or more).
 */
export class WireWriter {
  pos = 0;
  private buf: Buffer;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  tag(field: number, wireType: number): void {
    const tag = (field << 3) | wireType;
    if (tag > 0x7f) {
      this.varint(tag);
      return;
    }
    this.reserve(1);
    this.buf[this.pos++] = tag;
  }

  begin(): number {
    this.reserve(1);
    return this.pos++;
  }

  end(at: number): void {
    const length = this.pos - at - 1;
    const size = varintSize(length);
    if (size > 1) {
      this.reserve(size - 1);
      this.buf.copyWithin(at + size, at + 1, this.pos);
      this.pos += size - 1;
    }
    let p = at;
    let v = length;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }

  /** A varint of a non-negative int up to 2^32-1, or of any int64 (negative ones as 10 bytes of two's complement). */
  varint(value: number): void {
    this.reserve(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    let lo: number;
    let hi: number;
    if (value >= 0) {
      lo = value >>> 0;
      hi = (value / 0x100000000) >>> 0;
    } else {
      const abs = -value;
      lo = ~(abs >>> 0) >>> 0;
      hi = ~((abs / 0x100000000) >>> 0) >>> 0;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
    while (hi > 0 || lo > 0x7f) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  fixed32(value: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  double(value: number): void {
    this.reserve(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** A fixed64 from its low and high 32 bits (little-endian). */
  fixed64(low: number, high: number): void {
    this.reserve(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  /** A length-prefixed byte string from hex (trace and span ids), digit for digit as the SDK's hexToBinary. */
  hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.varint(n);
    this.reserve(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < 2 * n; i += 2) buf[p++] = (nibble(hex.charCodeAt(i)) << 4) | nibble(hex.charCodeAt(i + 1));
    this.pos = p;
  }

  /** Bytes as they are (no length in front): a part of a message encoded before. */
  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    // Room for the varint too (varint() reserves 10): buf stays this.buf.
    this.reserve(n + 10);
    const buf = this.buf;
    if (n > 0x7f) this.varint(n);
    else buf[this.pos++] = n;
    buf.set(b, this.pos);
    this.pos += n;
  }

  stringField(field: number, s: string): void {
    this.tag(field, WIRE_LEN);
    this.string(s);
  }

  /** A length-prefixed UTF-8 string. */
  string(s: string): void {
    const len = s.length;
    if (len <= 64) {
      // Short: copied in the same pass that checks it is ASCII (a length under
      // 128 is one varint byte); the first other character sends it to UTF-8.
      this.reserve(len + 1);
      const buf = this.buf;
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) {
          this.utf8(s);
          return;
        }
        buf[p++] = c;
      }
      buf[start] = len;
      this.pos = p;
      return;
    }
    for (let i = 0; i < len; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        this.utf8(s);
        return;
      }
    }
    this.varint(len);
    this.reserve(len);
    this.pos += this.buf.write(s, this.pos, len, 'latin1');
  }

  private utf8(s: string): void {
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varint(bytes);
    this.reserve(bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** Bytes written once and kept (a copy: the writer is not), for encoders that repeat them. */
export function encoded(write: (w: WireWriter) => void): Uint8Array {
  const w = new WireWriter(64);
  write(w);
  return Uint8Array.from(w.finish());
}

/** A hex digit's value; anything else is taken as A-F (the API's ids are hex). */
function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

/** Bytes of the varint of a length (0 to 2^32-1). */
export function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}
