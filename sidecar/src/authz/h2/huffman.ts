// HPACK Huffman decoding (RFC 7541 §5.2, code table in Appendix B).
//
// The Appendix B code is canonical: sorted by (length, symbol), each code is
// the previous one plus one, shifted left when the length grows. So the table
// below keeps only the 257 code lengths and the codes are rebuilt at module
// load; sidecar/test/hpack-huffman.test.ts checks every symbol against the hex
// codes printed in the RFC.
//
// Decoding is a table-driven state machine over 4-bit nibbles, the nghttp2
// design: a state is an internal node of the code tree (256 of them for 257
// leaves), and one lookup per nibble gives the next node, the symbol completed
// on the way (at most one, as no code is shorter than 5 bits) and whether the
// bits read since the last symbol form valid padding. Two lookups per input
// byte instead of eight branchy tree steps, and no branch at all in the loop:
// EOS leads to a dead state that is reported once the string ends.
import { HpackError } from './hpack-error.js';
import { latin1 } from './latin1.js';

/** Code length in bits of each symbol 0..255, then EOS (RFC 7541 Appendix B). */
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0-15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16-31
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 32-47
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 48-63
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 64-79
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 80-95
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 96-111
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112-127
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
  30, // 256 = EOS
];

const EOS = 256;
const SYMBOLS = 257;
/** A complete binary tree with 257 leaves has 256 internal nodes; node 0 is the root. */
const NODES = 256;
/** No code is shorter than this, so a string of n bytes holds at most 8n/5 symbols. */
const MIN_CODE_BITS = 5;
/** Padding is a prefix of the all-ones EOS code, strictly shorter than a byte (§5.2). */
const MAX_PADDING_BITS = 7;

// One transition, packed in a small integer: bits 0-12 the next state times 16
// (so the next lookup is (entry & STATE) | nibble), bits 13-20 the symbol
// completed, then two flags. The decode loop is branch-free: it always stores
// the symbol and advances the output by the EMIT bit.
const STATE = 0x1fff;
const SYMBOL_SHIFT = 13;
const EMIT_SHIFT = 21;
const EMIT = 1 << EMIT_SHIFT;
/** After this nibble the bits since the last symbol are valid padding (or none). */
const ACCEPT = 1 << 22;
/** Where EOS leads (§5.2: a string must never contain it): stays there, never accepts. */
const DEAD = NODES;

/** Codes right-aligned (the last bit of a code is bit 0), rebuilt canonically. */
function canonicalCodes(): Uint32Array {
  const order = Array.from({ length: SYMBOLS }, (_, s) => s);
  order.sort((a, b) => (CODE_LENGTHS[a] ?? 0) - (CODE_LENGTHS[b] ?? 0) || a - b);
  const codes = new Uint32Array(SYMBOLS);
  let code = 0;
  let previousLength = 0;
  for (const [rank, symbol] of order.entries()) {
    const length = CODE_LENGTHS[symbol] ?? 0;
    // Codes are at most 30 bits, so int32 shifts never reach the sign bit.
    code = rank === 0 ? 0 : (code + 1) << (length - previousLength);
    codes[symbol] = code;
    previousLength = length;
  }
  return codes;
}

/**
 * The code tree: child[2 * node + bit] is an internal node (>= 0) or a leaf
 * stored as -(symbol + 1).
 */
function codeTree(codes: Uint32Array): Int16Array {
  const child = new Int16Array(2 * NODES);
  let nodes = 1;
  for (let symbol = 0; symbol < SYMBOLS; symbol++) {
    const length = CODE_LENGTHS[symbol] ?? 0;
    const code = codes[symbol] ?? 0;
    let node = 0;
    for (let i = length - 1; i >= 0; i--) {
      const slot = 2 * node + ((code >>> i) & 1);
      if (i === 0) {
        child[slot] = -(symbol + 1);
      } else {
        if (child[slot] === 0) child[slot] = nodes++;
        node = child[slot] ?? 0;
      }
    }
  }
  return child;
}

/** The 4-bit state machine: entry [state * 16 + nibble], states 0..255 plus DEAD. */
function transitions(child: Int16Array): Uint32Array {
  // Accepting nodes: the root (the string ended on a symbol boundary) and the
  // first 7 nodes down the all-ones path (1 to 7 bits of EOS-prefix padding).
  const accepting = new Uint8Array(NODES);
  let onesPath = 0;
  accepting[0] = 1;
  for (let depth = 1; depth <= MAX_PADDING_BITS; depth++) {
    onesPath = child[2 * onesPath + 1] ?? 0;
    accepting[onesPath] = 1;
  }
  const table = new Uint32Array((NODES + 1) * 16);
  for (let state = 0; state <= NODES; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let emitted = 0;
      for (let bit = 3; bit >= 0 && node !== DEAD; bit--) {
        const next = child[2 * node + ((nibble >> bit) & 1)] ?? 0;
        if (next >= 0) {
          node = next;
        } else if (-next - 1 === EOS) {
          node = DEAD;
        } else {
          emitted = EMIT | ((-next - 1) << SYMBOL_SHIFT);
          node = 0;
        }
      }
      const accept = node !== DEAD && accepting[node] === 1 ? ACCEPT : 0;
      table[state * 16 + nibble] = (node * 16) | emitted | accept;
    }
  }
  return table;
}

const TRANSITIONS = transitions(codeTree(canonicalCodes()));

// Decoded symbols go to a reused scratch buffer, then become one string. It
// grows to the largest string seen, up to SCRATCH_LIMIT; longer strings (only
// possible in unusually large header blocks) get a one-off buffer instead, so
// a single huge header does not pin memory for the life of the process.
const SCRATCH_LIMIT = 64 * 1024;
let scratch = new Uint8Array(256);

function output(capacity: number): Uint8Array {
  if (capacity <= scratch.length) return scratch;
  if (capacity > SCRATCH_LIMIT) return new Uint8Array(capacity);
  let size = scratch.length;
  while (size < capacity) size *= 2;
  scratch = new Uint8Array(size);
  return scratch;
}

/**
 * Decodes the Huffman-coded string src[start, end) to a latin1 string (one
 * char per decoded byte). Throws HpackError if the string contains EOS or ends
 * in padding that is longer than 7 bits or not all ones (RFC 7541 §5.2).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  // + 1: the loop stores a byte at out[length] even when it emits nothing.
  const out = output(Math.floor(((end - start) * 8) / MIN_CODE_BITS) + 1);
  let length = 0;
  let entry = ACCEPT; // state 0, the root; the empty string is valid
  for (let i = start; i < end; i++) {
    const byte = src[i] ?? 0;
    entry = TRANSITIONS[(entry & STATE) | (byte >> 4)] ?? 0;
    out[length] = entry >> SYMBOL_SHIFT; // the Uint8Array keeps the low 8 bits: the symbol
    length += (entry >> EMIT_SHIFT) & 1;
    entry = TRANSITIONS[(entry & STATE) | (byte & 0xf)] ?? 0;
    out[length] = entry >> SYMBOL_SHIFT;
    length += (entry >> EMIT_SHIFT) & 1;
  }
  if ((entry & ACCEPT) === 0) {
    if ((entry & STATE) === DEAD * 16) throw new HpackError('Huffman string contains EOS (RFC 7541 §5.2)');
    throw new HpackError('Huffman string padding is longer than 7 bits or not all ones (RFC 7541 §5.2)');
  }
  return latin1(out, 0, length);
}
