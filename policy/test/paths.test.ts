// DESIGN.md decision semantics, point 7: paths, templates, and ambiguous paths
// refused before any rule.
import { agent, httpOf, policy } from './helpers.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { MAX_PATH_LENGTH, MAX_PATH_SEGMENTS } from '../src/paths.js';

const api = agent([policy('paths', `
  podSelector: {}
  rules:
    - name: tickets
      to: {hosts: [api.example.com]}
      http:
        paths: ["/tickets/{id}", "/tickets/{id}/comments/{comment}"]
      when: "request.params.id != 'forbidden'"
    - name: one-segment
      to: {hosts: [api.example.com]}
      http: {paths: ["/files/*/meta"]}
    - name: subtree
      to: {hosts: [api.example.com]}
      http: {paths: ["/search/**"]}
    - name: root
      to: {hosts: [api.example.com]}
      http: {paths: ["/"]}
    - name: trailing-slash
      to: {hosts: [api.example.com]}
      http: {paths: ["/dir/"]}
    - name: captured
      to: {hosts: [echo.example.com]}
      http: {paths: ["/users/{user}/items/{item}"]}
      when: "request.params.user == 'ann' && request.params.item == 'a b'"
`)]);

/** Everything on open.example.com is allowed, so only the path check can deny. */
const open = agent([policy('open', `
  podSelector: {}
  rules:
    - name: anything
      to: {hosts: [open.example.com]}
      http: {paths: ["/**"]}
`)]);

function ruleFor(path: string): string {
  const d = api.check({ url: `https://api.example.com${path}` });
  return d.allowed ? d.rule : `denied by ${d.rule}`;
}

describe('path templates', () => {
  it('match the path with its query split off', () => {
    expect(ruleFor('/tickets/7?expand=comments&x=/../..')).toBe('tickets');
    expect(api.check({ url: 'https://api.example.com/tickets/7?x=1' }).request?.path).toBe('/tickets/7');
  });

  it('take the query from attributes.request.http.query when the path has none', () => {
    const a = agent([policy('q', `
      podSelector: {}
      rules: [{name: paged, to: {hosts: [api.example.com]}, http: {paths: ["/list"]}, when: "request.query.page == ['2']"}]
    `)]);
    const check = checkRequestFrom({ url: 'https://api.example.com/list' });
    httpOf(check).query = 'page=2';
    expect(a.checkRequest(check)).toMatchObject({ allowed: true, rule: 'paged' });
  });

  it('capture {name} segments into request.params', () => {
    expect(ruleFor('/tickets/forbidden')).toBe('denied by default-deny');
    expect(ruleFor('/tickets/forbidden/comments/1')).toBe('denied by default-deny');
    expect(ruleFor('/tickets/allowed/comments/1')).toBe('tickets');
  });

  it('capture percent-decoded values', () => {
    const d = api.check({ url: 'https://echo.example.com/users/%61nn/items/a%20b' });
    expect(d).toMatchObject({ allowed: true, rule: 'captured' });
  });

  it('match {name} with exactly one non-empty segment', () => {
    expect(ruleFor('/tickets/')).toBe('denied by default-deny');
    expect(ruleFor('/tickets')).toBe('denied by default-deny');
    expect(ruleFor('/tickets/7/8')).toBe('denied by default-deny');
  });

  it('match * with exactly one non-empty segment', () => {
    expect(ruleFor('/files/report.pdf/meta')).toBe('one-segment');
    expect(ruleFor('/files//meta')).toBe('denied by invalid-request');
    expect(ruleFor('/files/a/b/meta')).toBe('denied by default-deny');
  });

  it('match a final ** with zero or more segments', () => {
    expect(ruleFor('/search')).toBe('subtree');
    expect(ruleFor('/search/')).toBe('subtree');
    expect(ruleFor('/search/tickets')).toBe('subtree');
    expect(ruleFor('/search/a/b/c/d')).toBe('subtree');
    expect(ruleFor('/searching')).toBe('denied by default-deny');
  });

  it('match whole literal segments only', () => {
    expect(ruleFor('/')).toBe('root');
    expect(ruleFor('/ticketsX/7')).toBe('denied by default-deny');
  });

  it('treat a trailing slash as a further, empty segment', () => {
    expect(ruleFor('/dir/')).toBe('trailing-slash');
    expect(ruleFor('/dir')).toBe('denied by default-deny');
  });

  it('compare literal segments after percent-decoding the request path', () => {
    expect(ruleFor('/%73earch/x')).toBe('subtree');
  });

  it('cannot be dodged by percent-encoding a Deny rule\'s literal', () => {
    const guarded = agent([policy('guarded', `
      podSelector: {}
      rules:
        - {name: everything, to: {hosts: [api.example.com]}, http: {paths: ["/**"]}}
        - {name: no-admin, action: Deny, to: {hosts: [api.example.com]}, http: {paths: ["/admin/**"]}}
    `)]);
    for (const path of ['/admin/users', '/%61dmin/users', '/%61%64%6D%69%6E', '/admin%2Fusers']) {
      expect({ path, allowed: guarded.check({ url: `https://api.example.com${path}` }).allowed }).toEqual({ path, allowed: false });
    }
  });

  it('never look up object prototype names as literals', () => {
    expect(ruleFor('/constructor')).toBe('denied by default-deny');
    expect(ruleFor('/__proto__')).toBe('denied by default-deny');
    expect(ruleFor('/toString/x')).toBe('denied by default-deny');
  });

  it('match literal segments named like object prototype members when a template lists them', () => {
    const a = agent([policy('proto', `
      podSelector: {}
      rules: [{name: odd-names, to: {hosts: [api.example.com]}, http: {paths: ["/constructor", "/x/hasOwnProperty/y"]}}]
    `)]);
    expect(a.check({ url: 'https://api.example.com/constructor' }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/x/hasOwnProperty/y' }).allowed).toBe(true);
  });

  it('refuses a template with a "__proto__" segment instead of silently dropping it', () => {
    expect(() => policy('proto', `
      podSelector: {}
      rules: [{name: odd-names, to: {hosts: [api.example.com]}, http: {paths: ["/x/__proto__/y"]}}]
    `)).toThrow(/spec\.rules\[0\]\.http\.paths\[0\].*__proto__/);
  });
});

describe('ambiguous paths are denied with rule invalid-request before any rule', () => {
  const ambiguous: [string, string][] = [
    ['a ".." segment', '/search/../admin'],
    ['a "." segment', '/search/./x'],
    ['a final ".." segment', '/search/..'],
    ['a final "." segment', '/search/.'],
    ['an encoded slash %2F', '/search/a%2Fb'],
    ['an encoded slash %2f', '/search/a%2fb'],
    ['an encoded backslash %5C', '/search/a%5Cb'],
    ['an encoded backslash %5c', '/search/a%5cb'],
    ['a raw backslash', '/search/a\\b'],
    ['a NUL', '/search/a\0b'],
    ['an encoded NUL', '/search/a%00b'],
    ['an encoded ".." (%2e%2e)', '/search/%2e%2e/admin'],
    ['an encoded ".." (%2E%2E)', '/search/%2E%2E/admin'],
    ['a half-encoded ".." (.%2e)', '/search/.%2e/admin'],
    ['a half-encoded ".." (%2e.)', '/search/%2e./admin'],
    ['an encoded "." (%2E)', '/search/%2E/admin'],
    ['malformed percent-encoding', '/search/%zz'],
    ['percent-encoding of invalid UTF-8', '/search/%c0%af'],
    ['a path not starting with "/"', 'search/x'],
    ['a matrix parameter ";"', '/search;jsessionid=1/x'],
    ['an encoded ";" (%3B)', '/admin%3bx/users'],
    ['a double-encoded dot (%252e)', '/search/%252e%252e/admin'],
    ['an encoded "%" (%25)', '/search/100%25'],
    ['an encoded "#" (%23)', '/search/a%23b'],
    ['a raw "#"', '/search/a#b'],
    ['an encoded line feed (%0A)', '/search/a%0Ab'],
    ['a raw tab', '/search/a\tb'],
    ['an encoded DEL (%7F)', '/search/a%7Fb'],
    ['a segment ending in a dot', '/admin./users'],
    ['a segment ending in an encoded dot', '/admin%2E/users'],
    ['a segment ending in an encoded space', '/admin%20/users'],
    ['a segment of three dots', '/search/.../x'],
    ['a segment of dots and spaces', '/search/.%20./x'],
    ['a dotless ı that case-insensitive servers read as i', '/adm%C4%B1n/x'],
    ['a dotted İ that case-insensitive servers read as i', '/ADM%C4%B0N/x'],
    ['a long ſ that case-insensitive servers read as s', '/%C5%BFecrets/x'],
    ['a KELVIN SIGN that case-insensitive servers read as k', '/\u212Aey/x'],
  ];

  it('keeps non-ASCII segments that no server reads as ASCII', () => {
    const check = checkRequestFrom({ url: 'https://open.example.com/' });
    httpOf(check).path = '/caf%C3%A9/%E6%97%A5%E6%9C%AC';
    expect(open.checkRequest(check)).toMatchObject({ allowed: true });
  });

  it.each(ambiguous)('denies a path with %s', (_what, path) => {
    const check = checkRequestFrom({ url: 'https://open.example.com/' });
    httpOf(check).path = path;
    const d = open.checkRequest(check);
    expect(d).toMatchObject({ allowed: false, rule: 'invalid-request', policy: '', headers: [] });
    expect(d.reason).toMatch(/^invalid request: /);
  });

  it('names the problem in the reason', () => {
    expect(open.check({ url: 'https://open.example.com/a/../b' }).reason).toBe('invalid request: path contains a ".." segment');
    expect(open.check({ url: 'https://open.example.com/a%2Fb' }).reason).toBe('invalid request: path contains an encoded slash (%2F)');
    expect(open.check({ url: 'https://open.example.com/a;x=1' }).reason).toContain('matrix parameters');
    expect(open.check({ url: 'https://open.example.com/a%252e' }).reason).toContain('double encoding');
    expect(open.check({ url: 'https://open.example.com/admin./x' }).reason).toContain('IIS and Windows servers strip');
  });

  it('denies them even under a Deny-free policy allowing every host and path', () => {
    const everything = agent([policy('everything', `
      podSelector: {}
      rules: [{name: all, to: {hosts: ["*"]}, http: {paths: ["/**"]}}]
    `)]);
    expect(everything.check({ url: 'https://x.test/%2e%2E/etc/passwd' })).toMatchObject({ allowed: false, rule: 'invalid-request' });
  });

  it('denies them for a pod no policy governs with the same rule', () => {
    expect(agent([]).check({ url: 'https://x.test/a/../b' })).toMatchObject({ allowed: false, rule: 'invalid-request' });
  });

  it('denies a path longer than the bound', () => {
    expect(open.check({ url: `https://open.example.com/${'a'.repeat(MAX_PATH_LENGTH)}` })).toMatchObject({ allowed: false, rule: 'invalid-request' });
  });

  it('denies a path with more segments than the bound', () => {
    const ok = '/x'.repeat(MAX_PATH_SEGMENTS);
    expect(open.check({ url: `https://open.example.com${ok}` })).toMatchObject({ allowed: true });
    expect(open.check({ url: `https://open.example.com${ok}/x` })).toMatchObject({ allowed: false, rule: 'invalid-request' });
  });

  it('accepts dots inside segments, not at their end', () => {
    for (const path of ['/a.b', '/.well-known/x', '/a/..b', '/a/.b.c', '/%2e%2e%2ea']) {
      expect({ path, allowed: open.check({ url: `https://open.example.com${path}` }).allowed }).toEqual({ path, allowed: true });
    }
  });
});

describe('method overrides', () => {
  it.each(['/items?_method=DELETE', '/items?x=1&_METHOD=delete', '/items?%5Fmethod=DELETE'])('denies %s: the upstream could run another method than the one decided', (path) => {
    const check = checkRequestFrom({ method: 'POST', url: 'https://open.example.com/' });
    httpOf(check).path = path;
    expect(open.checkRequest(check)).toMatchObject({ allowed: false, rule: 'invalid-request' });
  });

  it('keeps a query that only mentions a method as a value', () => {
    const check = checkRequestFrom({ url: 'https://open.example.com/' });
    httpOf(check).path = '/items?sort=method';
    expect(open.checkRequest(check)).toMatchObject({ allowed: true });
  });
});
