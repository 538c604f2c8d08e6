// HPACK header block decoding (RFC 7541): every example of Appendix C, the
// dynamic table against a naive model, the literal cache, and malformed input.
// Huffman strings: hpack-huffman.test.ts; our response encoder:
// hpack-encode.test.ts; node:http2 as a real peer encoder: hpack-node.test.ts.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { encodeHeaderBlock, headerFieldSize, HpackDecoder, HpackError } from '../src/authz/h2/hpack.js';
import { decodeBlock, hex, pushInteger, pushString, type Field } from './hpack-helpers.js';

/** One header block of an Appendix C sequence and the state it leaves. */
interface Step { headers: Field[]; table: Field[]; size: number }

const AUTHORITY: Field = [':authority', 'www.example.com'];
const REQUESTS: Step[] = [
  { headers: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], AUTHORITY], table: [AUTHORITY], size: 57 },
  {
    headers: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], AUTHORITY, ['cache-control', 'no-cache']],
    table: [['cache-control', 'no-cache'], AUTHORITY],
    size: 110,
  },
  {
    headers: [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], AUTHORITY, ['custom-key', 'custom-value']],
    table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], AUTHORITY],
    size: 164,
  },
];

const PRIVATE: Field = ['cache-control', 'private'];
const DATE_21: Field = ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'];
const DATE_22: Field = ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'];
const LOCATION: Field = ['location', 'https://www.example.com'];
const COOKIE: Field = ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'];
const RESPONSES: Step[] = [
  { headers: [[':status', '302'], PRIVATE, DATE_21, LOCATION], table: [LOCATION, DATE_21, PRIVATE, [':status', '302']], size: 222 },
  { headers: [[':status', '307'], PRIVATE, DATE_21, LOCATION], table: [[':status', '307'], LOCATION, DATE_21, PRIVATE], size: 222 },
  {
    headers: [[':status', '200'], PRIVATE, DATE_22, LOCATION, ['content-encoding', 'gzip'], COOKIE],
    table: [COOKIE, ['content-encoding', 'gzip'], DATE_22],
    size: 215,
  },
];

/** Decodes a sequence of blocks on one connection's decoder, checking each step. */
function expectSequence(decoder: HpackDecoder, blocks: string[], steps: Step[]): void {
  for (const [i, block] of blocks.entries()) {
    const step = steps[i]!;
    expect(decodeBlock(decoder, hex(block))).toEqual(step.headers);
    expect(decoder.dynamicTable()).toEqual(step.table);
    expect(decoder.dynamicTableSize).toBe(step.size);
  }
}

describe('HpackDecoder: RFC 7541 Appendix C examples', () => {
  it('C.2 decodes each literal representation and the indexed one', () => {
    const cases: Array<[string, Field, number]> = [
      ['400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', ['custom-key', 'custom-header'], 55], // C.2.1
      ['040c 2f73 616d 706c 652f 7061 7468', [':path', '/sample/path'], 0], // C.2.2
      ['1008 7061 7373 776f 7264 0673 6563 7265 74', ['password', 'secret'], 0], // C.2.3
      ['82', [':method', 'GET'], 0], // C.2.4
    ];
    for (const [block, field, size] of cases) {
      const decoder = new HpackDecoder();
      expect(decodeBlock(decoder, hex(block))).toEqual([field]);
      expect(decoder.dynamicTableSize).toBe(size);
    }
    expect(headerFieldSize('custom-key', 'custom-header')).toBe(55);
  });

  it('C.3 decodes three requests without Huffman, carrying the dynamic table across them', () => {
    expectSequence(new HpackDecoder(), [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ], REQUESTS);
  });

  it('C.4 decodes the same requests with Huffman-coded strings', () => {
    expectSequence(new HpackDecoder(), [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ], REQUESTS);
  });

  it('C.5 decodes three responses in a 256-byte table, evicting the oldest entries', () => {
    expectSequence(new HpackDecoder(256), [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d'
        + '546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f'
        + '6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b'
        + '2076 6572 7369 6f6e 3d31',
    ], RESPONSES);
  });

  it('C.6 decodes the same responses with Huffman-coded strings', () => {
    expectSequence(new HpackDecoder(256), [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7'
        + '8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335'
        + 'dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ], RESPONSES);
  });
});

describe('HpackDecoder: the dynamic table', () => {
  it('applies size updates at the start of a block, evicting to fit, up to the SETTINGS value', () => {
    const decoder = new HpackDecoder();
    decodeBlock(decoder, hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'));
    decodeBlock(decoder, hex('8286 84be 5808 6e6f 2d63 6163 6865'));
    expect(decoder.dynamicTableSize).toBe(110);
    // Size 60 (31 + 29): only the newest entry (53) fits.
    expect(decodeBlock(decoder, hex('3f1d 82'))).toEqual([[':method', 'GET']]);
    expect(decoder.dynamicTable()).toEqual([['cache-control', 'no-cache']]);
    // Two updates in one block (§4.2): to 0, which empties the table, then back to 4096.
    expect(decodeBlock(decoder, hex('20 3fe11f'))).toEqual([]);
    expect(decoder.dynamicTableSize).toBe(0);
    expect(decodeBlock(decoder, hex('4001 6101 62 be'))).toEqual([['a', 'b'], ['a', 'b']]);
  });

  it('empties the table when a new entry is larger than the whole table, and still emits it (§4.4)', () => {
    const decoder = new HpackDecoder(100);
    const big = 'y'.repeat(80); // 32 + 1 + 80 = 113 > 100
    const block = Buffer.concat([hex('4001 6101 62'), hex('4001 7850'), Buffer.from(big)]);
    expect(decodeBlock(decoder, block)).toEqual([['a', 'b'], ['x', big]]);
    expect(decoder.dynamicTable()).toEqual([]);
    expect(decoder.dynamicTableSize).toBe(0);
  });

  it('a table of size 0 never holds anything', () => {
    const decoder = new HpackDecoder(0);
    expect(decodeBlock(decoder, hex('4001 6101 62'))).toEqual([['a', 'b']]);
    expect(() => decodeBlock(decoder, hex('be'))).toThrow(HpackError);
  });

  it('matches a naive model over long random sequences of insertions, references and size updates', () => {
    // A reference encoder with its own array-backed table: new fields go in as
    // literals with incremental indexing and new names; references pick a live
    // dynamic entry; size updates open some blocks. The decoder must emit the
    // same fields and hold the same table after every block.
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), name: fc.stringMatching(/^[a-z]{1,8}$/), value: fc.string({ maxLength: 90 }) }),
      fc.record({ kind: fc.constant('reference' as const), pick: fc.nat() }),
    );
    const block = fc.record({ update: fc.option(fc.integer({ min: 0, max: 4096 })), ops: fc.array(op, { maxLength: 12 }) });
    fc.assert(fc.property(fc.array(block, { minLength: 1, maxLength: 40 }), (blocks) => {
      const decoder = new HpackDecoder();
      const model: Field[] = [];
      let maxSize = 4096;
      const size = (): number => model.reduce((sum, [n, v]) => sum + headerFieldSize(n, v), 0);
      for (const { update, ops } of blocks) {
        const bytes: number[] = [];
        const expected: Field[] = [];
        if (update !== null) {
          pushInteger(bytes, 0x20, 5, update);
          maxSize = update;
          while (size() > maxSize) model.pop();
        }
        for (const o of ops) {
          if (o.kind === 'insert' || model.length === 0) {
            const [name, value] = o.kind === 'insert' ? [o.name, o.value] : ['n', 'v'];
            bytes.push(0x40);
            pushString(bytes, name);
            pushString(bytes, value);
            model.unshift([name, value]);
            while (model.length > 0 && size() > maxSize) model.pop();
            expected.push([name, value]);
          } else {
            const i = o.pick % model.length;
            pushInteger(bytes, 0x80, 7, 62 + i);
            expected.push(model[i]!);
          }
        }
        expect(decodeBlock(decoder, Buffer.from(bytes))).toEqual(expected);
        expect(decoder.dynamicTable()).toEqual(model);
        expect(decoder.dynamicTableSize).toBe(size());
      }
    }), { numRuns: 200 });
  });
});

describe('HpackDecoder: repeated literals without indexing', () => {
  it('returns the right string whatever repeats, collides or differs only in coding', () => {
    // Same-length values that differ only in their second byte (so they share
    // a cache slot and only the full comparison tells them apart), and lengths
    // around the 64-byte cache limit, in a random order on one decoder.
    const pool = [0, 1, 2, 5, 12, 31, 63, 64, 65, 100].flatMap((n) => ['a', 'b', 'c'].map((c) => `x${c}${'y'.repeat(n)}`.slice(0, n)));
    fc.assert(fc.property(fc.array(fc.nat(pool.length - 1), { minLength: 1, maxLength: 60 }), (picks) => {
      const decoder = new HpackDecoder();
      for (const pick of picks) {
        const value = pool[pick]!;
        const bytes: number[] = [0x04]; // literal without indexing, name :path
        pushString(bytes, value);
        expect(decodeBlock(decoder, Buffer.from(bytes))).toEqual([[':path', value]]);
      }
    }), { numRuns: 300 });
    // The same 12 bytes, Huffman-coded and raw, are different strings.
    const decoder = new HpackDecoder();
    const bytes = hex('f1e3c2e5f23a6ba0ab90f4ff');
    for (let i = 0; i < 2; i++) {
      expect(decodeBlock(decoder, Buffer.concat([hex('048c'), bytes]))).toEqual([[':path', 'www.example.com']]);
      expect(decodeBlock(decoder, Buffer.concat([hex('040c'), bytes]))).toEqual([[':path', bytes.toString('latin1')]]);
      expect(decodeBlock(decoder, Buffer.concat([hex('140c'), bytes]))).toEqual([[':path', bytes.toString('latin1')]]);
    }
  });
});

describe('HpackDecoder: malformed blocks are COMPRESSION_ERRORs', () => {
  const cases: Array<[string, string]> = [
    ['index 0', '80'],
    ['an index past an empty dynamic table', 'be'],
    ['a literal whose indexed name is past the table', '7e 0161'],
    ['a string longer than the rest of the block', '400a 6162'],
    ['a block ending before a literal value', '4001 61'],
    ['a block ending inside an integer', 'ff'],
    ['a block ending inside an integer continuation', 'ff 80'],
    ['an integer above 2^31 - 1', 'ff ffffffff0f'],
    ['an integer with more than 5 continuation bytes', 'ff 808080808000'],
    ['a Huffman value containing EOS', '0001 61 84 ffffffff'],
    ['a Huffman value with zero padding', '0001 61 81 18'],
    ['a size update after a header field', '82 20'],
    ['a size update above SETTINGS_HEADER_TABLE_SIZE', '3fe21f'],
  ];
  it.each(cases)('rejects %s', (_, block) => {
    expect(() => decodeBlock(new HpackDecoder(), hex(block))).toThrow(HpackError);
  });

  it('rejects a size update above a smaller SETTINGS value, and accepts one equal to it', () => {
    expect(() => decodeBlock(new HpackDecoder(256), hex('3fe201'))).toThrow(/exceeds SETTINGS_HEADER_TABLE_SIZE 256/);
    expect(decodeBlock(new HpackDecoder(256), hex('3fe101 82'))).toEqual([[':method', 'GET']]);
  });

  it('treats bad arguments as programming errors (RangeError), not as peer errors', () => {
    expect(() => new HpackDecoder(-1)).toThrow(RangeError);
    expect(() => new HpackDecoder(1.5)).toThrow(RangeError);
    expect(() => new HpackDecoder().decode(hex('82'), 0, 2, { header: () => undefined })).toThrow(RangeError);
  });

  it('decodes a block in the middle of a larger plain Uint8Array', () => {
    const bytes = new Uint8Array([0xff, 0xff, ...hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'), 0xff]);
    const fields: Field[] = [];
    new HpackDecoder().decode(bytes, 2, bytes.length - 1, { header: (n, v) => fields.push([n, v]) });
    expect(fields).toEqual(REQUESTS[0]!.headers);
  });

  it('throws nothing but HpackError for random blocks, each decoded in bounded time', () => {
    let slowest = 0;
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 256 }), { minLength: 1, maxLength: 8 }), (blocks) => {
      const decoder = new HpackDecoder();
      for (const block of blocks) {
        const started = performance.now();
        try {
          decodeBlock(decoder, block);
        } catch (error: unknown) {
          expect(error).toBeInstanceOf(HpackError);
        }
        slowest = Math.max(slowest, performance.now() - started);
      }
    }), { numRuns: 3000 });
    // A safety net against pathological (super-linear) decoding, generous enough for a loaded 2-core machine.
    expect(slowest).toBeLessThan(2000);
  });

  it('throws nothing but HpackError for mutations of valid blocks', () => {
    const valid = [
      hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'),
      hex('4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718'),
      encodeHeaderBlock([[':status', '200'], ['content-type', 'application/grpc'], ['grpc-message', 'x'.repeat(300)]]),
    ];
    const mutation = fc.record({ which: fc.nat(valid.length - 1), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), cut: fc.nat() });
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      const block = Buffer.from(valid[mutations[0]!.which]!);
      for (const { at, byte } of mutations) block[at % block.length] = byte;
      const end = block.length - (mutations[0]!.cut % 4);
      try {
        new HpackDecoder().decode(block, 0, end, { header: () => undefined });
      } catch (error: unknown) {
        expect(error).toBeInstanceOf(HpackError);
      }
    }), { numRuns: 3000 });
  });
});
