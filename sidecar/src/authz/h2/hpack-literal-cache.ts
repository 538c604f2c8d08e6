// Decoded strings of recent literals sent without indexing, keyed by their
// encoded bytes: a repeat costs a byte comparison instead of a Huffman decode
// and a new string.
//
// Why: encoders keep out of the dynamic table the fields they expect to
// change, and in practice also pseudo-headers: nghttp2 never indexes :path,
// and quiche's encoder (Envoy's oghttp2) indexes no pseudo-header but
// :authority. An ext_authz server gets the same :path on every request, sent
// Huffman-coded each time, and decoding it was the largest single cost of a
// steady-state request block.
//
// Only §6.2.2 literals go through here, never §6.2.3 (never indexed): those are
// the values an encoder marked sensitive, and a hit being faster than a miss
// would let a client sharing the connection probe them (RFC 7541 §7.1).
// Direct-mapped, a few short slots: bounded memory and a constant-time lookup.

const SLOTS = 8;
/** Longer strings are not cached: rarely repeated, and the comparison would grow. */
export const MAX_CACHED_BYTES = 64;

export class LiteralCache {
  private readonly bytes = new Uint8Array(SLOTS * MAX_CACHED_BYTES);
  /** Per slot: 2 * encoded length + 1 if Huffman-coded, or -1 when empty. */
  private readonly keys = new Int32Array(SLOTS).fill(-1);
  private readonly strings: string[] = new Array<string>(SLOTS).fill('');

  /** Slot for src[start, end): a cheap mix of the length and three sampled bytes. */
  private slot(src: Uint8Array, start: number, end: number): number {
    const length = end - start;
    const mix = length + 3 * (src[start] ?? 0) + 5 * (src[start + (length >> 1)] ?? 0) + 7 * (src[end - 1] ?? 0);
    return mix & (SLOTS - 1);
  }

  /** The string decoded earlier from the same bytes, coded the same way, or undefined. */
  get(src: Uint8Array, start: number, end: number, huffman: boolean): string | undefined {
    const slot = this.slot(src, start, end);
    if (this.keys[slot] !== 2 * (end - start) + (huffman ? 1 : 0)) return undefined;
    const base = slot * MAX_CACHED_BYTES - start;
    for (let i = start; i < end; i++) {
      if (this.bytes[base + i] !== src[i]) return undefined;
    }
    return this.strings[slot];
  }

  /** Remembers value as the decoding of src[start, end); the caller keeps end - start <= MAX_CACHED_BYTES. */
  set(src: Uint8Array, start: number, end: number, huffman: boolean, value: string): void {
    const slot = this.slot(src, start, end);
    const base = slot * MAX_CACHED_BYTES - start;
    for (let i = start; i < end; i++) this.bytes[base + i] = src[i] ?? 0;
    this.keys[slot] = 2 * (end - start) + (huffman ? 1 : 0);
    this.strings[slot] = value;
  }
}
