// The hand-written CheckRequest decoder, case by case: hand-made wire bytes for
// the edges protobuf-es defines (UTF-8, int64, merging, groups, tags) and the
// ones where the decoder is deliberately stricter or more tolerant.
import { describe, expect, it } from '@jest/globals';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { CheckRequestSchema, type CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { MIX } from '../../bench/compare/mix.js';
import { decodeCheckRequest } from '../src/check-request-wire.js';
import { project } from './check-request-wire-helpers.js';

const utf8 = new TextEncoder();

function pbes(bytes: Uint8Array): CheckRequest {
  return fromBinary(CheckRequestSchema, bytes, { readUnknownFields: false });
}

// Wire bytes by hand: tags, varints and length-delimited fields.
function varint(n: bigint | number): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const tag = (field: number, wire: number): number[] => varint((field << 3) | wire);
const raw = (...parts: (number[] | Uint8Array)[]): number[] => parts.flatMap((p) => Array.from(p));
const len = (field: number, ...payload: (number[] | Uint8Array)[]): number[] => {
  const body = raw(...payload);
  return [...tag(field, 2), ...varint(body.length), ...body];
};
const str = (field: number, s: string): number[] => len(field, utf8.encode(s));
/** A CheckRequest whose attributes.request.http holds these fields. */
const http = (...fields: number[][]): Uint8Array => Uint8Array.from(len(1, len(4, len(2, ...fields))));
const attributes = (...fields: number[][]): Uint8Array => Uint8Array.from(len(1, ...fields));

/** Both decoders agree: same fields, or both throw. */
function expectSame(bytes: Uint8Array): void {
  let theirs: CheckRequest | undefined;
  try {
    theirs = pbes(bytes);
  } catch {
    expect(() => decodeCheckRequest(bytes)).toThrow(Error);
    return;
  }
  expect(project(decodeCheckRequest(bytes))).toEqual(project(theirs));
}

describe('decodeCheckRequest reads what protobuf-es reads', () => {
  it('decodes every request of the benchmark mix to the same fields', () => {
    for (const m of MIX) {
      const bytes = toBinary(CheckRequestSchema, checkRequestFrom(m.request, 1_764_400_000_123));
      expect(project(decodeCheckRequest(bytes))).toEqual(project(pbes(bytes)));
    }
  });

  it('decodes the empty input as a request without attributes', () => {
    expect(decodeCheckRequest(new Uint8Array(0))).toEqual({ attributes: undefined });
  });

  it('rejects invalid UTF-8 in every string it reads, as protobuf-es does', () => {
    const bad = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x61, 0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]];
    for (const b of bad) {
      const long = [...new Array<number>(300).fill(0x61), ...b];
      for (const bytes of [
        http(len(2, b)), http(len(4, long)), http(len(11, long)), http(len(3, len(1, b))), http(len(3, str(1, 'k'), len(2, b))),
        http(len(13, len(1, len(1, b)))), http(len(13, len(1, str(1, 'k'), len(2, b)))), attributes(len(10, len(1, b))),
      ]) {
        expect(() => pbes(bytes)).toThrow();
        expect(() => decodeCheckRequest(bytes)).toThrow('string is not valid UTF-8');
      }
    }
  });

  it('keeps a leading byte-order mark and decodes multi-byte characters like protobuf-es', () => {
    for (const s of ['\ufeffGET', '\ufeff', 'é', '€/𝄞', 'a'.repeat(255) + 'é', '\0\x7f']) {
      const bytes = http(str(2, s), str(4, s), len(3, str(1, s), str(2, s)));
      expectSame(bytes);
      expect(decodeCheckRequest(bytes).attributes?.request?.http?.method).toBe(s);
    }
  });

  it('reads request.time seconds as a two\'s complement int64, up to 10 varint bytes, and nanos as int32', () => {
    for (const seconds of [0n, 1n, 1_764_400_000n, 2n ** 31n, 2n ** 32n + 5n, 2n ** 63n - 1n, -1n, -(2n ** 63n), -62_135_596_800n]) {
      for (const nanos of [0, 999_999_999, -1, -(2 ** 31)]) {
        const bytes = Uint8Array.from(len(1, len(4, len(1, tag(1, 0), varint(seconds), tag(2, 0), varint(BigInt.asUintN(64, BigInt(nanos)))))));
        expect(decodeCheckRequest(bytes).attributes?.request?.time).toEqual({ seconds, nanos });
        expectSame(bytes);
      }
    }
  });

  it('rejects an 11-byte varint in a field it reads, as protobuf-es does', () => {
    const eleven = [...new Array<number>(10).fill(0xff), 0x01];
    for (const bytes of [Uint8Array.from(len(1, len(4, len(1, tag(1, 0), eleven)))), Uint8Array.from(len(1, len(4, len(1, tag(2, 0), eleven))))]) {
      expect(() => pbes(bytes)).toThrow('invalid varint');
      expect(() => decodeCheckRequest(bytes)).toThrow('varint longer than 10 bytes');
    }
  });

  it('merges a message sent twice, lets the last string win, overwrites map entries per key and appends header_map', () => {
    const bytes = Uint8Array.from(raw(
      len(1, len(4, len(2, str(2, 'GET'), len(3, str(1, 'a'), str(2, '1')), len(13, len(1, str(1, 'x'), str(2, 'first')))))),
      len(1, len(10, str(1, 'k'), str(2, 'v')), len(4, len(2, str(4, '/p'), len(3, str(1, 'a'), str(2, '2')), len(3, str(2, 'no key')), len(3, str(1, 'no value'))))),
      len(1, len(4, len(2, str(2, 'POST'), len(13, len(1, str(1, 'y'), len(3, [0xff])))))),
    ));
    expectSame(bytes);
    const h = decodeCheckRequest(bytes).attributes?.request?.http;
    expect(h?.method).toBe('POST');
    expect(h?.path).toBe('/p');
    expect(Object.entries(h?.headers ?? {})).toEqual([['a', '2'], ['', 'no key'], ['no value', '']]);
    expect(h?.headerMap?.headers.map((x) => [x.key, x.value, Array.from(x.rawValue)])).toEqual([['x', 'first', []], ['y', '', [0xff]]]);
    expect(decodeCheckRequest(bytes).attributes?.contextExtensions).toEqual({ k: 'v' });
  });

  it('keeps a header named __proto__ as an own entry, not a prototype', () => {
    const bytes = http(len(3, str(1, '__proto__'), str(2, 'v')), len(3, str(1, 'constructor'), str(2, 'c')));
    expectSame(bytes);
    const headers = decodeCheckRequest(bytes).attributes?.request?.http?.headers ?? {};
    expect(Object.entries(headers)).toEqual([['__proto__', 'v'], ['constructor', 'c']]);
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
  });

  it('decodes a request larger than the whole-input text cache the same way', () => {
    const body = 'x'.repeat(9000);
    const bytes = http(str(2, 'POST'), str(11, body), len(3, str(1, 'content-type'), str(2, 'application/json')), str(4, '/é'));
    expectSame(bytes);
    expect(decodeCheckRequest(bytes).attributes?.request?.http?.body).toBe(body);
  });

  it('returns raw_body and raw header values as views of the input, as protobuf-es does', () => {
    const bytes = http(len(12, [0, 0xff, 0x80]), len(13, len(1, str(1, 'k'), len(3, [0xfe]))));
    const h = decodeCheckRequest(bytes).attributes?.request?.http;
    expect(Array.from(h?.rawBody ?? [])).toEqual([0, 0xff, 0x80]);
    expect(h?.rawBody.buffer).toBe(bytes.buffer);
    expectSame(bytes);
  });
});

describe('decodeCheckRequest on malformed framing', () => {
  it('throws on field number 0, wire types 6 and 7, and tags over 32 bits, as protobuf-es does', () => {
    for (const bytes of [[0x02, 0x00], [0x0e], [0x0f], [0x0a, 0x02, 0x07, 0x00], [0x80, 0x80, 0x80, 0x80, 0x10], [0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00]]) {
      const b = Uint8Array.from(bytes);
      expect(() => pbes(b)).toThrow();
      expect(() => decodeCheckRequest(b)).toThrow(/illegal tag|tag overflows/);
    }
  });

  it('throws on truncated varints and on lengths past the end of the input, as protobuf-es does', () => {
    const valid = http(str(2, 'GET'), str(4, '/x'), len(3, str(1, 'a'), str(2, 'b')));
    for (let cut = 1; cut < valid.length; cut++) expectSame(valid.subarray(0, cut));
    for (const bytes of [[0x0a], [0x0a, 0x80], [0x0a, 0x05, 0x00], [0x08, 0x80], [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]]) {
      const b = Uint8Array.from(bytes);
      expect(() => pbes(b)).toThrow();
      expect(() => decodeCheckRequest(b)).toThrow(Error);
    }
  });

  it('skips unknown fields of every wire type, groups included, and throws on a stray or mismatched end group, as protobuf-es does', () => {
    const unknown = raw(tag(99, 0), varint(2n ** 64n - 1n), tag(98, 1), new Array<number>(8).fill(1), tag(97, 5), [1, 2, 3, 4], str(96, 'skip'),
      tag(95, 3), tag(1, 0), [5], tag(2, 3), tag(2, 4), tag(95, 4));
    expectSame(http(unknown, str(2, 'GET')));
    expect(decodeCheckRequest(http(unknown, str(2, 'GET'))).attributes?.request?.http?.method).toBe('GET');
    for (const bytes of [http(tag(95, 4)), http(tag(95, 3), tag(94, 4)), http(tag(95, 3))]) {
      expect(() => pbes(bytes)).toThrow();
      expect(() => decodeCheckRequest(bytes)).toThrow(Error);
    }
  });

  it('limits group nesting in unknown fields as protobuf-es does (100 levels counting the enclosing messages)', () => {
    const nested = (depth: number): Uint8Array => http(raw(...Array.from({ length: depth }, () => tag(50, 3)), ...Array.from({ length: depth }, () => tag(50, 4))));
    for (const depth of [1, 95, 96, 97]) expectSame(nested(depth));
    // HttpRequest is the fourth message down: 96 groups fit, the 97th does not.
    expect(() => decodeCheckRequest(nested(96))).not.toThrow();
    expect(() => decodeCheckRequest(nested(97))).toThrow('groups nested too deep');
  });

  it('is stricter than protobuf-es on a declared field sent with another wire type: it throws instead of misreading', () => {
    // method (string) as a varint: protobuf-es reads the varint as a length and the next byte as the string.
    const bytes = http(tag(2, 0), [1, 0x41]);
    expect(pbes(bytes).attributes?.request?.http?.method).toBe('A');
    expect(() => decodeCheckRequest(bytes)).toThrow('HttpRequest field 2: unexpected wire type 0');
  });

  it('tolerates, unlike protobuf-es, malformed content in fields the decision does not read', () => {
    const source = len(1, len(2, [0xff]));
    const invalidId = len(1, [0xff]);
    for (const bytes of [attributes(source, len(4, len(2, str(2, 'GET')))), http(invalidId, str(2, 'GET'))]) {
      expect(() => pbes(bytes)).toThrow();
      expect(decodeCheckRequest(bytes).attributes?.request?.http?.method).toBe('GET');
    }
  });

  it('reads on after a field that runs past the end of its message, as protobuf-es does', () => {
    // HttpRequest declared 2 bytes long, holding a 5-byte method: reading resumes after the method.
    const bytes = Uint8Array.from(len(1, len(4, [...tag(2, 2), 2, ...tag(2, 2), 3, 0x47, 0x45, 0x54]), len(10, str(1, 'k'), str(2, 'v'))));
    expectSame(bytes);
    expect(decodeCheckRequest(bytes).attributes?.request?.http?.method).toBe('GET');
    expect(decodeCheckRequest(bytes).attributes?.contextExtensions).toEqual({ k: 'v' });
  });
});
