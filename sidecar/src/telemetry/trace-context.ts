// The W3C trace context a decision continues (traceparent), and the random
// ids of new traces and spans.
const { randomFillSync } = process.getBuiltinModule('node:crypto');

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export interface ParentContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

/** Parses a W3C traceparent header; undefined when absent or invalid (a new trace starts). */
export function parseTraceparent(value: string | undefined): ParentContext | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  // Version ff is invalid; version 00 has no trailing fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === undefined || spanId === undefined || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags ?? '00', 16) };
}

type Slice = (this: Buffer, start: number, end: number) => string;

// Buffer.prototype.hexSlice is the native method toString('hex', s, e) ends up
// calling, without re-reading the encoding's name and normalising the
// arguments on every call (two ids per decision). It is undocumented, hence
// the fallback (as h2/latin1.ts does for latin1Slice).
const nativeHexSlice: Slice | undefined = (Buffer.prototype as unknown as { hexSlice?: Slice }).hexSlice;
const hexSlice: Slice = typeof nativeHexSlice === 'function' ? nativeHexSlice : function (this: Buffer, start, end) {
  return this.toString('hex', start, end);
};

/** Random ids from a pooled crypto buffer: decision ids are shown to agents, so unguessable. */
export class IdSource {
  private readonly pool = Buffer.alloc(4096);
  private offset = this.pool.length;

  traceId(): string {
    return this.take(16);
  }

  spanId(): string {
    return this.take(8);
  }

  private take(bytes: number): string {
    if (this.offset + bytes > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const hex = hexSlice.call(this.pool, this.offset, this.offset + bytes);
    this.offset += bytes;
    return hex;
  }
}
