// Deny rules against case-insensitive servers, and the plain-text route guard
// (context extension agentwarden.io/tls-originated-hosts).
import { describe, expect, it } from '@jest/globals';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { TLS_ORIGINATED_HOSTS_CONTEXT_KEY, TLS_ORIGINATION_CONTEXT_KEY } from '../src/request.js';
import { agent, policy } from './helpers.js';

const a = agent([policy('api', `
  podSelector: {}
  rules:
    - name: no-admin
      action: Deny
      to: {hosts: [api.x.com]}
      http: {paths: ["/Admin/**", "/v1/users/{id}/Delete"]}
    - name: reports
      to: {hosts: [api.x.com]}
      http: {paths: ["/reports/**"]}
    - name: rest
      to: {hosts: [api.x.com]}
`)]);

describe('literal path segments', () => {
  it('of Deny rules match case-insensitively (servers such as IIS match paths so)', () => {
    for (const path of ['/admin/x', '/ADMIN/x', '/Admin/x', '/aDmIn', '/v1/users/7/delete', '/V1/USERS/7/DELETE']) {
      expect({ path, d: a.check({ url: `https://api.x.com${path}` }) }).toMatchObject({ path, d: { allowed: false, rule: 'no-admin' } });
    }
  });

  it('of Allow rules match case-sensitively', () => {
    expect(a.check({ url: 'https://api.x.com/reports/q1' })).toMatchObject({ allowed: true, rule: 'reports' });
    expect(a.check({ url: 'https://api.x.com/Reports/q1' })).toMatchObject({ allowed: true, rule: 'rest' });
  });
});

describe('a plain-HTTP route of a pod that reaches some hosts through TLS origination', () => {
  const onPlainRoute = (url: string, hosts: string): ReturnType<typeof a.checkRequest> => {
    const check = checkRequestFrom({ url });
    check.attributes!.contextExtensions[TLS_ORIGINATED_HOSTS_CONTEXT_KEY] = hosts;
    return a.checkRequest(check);
  };

  it('denies a request to one of those hosts as invalid-request: it would leave in plain text', () => {
    const d = onPlainRoute('http://api.x.com:443/reports/q1', 'other.com,api.x.com');
    expect(d).toMatchObject({ allowed: false, rule: 'invalid-request' });
    expect(d.reason).toBe("invalid request: api.x.com is reached over TLS origination; this request would leave in plain text (authority 'api.x.com:443')");
    expect(onPlainRoute('http://API.X.COM./', ' api.x.com ')).toMatchObject({ allowed: false, rule: 'invalid-request' });
  });

  it('decides requests to other hosts as usual', () => {
    expect(onPlainRoute('http://api.x.com/reports/q1', 'other.com')).toMatchObject({ allowed: true, rule: 'reports' });
  });

  it('does not apply on a route that originates TLS itself', () => {
    const check = checkRequestFrom({ url: 'http://api.x.com/reports/q1' });
    check.attributes!.contextExtensions[TLS_ORIGINATED_HOSTS_CONTEXT_KEY] = 'api.x.com';
    check.attributes!.contextExtensions[TLS_ORIGINATION_CONTEXT_KEY] = 'api.x.com:443';
    expect(a.checkRequest(check)).toMatchObject({ allowed: true, request: { port: 443 } });
  });
});
