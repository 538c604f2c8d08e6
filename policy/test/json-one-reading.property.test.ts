// jsonReadingProblem's duplicate-key check against an oracle that knows the
// document's structure: JSON texts generated from objects as lists of keys,
// with keys that differ only in case (ASCII and the Unicode simple folds),
// written raw or escaped, in objects smaller and larger than the scanner's
// text-comparison bound. The first duplicate in document order is the one
// named; a text without one has one reading.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { foldKey, jsonReadingProblem } from '../src/json-one-reading.js';

type Doc = { readonly kind: 'leaf'; readonly text: string } | { readonly kind: 'array'; readonly items: readonly Doc[] } | { readonly kind: 'object'; readonly entries: readonly (readonly [Key, Doc])[] };

/** A key, and whether each of its characters is written as a \u escape. */
interface Key {
  readonly text: string;
  readonly escaped: readonly boolean[];
}

const KEYS = ['a', 'A', 'k', 'K', '\u212a', 's', 'S', '\u017f', 'id', 'ID', 'Id', 'name', 'NAME', 'x y', '\u00e9', '\u00c9', 'limit', 'query', 'a"b', 'tab\t', '\u{1f600}'];

const key: fc.Arbitrary<Key> = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 }))
  .chain((text) => fc.array(fc.boolean(), { minLength: text.length, maxLength: text.length }).map((escaped) => ({ text, escaped })));

const { doc } = fc.letrec<{ doc: Doc }>((tie) => ({
  doc: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('1', '-2.5e3', 'true', 'false', 'null', '"v"', '"\\u00e9"').map((text) => ({ kind: 'leaf' as const, text })),
    fc.array(tie('doc'), { maxLength: 4 }).map((items) => ({ kind: 'array' as const, items })),
    fc.array(fc.tuple(key, tie('doc')), { maxLength: 24 }).map((entries) => ({ kind: 'object' as const, entries })),
  ),
}));

function writeKey(k: Key): string {
  let out = '"';
  // A surrogate pair is written the way its first unit is (an escaped half beside a raw one is a lone surrogate).
  let escapePair = false;
  for (let i = 0; i < k.text.length; i++) {
    const c = k.text.charCodeAt(i);
    const low = c >= 0xdc00 && c <= 0xdfff;
    const escaped: boolean = low ? escapePair : k.escaped[i] === true || c < 0x20 || c === 0x22 || c === 0x5c;
    escapePair = escaped;
    out += escaped ? `\\u${c.toString(16).padStart(4, '0')}` : k.text.charAt(i);
  }
  return `${out}"`;
}

function write(d: Doc): string {
  if (d.kind === 'leaf') return d.text;
  if (d.kind === 'array') return `[${d.items.map(write).join(', ')}]`;
  return `{${d.entries.map(([k, v]) => `${writeKey(k)}:${write(v)}`).join(',')}}`;
}

/** The first key, in document order, whose fold an earlier key of its object has; with that earlier key. */
function firstDuplicate(d: Doc): { key: string; before: string } | undefined {
  if (d.kind === 'leaf') return undefined;
  if (d.kind === 'array') {
    for (const item of d.items) {
      const found = firstDuplicate(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const seen = new Map<string, string>();
  for (const [k, v] of d.entries) {
    const before = seen.get(foldKey(k.text));
    if (before !== undefined) return { key: k.text, before };
    seen.set(foldKey(k.text), k.text);
    const found = firstDuplicate(v);
    if (found !== undefined) return found;
  }
  return undefined;
}

describe('jsonReadingProblem: duplicate keys', () => {
  it('names the first duplicate key in document order, and finds none where there is none', () => {
    fc.assert(fc.property(doc, (d) => {
      const problem = jsonReadingProblem(write(d));
      const dup = firstDuplicate(d);
      if (dup === undefined) {
        expect(problem).toBeUndefined();
      } else {
        const how = dup.before === dup.key ? '' : ' (case-insensitively)';
        expect(problem?.startsWith(`body has duplicate key ${JSON.stringify(dup.key.slice(0, 64))}${how} in `)).toBe(true);
      }
    }), { numRuns: 3000 });
  });

  it('says where the duplicate is, whichever way the keys on its path are written', () => {
    const text = '{"params":{"arg\\u0075ments":[{"x":1},{"Limit":1,"limit":2}]}}';
    expect(jsonReadingProblem(text)).toBe('body has duplicate key "limit" (case-insensitively) in params.arguments[1]');
    const many = `{${Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(',')},"K19":0}`;
    expect(jsonReadingProblem(many)).toBe('body has duplicate key "K19" (case-insensitively) in the top-level object');
  });
});
