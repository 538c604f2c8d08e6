// HPACK (RFC 7541) for the sidecar's own HTTP/2 framing: a full decoder for
// the header blocks Envoy sends, and a minimal encoder for our fixed responses.
// Pure code, no I/O: the frame layer hands in a complete header block (HEADERS
// plus any CONTINUATION payloads, padding and priority already stripped).
//
// Speed matters because every Check pays for this: the decoder makes no
// allocation per field beyond the strings it must return, static-table hits
// return the table's own strings, dynamic-table hits return the strings stored
// when the entry was added, raw literals are sliced straight out of the block
// (latin1.ts), and literals the encoder chose not to index but sends again and
// again (Envoy's :path on every Check) come from a small cache
// (hpack-literal-cache.ts). The parse position lives in a field rather than
// being returned in objects for the same reason.
//
// A Check's header block from Envoy is mostly :path as a Huffman literal
// without indexing, fresh grpc-timeout and x-request-id values, and dynamic or
// static references. `make bench-impls` measures the whole server built on this
// against grpc-js (../http2-server.ts).
//
// Safety matters because the block comes from the network: every length and
// index is checked against the block and the table before use, integers are
// capped (§5.1 allows unbounded ones), each loop step consumes input, and any
// malformed input throws HpackError and nothing else.
import { HpackError } from './hpack-error.js';
import { LiteralCache, MAX_CACHED_BYTES } from './hpack-literal-cache.js';
import { STATIC_TABLE } from './hpack-static-table.js';
import { huffmanDecode } from './huffman.js';
import { latin1 } from './latin1.js';

export { HpackError };
export { encodeHeaderBlock, encodeTableSizeUpdate } from './hpack-encode.js';

/** Receives each decoded header field, in block order. */
export interface HeaderSink {
  header(name: string, value: string): void;
}

/** Per-entry overhead in the dynamic table and in SETTINGS_MAX_HEADER_LIST_SIZE (§4.1). */
export const HEADER_FIELD_OVERHEAD = 32;

/**
 * The size of a field as HPACK and HTTP/2 count it: name and value octets plus
 * 32 (RFC 7541 §4.1, RFC 9113 §6.5.2). Names and values here are latin1, so
 * string length equals octet count. Callers sum it to enforce a header list limit.
 */
export function headerFieldSize(name: string, value: string): number {
  return HEADER_FIELD_OVERHEAD + name.length + value.length;
}

const STATIC_LENGTH = STATIC_TABLE.length; // 61
const STATIC_NAMES: readonly string[] = STATIC_TABLE.map(([name]) => name);
const STATIC_VALUES: readonly string[] = STATIC_TABLE.map(([, value]) => value);

/**
 * Integers are capped at int32 range and 5 continuation bytes. §5.1 sets no
 * limit, but every legitimate integer here (an index, a string length, a table
 * size) is far smaller, and the cap keeps the arithmetic exact and the loop short.
 */
const MAX_INTEGER = 0x7fffffff;
const MAX_CONTINUATION_BYTES = 5;
/** Ring capacity to start with; it doubles as needed (entries are >= 32 bytes, so it stays <= maxTableSize / 32). */
const INITIAL_CAPACITY = 32;

/**
 * One connection's HPACK decoding context (RFC 7541 §2.2). Blocks must be fed
 * in the order they arrive on the connection. After an HpackError the table is
 * no longer in step with the peer's encoder: the connection must be closed
 * with COMPRESSION_ERROR, and this decoder dropped.
 */
export class HpackDecoder {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the most the peer may set with a size update (§4.2). */
  private readonly settingsMaxSize: number;
  /** The current limit, as last set by the peer (§6.3); starts at the SETTINGS value. */
  private maxSize: number;
  private size = 0;
  // The dynamic table as a ring: names[head - 1] is the newest entry (index 62),
  // names[head - count] the oldest. Capacity is a power of two so a mask wraps.
  private names: string[] = new Array<string>(INITIAL_CAPACITY).fill('');
  private values: string[] = new Array<string>(INITIAL_CAPACITY).fill('');
  private head = 0;
  private count = 0;
  /** The parse position in the current block. */
  private pos = 0;
  /** Strings of recent literals without indexing, which tend to repeat (hpack-literal-cache.ts). */
  private readonly literals = new LiteralCache();

  constructor(maxTableSize = 4096) {
    if (!Number.isInteger(maxTableSize) || maxTableSize < 0 || maxTableSize > MAX_INTEGER) {
      throw new RangeError(`HpackDecoder: maxTableSize must be an integer from 0 to ${MAX_INTEGER}, got ${maxTableSize}`);
    }
    this.settingsMaxSize = maxTableSize;
    this.maxSize = maxTableSize;
  }

  /** The dynamic table's size as HPACK counts it (§4.1). */
  get dynamicTableSize(): number {
    return this.size;
  }

  /** The dynamic table's entries, newest (index 62) first. For tests and debugging, not the hot path. */
  dynamicTable(): Array<[name: string, value: string]> {
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < this.count; i++) {
      const slot = this.slot(i);
      entries.push([this.names[slot] ?? '', this.values[slot] ?? '']);
    }
    return entries;
  }

  /**
   * Decodes the header block block[start, end) and calls sink.header for each
   * field in order. Throws HpackError on malformed input (RFC 7541 throughout);
   * an exception from the sink propagates unchanged. A range outside the block
   * is the caller's bug and throws RangeError.
   */
  decode(block: Uint8Array, start: number, end: number, sink: HeaderSink): void {
    if (!(start >= 0 && start <= end && end <= block.length)) {
      throw new RangeError(`HpackDecoder.decode: range [${start}, ${end}) is outside the block (length ${block.length})`);
    }
    this.pos = start;
    let fieldSeen = false;
    while (this.pos < end) {
      const first = block[this.pos] ?? 0;
      if (first >= 0x80) {
        // §6.1 Indexed Header Field: 1xxxxxxx.
        const index = this.integer(block, end, 7);
        sink.header(this.nameAt(index), this.valueAt(index));
      } else if (first >= 0x40) {
        // §6.2.1 Literal with Incremental Indexing: 01xxxxxx, index 0 = new name.
        const index = this.integer(block, end, 6);
        const name = index === 0 ? this.string(block, end, false) : this.nameAt(index);
        const value = this.string(block, end, false);
        this.insert(name, value);
        sink.header(name, value);
      } else if (first >= 0x20) {
        // §6.3 Dynamic Table Size Update: 001xxxxx. §4.2: only at the start of a
        // block, and never above the limit we announced in SETTINGS.
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field (RFC 7541 §4.2)');
        const size = this.integer(block, end, 5);
        if (size > this.settingsMaxSize) {
          throw new HpackError(`dynamic table size update to ${size} exceeds SETTINGS_HEADER_TABLE_SIZE ${this.settingsMaxSize} (RFC 7541 §6.3)`);
        }
        this.maxSize = size;
        this.evictTo(size);
        continue;
      } else {
        // §6.2.2 Literal without Indexing (0000xxxx) and §6.2.3 Never Indexed
        // (0001xxxx). "Never indexed" binds intermediaries that re-encode, which
        // we never do; here it only keeps the value out of the literal cache.
        const cache = first < 0x10;
        const index = this.integer(block, end, 4);
        const name = index === 0 ? this.string(block, end, cache) : this.nameAt(index);
        sink.header(name, this.string(block, end, cache));
      }
      fieldSeen = true;
    }
  }

  /** §5.1: an integer with an N-bit prefix at this.pos; advances past it. */
  private integer(block: Uint8Array, end: number, prefixBits: number): number {
    if (this.pos >= end) throw new HpackError('header block truncated inside a field (RFC 7541 §5.1)');
    const mask = (1 << prefixBits) - 1;
    let value = (block[this.pos++] ?? 0) & mask;
    if (value < mask) return value;
    let factor = 1;
    for (let i = 0; i < MAX_CONTINUATION_BYTES; i++) {
      if (this.pos >= end) throw new HpackError('header block truncated inside an integer (RFC 7541 §5.1)');
      const byte = block[this.pos++] ?? 0;
      value += (byte & 0x7f) * factor;
      if (byte < 0x80) {
        if (value > MAX_INTEGER) throw new HpackError(`integer ${value} is too large (RFC 7541 §5.1)`);
        return value;
      }
      factor *= 128;
    }
    throw new HpackError(`integer longer than ${MAX_CONTINUATION_BYTES} continuation bytes (RFC 7541 §5.1)`);
  }

  /**
   * §5.2: a string literal at this.pos, raw octets or Huffman-coded; advances
   * past it. With `cache`, a short string is looked up in and kept in the literal cache.
   */
  private string(block: Uint8Array, end: number, cache: boolean): string {
    const huffman = this.pos < end && ((block[this.pos] ?? 0) & 0x80) !== 0;
    const length = this.integer(block, end, 7);
    // Checked before anything is read or allocated, so a claimed length can
    // never make us allocate more than the block itself holds.
    if (length > end - this.pos) {
      throw new HpackError(`string length ${length} exceeds the ${end - this.pos} bytes left in the header block (RFC 7541 §5.2)`);
    }
    const start = this.pos;
    this.pos += length;
    if (!cache || length > MAX_CACHED_BYTES) {
      return huffman ? huffmanDecode(block, start, this.pos) : latin1(block, start, this.pos);
    }
    const cached = this.literals.get(block, start, this.pos, huffman);
    if (cached !== undefined) return cached;
    const value = huffman ? huffmanDecode(block, start, this.pos) : latin1(block, start, this.pos);
    this.literals.set(block, start, this.pos, huffman, value);
    return value;
  }

  /** The ring slot of dynamic entry i (0 = newest). The caller checks i < count. */
  private slot(i: number): number {
    return (this.head - 1 - i) & (this.names.length - 1);
  }

  /** §2.3.3: index 1..61 is static, 62.. dynamic (newest first); anything else is an error. */
  private dynamicSlot(index: number): number {
    const i = index - STATIC_LENGTH - 1;
    if (index === 0 || i >= this.count) {
      throw new HpackError(`header field index ${index} is not in the static or dynamic table (RFC 7541 §2.3.3)`);
    }
    return this.slot(i);
  }

  private nameAt(index: number): string {
    if (index > 0 && index <= STATIC_LENGTH) return STATIC_NAMES[index - 1] ?? '';
    return this.names[this.dynamicSlot(index)] ?? '';
  }

  private valueAt(index: number): string {
    if (index > 0 && index <= STATIC_LENGTH) return STATIC_VALUES[index - 1] ?? '';
    return this.values[this.dynamicSlot(index)] ?? '';
  }

  /** §4.4: evict oldest entries until the new one fits; one larger than the table empties it. */
  private insert(name: string, value: string): void {
    const entrySize = headerFieldSize(name, value);
    if (entrySize > this.maxSize) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.maxSize - entrySize);
    if (this.count === this.names.length) this.grow();
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.head = (this.head + 1) & (this.names.length - 1);
    this.count++;
    this.size += entrySize;
  }

  /** §4.3: drop oldest entries until the table's size is at most limit. */
  private evictTo(limit: number): void {
    const mask = this.names.length - 1;
    while (this.size > limit && this.count > 0) {
      const oldest = (this.head - this.count) & mask;
      this.size -= headerFieldSize(this.names[oldest] ?? '', this.values[oldest] ?? '');
      // Release the strings now rather than when the slot is reused.
      this.names[oldest] = '';
      this.values[oldest] = '';
      this.count--;
    }
  }

  /** Doubles the ring, oldest entry first at slot 0. */
  private grow(): void {
    const capacity = this.names.length * 2;
    const names = new Array<string>(capacity).fill('');
    const values = new Array<string>(capacity).fill('');
    for (let i = 0; i < this.count; i++) {
      const slot = this.slot(this.count - 1 - i);
      names[i] = this.names[slot] ?? '';
      values[i] = this.values[slot] ?? '';
    }
    this.names = names;
    this.values = values;
    this.head = this.count;
  }
}
