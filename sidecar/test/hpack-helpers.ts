// Shared by the HPACK tests: hex blocks, decoding to a field list, and
// test-local integer and raw string encoders (RFC 7541 §5.1, §5.2) for
// building blocks by hand, independent of the encoder under test.
import type { HpackDecoder } from '../src/authz/h2/hpack.js';

export type Field = [name: string, value: string];

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

export function decodeBlock(decoder: HpackDecoder, block: Uint8Array): Field[] {
  const fields: Field[] = [];
  decoder.decode(block, 0, block.length, { header: (name, value) => fields.push([name, value]) });
  return fields;
}

export function pushInteger(out: number[], flags: number, prefixBits: number, value: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(flags | value);
    return;
  }
  out.push(flags | mask);
  let rest = value - mask;
  for (; rest >= 128; rest = Math.floor(rest / 128)) out.push(0x80 | (rest % 128));
  out.push(rest);
}

export function pushString(out: number[], s: string): void {
  pushInteger(out, 0, 7, s.length);
  out.push(...Buffer.from(s, 'latin1'));
}
