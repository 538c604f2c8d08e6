// DESIGN.md decision semantics, point 6: hosts and ports.
import { agent, httpOf, policy } from './helpers.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { parseAuthority } from '../src/hosts.js';

const hosts = agent([policy('hosts', `
  podSelector: {}
  rules:
    - name: exact
      to: {hosts: [api.example.com]}
    - name: suffix
      to: {hosts: ["*.example.com"]}
      http: {methods: [POST]}
    - name: alt-port
      to: {hosts: [internal.test], ports: [8443, 9000]}
    - name: plain-http
      to: {hosts: [legacy.test], ports: [80]}
`)]);

function ruleFor(url: string, method = 'GET'): string {
  const d = hosts.check({ url, method });
  return d.allowed ? d.rule : `denied by ${d.rule}`;
}

describe('request hosts', () => {
  it('are matched lower-cased', () => {
    expect(ruleFor('https://API.Example.COM/')).toBe('exact');
  });

  it('are matched without their port', () => {
    expect(ruleFor('https://api.example.com:443/')).toBe('exact');
    expect(ruleFor('https://api.example.com:8080/')).toBe('exact');
  });

  it('are matched without a trailing dot', () => {
    expect(ruleFor('https://api.example.com./')).toBe('exact');
  });

  it('match "*.example.com" for one more label', () => {
    expect(ruleFor('https://a.example.com/', 'POST')).toBe('suffix');
  });

  it('match "*.example.com" for several more labels', () => {
    expect(ruleFor('https://a.b.example.com/', 'POST')).toBe('suffix');
  });

  it('do not match "*.example.com" with example.com itself', () => {
    expect(ruleFor('https://example.com/', 'POST')).toBe('denied by default-deny');
  });

  it('do not match "*.example.com" with a host that merely ends in the same letters', () => {
    expect(ruleFor('https://badexample.com/', 'POST')).toBe('denied by default-deny');
    expect(ruleFor('https://example.com.evil.net/', 'POST')).toBe('denied by default-deny');
  });

  it('match every host name with "*", but no IP literal', () => {
    const any = agent([policy('any', `
      podSelector: {}
      rules: [{name: anywhere, to: {hosts: ["*"]}}]
    `)]);
    for (const url of ['https://a/', 'http://x.y.z:8080/p']) {
      expect(any.check({ url })).toMatchObject({ allowed: true, rule: 'anywhere' });
    }
    for (const url of ['https://[::1]:8443/', 'https://10.0.0.1/']) {
      expect(any.check({ url })).toMatchObject({ allowed: false, rule: 'default-deny' });
    }
  });

  it('come from the :authority header when Envoy leaves attributes.request.http.host empty', () => {
    const check = checkRequestFrom({ url: 'https://API.example.com:443/' });
    httpOf(check).host = '';
    expect(hosts.checkRequest(check)).toMatchObject({ allowed: true, rule: 'exact' });
  });

  it('are invalid requests when missing or malformed', () => {
    for (const authority of ['exa mple.com', 'api.example.com:http', 'api.example.com:70000', 'api.example.com:0', '-bad.example.com', '[::1', '']) {
      const check = checkRequestFrom({ url: 'https://api.example.com/' });
      httpOf(check).host = authority;
      if (authority === '') httpOf(check).headers = {};
      expect({ authority, decision: hosts.checkRequest(check) }).toMatchObject({ authority, decision: { allowed: false, rule: 'invalid-request' } });
    }
  });
});

describe('request ports', () => {
  it('come from the authority when it has one', () => {
    expect(ruleFor('https://internal.test:8443/')).toBe('alt-port');
    expect(ruleFor('http://internal.test:9000/')).toBe('alt-port');
  });

  it('are 443 for https without a port in the authority', () => {
    expect(ruleFor('https://internal.test/')).toBe('denied by default-deny');
    expect(hosts.check({ url: 'https://internal.test/' }).request?.port).toBe(443);
  });

  it('are 80 for http without a port in the authority', () => {
    expect(ruleFor('http://legacy.test/')).toBe('plain-http');
    expect(ruleFor('https://legacy.test/')).toBe('denied by default-deny');
    expect(hosts.check({ url: 'http://legacy.test/' }).request?.port).toBe(80);
  });

  it('are not restricted when a rule lists none', () => {
    expect(ruleFor('http://api.example.com:1/')).toBe('exact');
    expect(ruleFor('https://api.example.com:65535/')).toBe('exact');
  });

  it('must be listed by a rule that lists some', () => {
    expect(ruleFor('https://internal.test:8444/')).toBe('denied by default-deny');
  });
});

describe('parseAuthority', () => {
  it('splits host and port, lower-casing the host', () => {
    expect(parseAuthority('Api.Example.com:8443', 'https')).toEqual({ ok: true, host: 'api.example.com', port: 8443, ipLiteral: false });
  });

  it('takes the port from the scheme when the authority has none', () => {
    expect(parseAuthority('api.example.com', 'https')).toEqual({ ok: true, host: 'api.example.com', port: 443, ipLiteral: false });
    expect(parseAuthority('api.example.com', 'http')).toEqual({ ok: true, host: 'api.example.com', port: 80, ipLiteral: false });
    expect(parseAuthority('api.example.com', 'HTTPS')).toEqual({ ok: true, host: 'api.example.com', port: 443, ipLiteral: false });
  });

  it('reads bracketed IPv6 hosts with and without a port, in canonical form', () => {
    expect(parseAuthority('[2001:DB8::1]:8080', 'http')).toEqual({ ok: true, host: '2001:db8::1', port: 8080, ipLiteral: true });
    expect(parseAuthority('[::1]', 'https')).toEqual({ ok: true, host: '::1', port: 443, ipLiteral: true });
    expect(parseAuthority('[0:0:0:0:0:0:0:1]', 'https')).toEqual({ ok: true, host: '::1', port: 443, ipLiteral: true });
  });
});

describe('TLS origination by the injected Envoy', () => {
  it('treats a request Envoy re-sends over TLS as HTTPS on the port the route names', async () => {
    const { agent, policy } = await import('./helpers.js');
    const { checkRequestFrom } = await import('../../cli/src/request-shorthand.js');
    const a = agent([policy('tls', `
      podSelector: {}
      rules: [{name: https-only, to: {hosts: [api.zendesk.com], ports: [443]}}]
    `)]);
    const plain = checkRequestFrom({ url: 'http://api.zendesk.com/api/v2/tickets' });
    expect(a.checkRequest(plain).allowed).toBe(false);
    const originated = checkRequestFrom({ url: 'http://api.zendesk.com/api/v2/tickets' });
    if (originated.attributes !== undefined) originated.attributes.contextExtensions['agentwarden.io/tls-origination'] = 'api.zendesk.com:443';
    expect(a.checkRequest(originated)).toMatchObject({ allowed: true, rule: 'https-only' });
    const mismatched = checkRequestFrom({ url: 'http://evil.example.com/' });
    if (mismatched.attributes !== undefined) mismatched.attributes.contextExtensions['agentwarden.io/tls-origination'] = 'api.zendesk.com:443';
    expect(a.checkRequest(mismatched).allowed).toBe(false);
  });
});
