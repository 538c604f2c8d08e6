// A CONNECT that Envoy tunnels unopened (HTTPS_PROXY to port 443) is decided
// like TLS the agent opens itself: on host and port, by host-level rules.
import { agent, httpOf, policy } from './helpers.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import type { CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';

const tunnel = agent([policy('t', `
  podSelector: {}
  rules:
    - name: host-level
      to: {hosts: [tls.example.com], ports: [443]}
    - name: operation-level
      to: {hosts: [api.example.com]}
      http: {methods: [GET]}
    - name: no-paste
      action: Deny
      to: {hosts: [paste.example.com]}
      http: {paths: ["/raw/**"]}
`)]);

/** A CONNECT as Envoy's ext_authz sends it: the authority, no path. */
function connect(authority: string): CheckRequest {
  const check = checkRequestFrom({ method: 'GET', url: 'http://placeholder/' });
  const http = httpOf(check);
  http.method = 'CONNECT';
  http.host = authority;
  http.path = '';
  return check;
}

describe('CONNECT tunnels', () => {
  it('are allowed by a host- and port-level rule', () => {
    expect(tunnel.checkRequest(connect('tls.example.com:443'))).toMatchObject({ allowed: true, rule: 'host-level' });
  });

  it('are not allowed by a rule with operation-level constraints (nothing inside can be seen)', () => {
    expect(tunnel.checkRequest(connect('api.example.com:443'))).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('are denied by a Deny rule with operation-level constraints (what it forbids may be inside)', () => {
    expect(tunnel.checkRequest(connect('paste.example.com:443'))).toMatchObject({ allowed: false, rule: 'no-paste' });
  });

  it('need a port', () => {
    expect(tunnel.checkRequest(connect('tls.example.com'))).toMatchObject({ allowed: false, rule: 'invalid-request' });
  });
});
