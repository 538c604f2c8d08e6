// HPACK encoding of the sidecar's own responses (RFC 7541): the few fixed
// header blocks a gRPC server sends (:status, content-type, grpc-status,
// grpc-message). Kept apart from the decoder because it shares nothing with it
// but the static table; hpack.ts re-exports it.
import { STATIC_TABLE } from './hpack-static-table.js';

const STATIC_LENGTH = STATIC_TABLE.length; // 61

/** First static index of each name; entries sharing a name are adjacent in Appendix A. */
const STATIC_NAME_INDEX = new Map<string, number>();
for (const [i, [name]] of STATIC_TABLE.entries()) {
  if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i + 1);
}

/** §5.1: value with an N-bit prefix; `flags` are the representation's high bits. */
function pushInteger(out: number[], flags: number, prefixBits: number, value: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(flags | value);
    return;
  }
  out.push(flags | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/** §5.2 raw string literal (H = 0): length with a 7-bit prefix, then the latin1 octets. */
function pushString(out: number[], s: string): void {
  pushInteger(out, 0x00, 7, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

/** RFC 9113 §8.2.1: names are non-empty lowercase visible ASCII (':' starts pseudo-headers). */
function checkName(name: string): void {
  let ok = name.length > 0;
  for (let i = 0; ok && i < name.length; i++) {
    const c = name.charCodeAt(i);
    ok = c > 0x20 && c < 0x7f && !(c >= 0x41 && c <= 0x5a);
  }
  if (!ok) throw new TypeError(`encodeHeaderBlock: header name ${JSON.stringify(name)} is not a lowercase HTTP/2 field name`);
}

/** Values are latin1 octets without NUL, CR or LF (RFC 9113 §8.2.1). */
function checkValue(name: string, value: string): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || c === 0x00 || c === 0x0a || c === 0x0d) {
      throw new TypeError(`encodeHeaderBlock: value of ${name} has a character outside latin1, or a NUL, CR or LF, at ${i}`);
    }
  }
}

/**
 * Encodes fields as one HPACK header block for our responses (pre-encoded once
 * by callers, so built for clarity rather than speed). No dynamic table and no
 * Huffman, so the peer's decoder state never depends on what we sent before
 * and the block can be reused on any connection: an exact static-table match
 * is sent indexed (§6.1, e.g. ':status: 200' -> 0x88), otherwise a literal
 * without indexing (§6.2.2) with the static name index when there is one.
 * Throws TypeError for a name that is not lowercase or a value that is not latin1.
 *
 * One exception to "reusable anywhere": if the peer lowers its
 * SETTINGS_HEADER_TABLE_SIZE below the 4096 default, RFC 7541 §4.2 has our next
 * block open with a dynamic table size update, and nghttp2-based decoders
 * enforce it. Prefix that block with encodeTableSizeUpdate(newSize).
 */
export function encodeHeaderBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    checkName(name);
    checkValue(name, value);
    const nameIndex = STATIC_NAME_INDEX.get(name);
    if (nameIndex === undefined) {
      out.push(0x00);
      pushString(out, name);
    } else {
      let exact = 0;
      for (let i = nameIndex; exact === 0 && i <= STATIC_LENGTH && STATIC_TABLE[i - 1]?.[0] === name; i++) {
        if (STATIC_TABLE[i - 1]?.[1] === value) exact = i;
      }
      if (exact !== 0) {
        pushInteger(out, 0x80, 7, exact);
        continue;
      }
      pushInteger(out, 0x00, 4, nameIndex);
    }
    pushString(out, value);
  }
  return Buffer.from(out);
}

/** §6.3 Dynamic Table Size Update (001xxxxx) announcing our encoder's table size; see encodeHeaderBlock. */
export function encodeTableSizeUpdate(size: number): Buffer {
  if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) {
    throw new RangeError(`encodeTableSizeUpdate: size must be an integer from 0 to 2^32 - 1, got ${size}`);
  }
  const out: number[] = [];
  pushInteger(out, 0x20, 5, size);
  return Buffer.from(out);
}
