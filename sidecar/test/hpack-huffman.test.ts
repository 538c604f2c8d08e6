// HPACK Huffman decoding (RFC 7541 §5.2) against the code table exactly as
// Appendix B prints it. huffman.ts keeps only the code lengths and rebuilds the
// codes; the reference encoder here uses the RFC's own hex codes, so a wrong
// length or a wrong rebuild shows up as a decode mismatch.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { HpackError } from '../src/authz/h2/hpack-error.js';
import { huffmanDecode } from '../src/authz/h2/huffman.js';

/** RFC 7541 Appendix B: [code as hex aligned to LSB, length in bits] for symbols 0..255, then EOS. */
const RFC_CODES: ReadonlyArray<readonly [number, number]> = [
  [0x1ff8, 13], [0x7fffd8, 23], [0xfffffe2, 28], [0xfffffe3, 28], [0xfffffe4, 28], [0xfffffe5, 28], [0xfffffe6, 28], [0xfffffe7, 28], // 0
  [0xfffffe8, 28], [0xffffea, 24], [0x3ffffffc, 30], [0xfffffe9, 28], [0xfffffea, 28], [0x3ffffffd, 30], [0xfffffeb, 28], [0xfffffec, 28], // 8
  [0xfffffed, 28], [0xfffffee, 28], [0xfffffef, 28], [0xffffff0, 28], [0xffffff1, 28], [0xffffff2, 28], [0x3ffffffe, 30], [0xffffff3, 28], // 16
  [0xffffff4, 28], [0xffffff5, 28], [0xffffff6, 28], [0xffffff7, 28], [0xffffff8, 28], [0xffffff9, 28], [0xffffffa, 28], [0xffffffb, 28], // 24
  [0x14, 6], [0x3f8, 10], [0x3f9, 10], [0xffa, 12], [0x1ff9, 13], [0x15, 6], [0xf8, 8], [0x7fa, 11], // 32
  [0x3fa, 10], [0x3fb, 10], [0xf9, 8], [0x7fb, 11], [0xfa, 8], [0x16, 6], [0x17, 6], [0x18, 6], // 40
  [0x0, 5], [0x1, 5], [0x2, 5], [0x19, 6], [0x1a, 6], [0x1b, 6], [0x1c, 6], [0x1d, 6], // 48
  [0x1e, 6], [0x1f, 6], [0x5c, 7], [0xfb, 8], [0x7ffc, 15], [0x20, 6], [0xffb, 12], [0x3fc, 10], // 56
  [0x1ffa, 13], [0x21, 6], [0x5d, 7], [0x5e, 7], [0x5f, 7], [0x60, 7], [0x61, 7], [0x62, 7], // 64
  [0x63, 7], [0x64, 7], [0x65, 7], [0x66, 7], [0x67, 7], [0x68, 7], [0x69, 7], [0x6a, 7], // 72
  [0x6b, 7], [0x6c, 7], [0x6d, 7], [0x6e, 7], [0x6f, 7], [0x70, 7], [0x71, 7], [0x72, 7], // 80
  [0xfc, 8], [0x73, 7], [0xfd, 8], [0x1ffb, 13], [0x7fff0, 19], [0x1ffc, 13], [0x3ffc, 14], [0x22, 6], // 88
  [0x7ffd, 15], [0x3, 5], [0x23, 6], [0x4, 5], [0x24, 6], [0x5, 5], [0x25, 6], [0x26, 6], // 96
  [0x27, 6], [0x6, 5], [0x74, 7], [0x75, 7], [0x28, 6], [0x29, 6], [0x2a, 6], [0x7, 5], // 104
  [0x2b, 6], [0x76, 7], [0x2c, 6], [0x8, 5], [0x9, 5], [0x2d, 6], [0x77, 7], [0x78, 7], // 112
  [0x79, 7], [0x7a, 7], [0x7b, 7], [0x7ffe, 15], [0x7fc, 11], [0x3ffd, 14], [0x1ffd, 13], [0xffffffc, 28], // 120
  [0xfffe6, 20], [0x3fffd2, 22], [0xfffe7, 20], [0xfffe8, 20], [0x3fffd3, 22], [0x3fffd4, 22], [0x3fffd5, 22], [0x7fffd9, 23], // 128
  [0x3fffd6, 22], [0x7fffda, 23], [0x7fffdb, 23], [0x7fffdc, 23], [0x7fffdd, 23], [0x7fffde, 23], [0xffffeb, 24], [0x7fffdf, 23], // 136
  [0xffffec, 24], [0xffffed, 24], [0x3fffd7, 22], [0x7fffe0, 23], [0xffffee, 24], [0x7fffe1, 23], [0x7fffe2, 23], [0x7fffe3, 23], // 144
  [0x7fffe4, 23], [0x1fffdc, 21], [0x3fffd8, 22], [0x7fffe5, 23], [0x3fffd9, 22], [0x7fffe6, 23], [0x7fffe7, 23], [0xffffef, 24], // 152
  [0x3fffda, 22], [0x1fffdd, 21], [0xfffe9, 20], [0x3fffdb, 22], [0x3fffdc, 22], [0x7fffe8, 23], [0x7fffe9, 23], [0x1fffde, 21], // 160
  [0x7fffea, 23], [0x3fffdd, 22], [0x3fffde, 22], [0xfffff0, 24], [0x1fffdf, 21], [0x3fffdf, 22], [0x7fffeb, 23], [0x7fffec, 23], // 168
  [0x1fffe0, 21], [0x1fffe1, 21], [0x3fffe0, 22], [0x1fffe2, 21], [0x7fffed, 23], [0x3fffe1, 22], [0x7fffee, 23], [0x7fffef, 23], // 176
  [0xfffea, 20], [0x3fffe2, 22], [0x3fffe3, 22], [0x3fffe4, 22], [0x7ffff0, 23], [0x3fffe5, 22], [0x3fffe6, 22], [0x7ffff1, 23], // 184
  [0x3ffffe0, 26], [0x3ffffe1, 26], [0xfffeb, 20], [0x7fff1, 19], [0x3fffe7, 22], [0x7ffff2, 23], [0x3fffe8, 22], [0x1ffffec, 25], // 192
  [0x3ffffe2, 26], [0x3ffffe3, 26], [0x3ffffe4, 26], [0x7ffffde, 27], [0x7ffffdf, 27], [0x3ffffe5, 26], [0xfffff1, 24], [0x1ffffed, 25], // 200
  [0x7fff2, 19], [0x1fffe3, 21], [0x3ffffe6, 26], [0x7ffffe0, 27], [0x7ffffe1, 27], [0x3ffffe7, 26], [0x7ffffe2, 27], [0xfffff2, 24], // 208
  [0x1fffe4, 21], [0x1fffe5, 21], [0x3ffffe8, 26], [0x3ffffe9, 26], [0xffffffd, 28], [0x7ffffe3, 27], [0x7ffffe4, 27], [0x7ffffe5, 27], // 216
  [0xfffec, 20], [0xfffff3, 24], [0xfffed, 20], [0x1fffe6, 21], [0x3fffe9, 22], [0x1fffe7, 21], [0x1fffe8, 21], [0x7ffff3, 23], // 224
  [0x3fffea, 22], [0x3fffeb, 22], [0x1ffffee, 25], [0x1ffffef, 25], [0xfffff4, 24], [0xfffff5, 24], [0x3ffffea, 26], [0x7ffff4, 23], // 232
  [0x3ffffeb, 26], [0x7ffffe6, 27], [0x3ffffec, 26], [0x3ffffed, 26], [0x7ffffe7, 27], [0x7ffffe8, 27], [0x7ffffe9, 27], [0x7ffffea, 27], // 240
  [0x7ffffeb, 27], [0xffffffe, 28], [0x7ffffec, 27], [0x7ffffed, 27], [0x7ffffee, 27], [0x7ffffef, 27], [0x7fffff0, 27], [0x3ffffee, 26], // 248
  [0x3fffffff, 30], // 256
];
const EOS = 256;

/** Reference encoder: concatenate the codes, pad with the high bits of EOS (all ones) to a byte. */
function encode(symbols: Iterable<number>): Buffer {
  let bits = '';
  for (const s of symbols) {
    const [code, length] = RFC_CODES[s]!;
    bits += code.toString(2).padStart(length, '0');
  }
  bits += '1'.repeat((8 - (bits.length % 8)) % 8);
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  return out;
}

function fromBits(bits: string): Buffer {
  return Buffer.from(bits.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)));
}

function decode(bytes: Uint8Array): string {
  return huffmanDecode(bytes, 0, bytes.length);
}

const latin1 = (bytes: Iterable<number>): string => String.fromCharCode(...bytes);

describe('huffmanDecode (RFC 7541 §5.2, Appendix B)', () => {
  it('decodes each of the 256 byte values, alone and after a 5-bit symbol', () => {
    for (let b = 0; b < 256; b++) {
      expect(decode(encode([b]))).toBe(latin1([b]));
      // 'a' first shifts the code to every other bit alignment within a byte.
      expect(decode(encode([0x61, b, 0x61]))).toBe(latin1([0x61, b, 0x61]));
    }
  });

  it('decodes all 256 byte values in one string, in both orders', () => {
    const all = Array.from({ length: 256 }, (_, b) => b);
    expect(decode(encode(all))).toBe(latin1(all));
    expect(decode(encode(all.reverse()))).toBe(latin1(all));
  });

  it('decodes the Huffman strings of RFC 7541 Appendix C.4 and C.6', () => {
    const examples: Array<[string, string]> = [
      ['f1e3c2e5f23a6ba0ab90f4ff', 'www.example.com'],
      ['a8eb10649cbf', 'no-cache'],
      ['25a849e95ba97d7f', 'custom-key'],
      ['25a849e95bb8e8b4bf', 'custom-value'],
      ['6402', '302'],
      ['640eff', '307'],
      ['aec3771a4b', 'private'],
      ['d07abe941054d444a8200595040b8166e082a62d1bff', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['9d29ad171863c78f0b97c8e9ae82ae43d3', 'https://www.example.com'],
      ['94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
        'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ];
    for (const [hex, text] of examples) {
      expect(decode(Buffer.from(hex, 'hex'))).toBe(text);
      expect(encode(Buffer.from(text, 'latin1')).toString('hex')).toBe(hex);
    }
  });

  it('decodes the empty string and a string in the middle of a larger buffer', () => {
    expect(decode(new Uint8Array(0))).toBe('');
    const inner = encode(Buffer.from('grpc-timeout'));
    const framed = Buffer.concat([Buffer.from([0x00, 0xff]), inner, Buffer.from([0x00])]);
    expect(huffmanDecode(framed, 2, 2 + inner.length)).toBe('grpc-timeout');
  });

  it('decodes any byte string the reference encoder produces', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      expect(decode(encode(bytes))).toBe(latin1(bytes));
    }), { numRuns: 500 });
  });

  it('rejects a string containing EOS, wherever it sits', () => {
    expect(() => decode(encode([EOS]))).toThrow(HpackError);
    expect(() => decode(encode([0x61, EOS, 0x61]))).toThrow(HpackError);
    for (let b = 0; b < 256; b += 17) expect(() => decode(encode([b, EOS]))).toThrow(/EOS/);
  });

  it('rejects padding longer than 7 bits', () => {
    // 'a' is 00011: 3 bits of padding complete the byte; another all-ones byte makes 11.
    expect(decode(fromBits('00011111'))).toBe('a');
    expect(() => decode(fromBits('0001111111111111'))).toThrow(HpackError);
    // A lone all-ones byte is 8 bits of padding, not a symbol.
    expect(() => decode(fromBits('11111111'))).toThrow(/padding/);
    expect(() => decode(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(HpackError);
  });

  it('rejects padding that is not all ones', () => {
    expect(() => decode(fromBits('00011000'))).toThrow(/padding/); // 'a' then 000
    expect(() => decode(fromBits('00011101'))).toThrow(HpackError); // 'a' then 101
    expect(() => decode(fromBits('00000000'))).toThrow(HpackError); // '0' then 000
    expect(() => decode(fromBits('1111111111000000'))).toThrow(HpackError); // symbol 0 (13 bits) then 000
  });

  it('throws nothing but HpackError for arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        expect(typeof decode(bytes)).toBe('string');
      } catch (error: unknown) {
        expect(error).toBeInstanceOf(HpackError);
      }
    }), { numRuns: 2000 });
  });
});
