// Protobuf wire primitives over one buffer with one cursor, for the hand-written
// CheckRequest decoder. Each primitive accepts and rejects exactly what its
// counterpart in protobuf-es 2.17 (BinaryReader in wire/binary-encoding.js,
// wire/varint.js) does and yields the same value, so the decoder can promise
// "same result as fromBinary" field by field. Errors are plain Errors with
// short messages.

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

/** protobuf-es's recursionLimit: groups nest at most this deep, counting the enclosing messages. */
export const RECURSION_LIMIT = 100;

/** Strings this long or shorter are tried as ASCII in JavaScript first; longer ones go to TextDecoder. */
const SHORT_STRING = 256;
/**
 * Inputs up to this size are turned into one Latin-1 string on the first short
 * ASCII string, and short ASCII strings are slices of it (one native call per
 * request instead of one per string). A slice may keep the whole string alive
 * while it lives: bounded by this size.
 */
const WHOLE_TEXT_MAX = 8192;

// protobuf-es decodes proto3 strings with utf8Validation: fatal, BOM kept as text.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function truncated(): Error {
  return new Error('truncated');
}

export class WireReader {
  pos = 0;
  readonly len: number;
  /** Latin-1 text of the whole input, '' until made; null when not made for this input. */
  private text: string | null;

  constructor(readonly buf: Uint8Array) {
    this.len = buf.length;
    this.text = buf.length <= WHOLE_TEXT_MAX ? '' : null;
  }

  /** varint32read: up to 10 bytes, bits above 32 dropped, past the end throws. */
  uint32(): number {
    const buf = this.buf;
    let p = this.pos;
    let b = buf[p++] ?? 0;
    let result = b & 0x7f;
    if (b < 0x80) return this.settle(p, result);
    b = buf[p++] ?? 0;
    result |= (b & 0x7f) << 7;
    if (b < 0x80) return this.settle(p, result);
    b = buf[p++] ?? 0;
    result |= (b & 0x7f) << 14;
    if (b < 0x80) return this.settle(p, result);
    b = buf[p++] ?? 0;
    result |= (b & 0x7f) << 21;
    if (b < 0x80) return this.settle(p, result);
    b = buf[p++] ?? 0;
    result |= (b & 0x0f) << 28;
    for (let n = 5; b >= 0x80 && n < 10; n++) b = buf[p++] ?? 0;
    if (b >= 0x80) throw new Error('varint longer than 10 bytes');
    return this.settle(p, result >>> 0);
  }

  private settle(p: number, value: number): number {
    // Bytes past the end read as 0 (protobuf-es reads undefined): the varint ends, then this throws.
    if (p > this.len) throw truncated();
    this.pos = p;
    return value;
  }

  /** A tag (field number << 3 | wire type), validated as BinaryReader.tag() does. */
  tag(): number {
    const start = this.pos;
    // Past the end reads as a continuation byte: uint32() then throws.
    const b = this.buf[start] ?? 0x80;
    let tag: number;
    if (b < 0x80) {
      this.pos = start + 1;
      tag = b;
    } else {
      tag = this.uint32();
      const read = this.pos - start;
      if (read > 5 || (read === 5 && (this.buf[this.pos - 1] ?? 0) > 0x0f)) throw new Error('tag overflows uint32');
    }
    if (tag >>> 3 === 0 || (tag & 7) > 5) throw new Error(`illegal tag: field ${tag >>> 3} wire type ${tag & 7}`);
    return tag;
  }

  /** An int64 (varint64read, two's complement), as protobuf-es's bigint. */
  int64(): bigint {
    const buf = this.buf;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      b = buf[p++] ?? 0;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return toInt64(this.settle(p, lo), 0);
    }
    b = buf[p++] ?? 0;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x70) >> 4;
    if (b < 0x80) return toInt64(this.settle(p, lo), hi);
    for (let shift = 3; shift <= 31; shift += 7) {
      b = buf[p++] ?? 0;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) return toInt64(this.settle(p, lo), hi);
    }
    throw new Error('varint longer than 10 bytes');
  }

  /** An int32: a varint32 reinterpreted as signed, as protobuf-es does. */
  int32(): number {
    return this.uint32() | 0;
  }

  /** A length-delimited field's start; the cursor moves past it (bounds checked). */
  lengthDelimited(): number {
    const len = this.uint32();
    const start = this.pos;
    const end = start + len;
    if (end > this.len) throw truncated();
    this.pos = end;
    return start;
  }

  bytes(): Uint8Array {
    const start = this.lengthDelimited();
    // A view into the input, as protobuf-es returns.
    return this.buf.subarray(start, this.pos);
  }

  /** A proto3 string: UTF-8, invalid sequences throw (protobuf-es's utf8Validation). */
  string(): string {
    const start = this.lengthDelimited();
    const end = this.pos;
    if (end - start <= SHORT_STRING) {
      const buf = this.buf;
      let i = start;
      while (i < end && (buf[i] ?? 0x80) < 0x80) i++;
      if (i === end) return this.ascii(start, end);
    }
    try {
      return utf8.decode(this.buf.subarray(start, end));
    } catch (e: unknown) {
      throw new Error('string is not valid UTF-8', { cause: e });
    }
  }

  private ascii(start: number, end: number): string {
    let text = this.text;
    if (text === '') {
      // Node's TextDecoder('latin1') is JavaScript and several times slower than Buffer's native one.
      const buf = this.buf;
      text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1');
      // One code unit per byte is what makes offsets line up; never trust it blindly.
      this.text = text = text.length === this.len ? text : null;
    }
    if (text !== null) return text.slice(start, end);
    return utf8.decode(this.buf.subarray(start, end));
  }

  /** Skips the varint of a declared int64 field: protobuf-es reads it, so more than 10 bytes throw. */
  skipInt64(): void {
    const buf = this.buf;
    let p = this.pos;
    for (let n = 0; n < 10; n++) {
      if ((buf[p++] ?? 0) < 0x80) {
        this.settle(p, 0);
        return;
      }
    }
    throw new Error('varint longer than 10 bytes');
  }

  /**
   * Skips a field of a number the message does not declare, as
   * BinaryReader.skip(): varints of any length, groups up to `groupDepth`
   * deep with matching end tags; a stray end group throws.
   */
  skipUnknown(tag: number, groupDepth: number): void {
    const buf = this.buf;
    switch (tag & 7) {
      case WIRE_VARINT: {
        let p = this.pos;
        while ((buf[p++] ?? 0) >= 0x80) { /* continuation bytes */ }
        this.settle(p, 0);
        return;
      }
      case WIRE_FIXED64:
        this.settle(this.pos + 8, 0);
        return;
      case WIRE_FIXED32:
        this.settle(this.pos + 4, 0);
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_START_GROUP: {
        if (groupDepth <= 0) throw new Error('groups nested too deep');
        for (;;) {
          const inner = this.tag();
          if ((inner & 7) === WIRE_END_GROUP) {
            if (inner >>> 3 !== tag >>> 3) throw new Error('invalid end group tag');
            return;
          }
          this.skipUnknown(inner, groupDepth - 1);
        }
      }
      default:
        throw new Error(`cannot skip wire type ${tag & 7}`);
    }
  }
}

/** The signed 64-bit integer with these halves (protoInt64.dec). */
function toInt64(lo: number, hi: number): bigint {
  if (hi === 0) return BigInt(lo >>> 0);
  return (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
}

/** The error for a declared field sent with another wire type (protobuf-es would misread it). */
export function wireTypeError(message: string, tag: number): Error {
  return new Error(`${message} field ${tag >>> 3}: unexpected wire type ${tag & 7}`);
}
