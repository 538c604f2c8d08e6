// HPACK encoding of our own responses (RFC 7541 §6.1, §6.2.2, §6.3): exact
// bytes for the representations we choose, and round trips through
// HpackDecoder that must leave its dynamic table untouched.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { encodeHeaderBlock, encodeTableSizeUpdate, HpackDecoder } from '../src/authz/h2/hpack.js';
import { decodeBlock, hex, type Field } from './hpack-helpers.js';

describe('encodeHeaderBlock', () => {
  it('sends an exact static match indexed, a static name with its index, and new names as literals', () => {
    expect(encodeHeaderBlock([[':status', '200']]).toString('hex')).toBe('88');
    // content-type is static index 31: 4-bit prefix 15, then 16.
    expect(encodeHeaderBlock([['content-type', 'application/grpc']]))
      .toEqual(Buffer.concat([hex('0f10 10'), Buffer.from('application/grpc')]));
    expect(encodeHeaderBlock([['grpc-status', '0']])).toEqual(Buffer.concat([hex('000b'), Buffer.from('grpc-status'), hex('0130')]));
    expect(encodeHeaderBlock([[':status', '418']]).toString('hex')).toBe('0803343138');
  });

  it('round-trips through HpackDecoder without touching its dynamic table', () => {
    const fields: Field[] = [
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-status', '0'],
      ['grpc-message', 'caf\u00e9 %20 \t\u007f\u0080\u00ff "quoted" \u0001'],
      [':status', '404'],
      ['accept-encoding', 'gzip, deflate'],
      ['accept-encoding', 'identity'],
      ['x-empty', ''],
      ['x-long', 'a'.repeat(200)], // length 200: a 2-byte integer
      ['x-longer', 'b'.repeat(20000)], // length 20000: a 3-byte integer
    ];
    const decoder = new HpackDecoder();
    const block = encodeHeaderBlock(fields);
    expect(decodeBlock(decoder, block)).toEqual(fields);
    expect(decodeBlock(decoder, block)).toEqual(fields);
    expect(decoder.dynamicTableSize).toBe(0);
  });

  it('round-trips random lowercase names and latin1 values', () => {
    const name = fc.oneof(fc.stringMatching(/^:?[a-z0-9-]{1,30}$/), fc.constantFrom(':status', 'content-type', 'www-authenticate'));
    const value = fc.array(fc.integer({ min: 0, max: 255 }).filter((c) => c !== 0 && c !== 10 && c !== 13), { maxLength: 300 })
      .map((codes) => String.fromCharCode(...codes));
    fc.assert(fc.property(fc.array(fc.tuple(name, value), { maxLength: 10 }), (fields) => {
      expect(decodeBlock(new HpackDecoder(), encodeHeaderBlock(fields))).toEqual(fields);
    }), { numRuns: 300 });
  });

  it('opens a block with a table size update when the peer lowered SETTINGS_HEADER_TABLE_SIZE', () => {
    expect(encodeTableSizeUpdate(0).toString('hex')).toBe('20');
    expect(encodeTableSizeUpdate(256).toString('hex')).toBe('3fe101');
    const block = Buffer.concat([encodeTableSizeUpdate(0), encodeHeaderBlock([[':status', '200'], ['grpc-status', '0']])]);
    expect(decodeBlock(new HpackDecoder(0), block)).toEqual([[':status', '200'], ['grpc-status', '0']]);
    expect(() => encodeTableSizeUpdate(-1)).toThrow(RangeError);
  });

  it('refuses names that are not lowercase and values that are not latin1 or contain CR, LF or NUL', () => {
    for (const field of [['Content-Type', 'x'], ['', 'x'], ['a b', 'x'], ['x', '\u0100'], ['x', 'a\r\nb'], ['x', '\u0000']] as const) {
      expect(() => encodeHeaderBlock([field])).toThrow(TypeError);
    }
  });
});
