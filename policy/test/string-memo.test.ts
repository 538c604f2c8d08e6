// The bounded memo behind authority and path reading (string-memo.ts), and the
// same answers through it: a request read twice, or after the memo emptied,
// is decided as the first time.
import { memoizeByString } from '../src/string-memo.js';
import { agent, policy } from './helpers.js';

describe('memoizeByString', () => {
  it('computes each key once while it is kept', () => {
    const seen: string[] = [];
    const f = memoizeByString((k) => { seen.push(k); return { k }; }, { maxEntries: 4, maxKeyLength: 16 });
    const a = f('a');
    expect(f('a')).toBe(a);
    f('b');
    expect(seen).toEqual(['a', 'b']);
  });

  it('starts again empty when full, so that distinct keys never grow it', () => {
    const seen: string[] = [];
    const f = memoizeByString((k) => { seen.push(k); return k.length; }, { maxEntries: 2, maxKeyLength: 16 });
    f('a');
    f('b');
    f('c'); // full: emptied, then c kept
    f('a');
    expect(seen).toEqual(['a', 'b', 'c', 'a']);
  });

  it('does not keep keys longer than the bound', () => {
    let calls = 0;
    const f = memoizeByString(() => ++calls, { maxEntries: 8, maxKeyLength: 3 });
    f('long key');
    f('long key');
    expect(calls).toBe(2);
  });
});

describe('memoised reading gives the same decisions', () => {
  const api = agent([policy('memo', `
  podSelector: {}
  rules:
    - name: tickets
      to: {hosts: [api.example.com]}
      http:
        paths: ["/tickets/{id}"]
      when: "request.params.id != 'forbidden' && request.port == 443"
`)]);

  it('decides a repeated request, and one of another scheme on the same authority, as their first time', () => {
    for (let round = 0; round < 3; round++) {
      expect(api.check({ url: 'https://api.example.com/tickets/7' })).toMatchObject({ allowed: true, rule: 'tickets' });
      expect(api.check({ url: 'https://api.example.com/tickets/forbidden' }).allowed).toBe(false);
      // http: the default port is 80, so the memoised https reading must not answer.
      expect(api.check({ url: 'http://api.example.com/tickets/7' }).allowed).toBe(false);
      expect(api.check({ url: 'https://api.example.com/tickets/a%2Fb' })).toMatchObject({ allowed: false, rule: 'invalid-request' });
    }
  });

  it('reads distinct paths beyond the memo\'s size the same way', () => {
    for (let i = 0; i < 600; i++) expect(api.check({ url: `https://api.example.com/tickets/t${i}` }).allowed).toBe(true);
    expect(api.check({ url: 'https://api.example.com/tickets/t0' }).allowed).toBe(true);
  });
});
