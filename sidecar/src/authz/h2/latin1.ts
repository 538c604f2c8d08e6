// Bytes -> latin1 string (one char per byte, U+0000..U+00FF), the fastest way
// Node offers. HPACK strings are octets (RFC 7541 §5.2), and header names and
// values are compared and stored as latin1 strings so no byte is ever lost or
// re-encoded.
//
// Why not buffer.toString('latin1', s, e): it re-parses the encoding name and
// normalises its arguments on every call, which shows up when a header block
// has a dozen short strings. Buffer.prototype.latin1Slice is the native method
// toString ends up calling; it accepts any Uint8Array as `this`, so blocks do
// not need wrapping in a Buffer either. It is undocumented, hence the fallback.
// Not TextDecoder('latin1'): WHATWG maps that label to windows-1252, which
// turns 0x80-0x9f into other characters.

type Slice = (this: Uint8Array, start: number, end: number) => string;

const nativeSlice: Slice | undefined = (Buffer.prototype as unknown as { latin1Slice?: Slice }).latin1Slice;

function fallbackSlice(this: Uint8Array, start: number, end: number): string {
  return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('latin1', start, end);
}

const slice: Slice = typeof nativeSlice === 'function' ? nativeSlice : fallbackSlice;

// The native slice pays a fixed call into C++; for a few bytes, concatenating
// V8's cached one-char strings in JS is cheaper, hence a short threshold.
const SHORT = 6;

/** bytes[start, end) as a latin1 string. The caller guarantees 0 <= start <= end <= bytes.length. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > SHORT) return slice.call(bytes, start, end);
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}
