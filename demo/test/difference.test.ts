// What the demo's table says under a call decided otherwise than the same call above.
import { difference } from '../difference.js';

describe('difference', () => {
  it('names the body fields that changed, appeared or went away, with the value above', () => {
    expect(difference({ ticket: { type: 'question', customer_tier: 'premium', subject: 'Where?' } }, { ticket: { type: 'problem', customer_tier: 'premium' } }))
      .toBe('ticket.type is "problem" (above: "question"), no ticket.subject (above: "Where?")');
    expect(difference({ amount: 120 }, { amount: 130, note: 'x' })).toBe('amount is 130 (above: 120), note is "x" (above: absent)');
  });

  it('says when one of the two had no body, and shortens long values', () => {
    expect(difference({ a: 1 }, undefined)).toBe('no body this time (above: one): the rule\'s condition has nothing to read');
    expect(difference(undefined, { a: 1 })).toBe('a body this time (above: none): {"a":1}');
    expect(difference({ query: '' }, { query: 'x'.repeat(100) })).toBe('query is <100 characters> (above: "")');
  });

  it('says the request was the same when only the time or the pod\'s state can explain it', () => {
    expect(difference({ order: 'O-1' }, { order: 'O-1' })).toMatch(/^the same request, later: what changed is the time or the pod's state/);
    expect(difference(undefined, undefined)).toMatch(/^the same request, later/);
  });
});
