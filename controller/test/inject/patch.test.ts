// patchFor: an RFC 6902 patch from one JSON value to another, checked by
// applying it.
import { patchFor } from '../../src/inject/index.js';
import { applyPatch } from './helpers.js';

describe('patchFor', () => {
  it.each([
    ['an added member', { a: 1 }, { a: 1, b: { c: [1] } }, [{ op: 'add', path: '/b', value: { c: [1] } }]],
    ['a removed member', { a: 1, b: 2 }, { a: 1 }, [{ op: 'remove', path: '/b' }]],
    ['a changed scalar deep inside', { a: { b: [1, { c: 'x' }] } }, { a: { b: [1, { c: 'y' }] } }, [{ op: 'replace', path: '/a/b/1/c', value: 'y' }]],
    ['an array that grew (replaced whole)', { l: [1, 2] }, { l: [0, 1, 2] }, [{ op: 'replace', path: '/l', value: [0, 1, 2] }]],
    ['keys with "/" and "~"', { m: {} }, { m: { 'a/b': 1, 'c~d': 2 } }, [{ op: 'add', path: '/m/a~1b', value: 1 }, { op: 'add', path: '/m/c~0d', value: 2 }]],
    ['a different root type', { a: 1 }, [1], [{ op: 'replace', path: '', value: [1] }]],
    ['nothing', { a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, []],
  ])('describes %s', (_what, from, to, ops) => {
    expect(patchFor(from, to)).toEqual(ops);
    expect(applyPatch(from, patchFor(from, to))).toEqual(to);
  });

  it('ignores key order and undefined members, as JSON does', () => {
    expect(patchFor({ a: 1, b: 2 }, { b: 2, a: 1, c: undefined })).toEqual([]);
  });
});
