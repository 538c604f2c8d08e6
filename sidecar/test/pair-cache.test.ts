// The bounded two-key cache behind the span attribute and rule header encodings.
import { describe, expect, it } from '@jest/globals';
import { PairCache } from '../src/pair-cache.js';

describe('PairCache', () => {
  it('keeps pairs within its bounds and leaves out what does not fit', () => {
    const c = new PairCache<number>(2, 2);
    c.set('a', 'x', 1);
    c.set('a', 'y', 2);
    expect(c.hasRoom('a')).toBe(false);
    c.set('a', 'z', 3); // a second key too many under 'a'
    c.set('b', 'x', 4);
    expect(c.hasRoom('c')).toBe(false);
    c.set('c', 'x', 5); // a first key too many
    expect([c.get('a', 'x'), c.get('a', 'y'), c.get('a', 'z'), c.get('b', 'x'), c.get('c', 'x')]).toEqual([1, 2, undefined, 4, undefined]);
  });
});
