// DESIGN.md decision semantics, points 3 and 5: deny wins over allow across
// policies, default-deny, pods without policies, and where `now` comes from.
import { create } from '@bufbuild/protobuf';
import { CheckRequestSchema } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { agent, policy, TUESDAY_10_BERLIN } from './helpers.js';

const allowApi = policy('allow-api', `
  podSelector: {}
  rules:
    - name: read-api
      to: {hosts: [api.example.com]}
      http: {methods: [GET]}
`);

const denyAdmin = policy('deny-admin', `
  podSelector: {}
  rules:
    - name: no-admin
      action: Deny
      to: {hosts: [api.example.com]}
      http: {paths: ["/admin/**"]}
`);

describe('the effective decision', () => {
  it('allows a request that an Allow rule matches', () => {
    const d = agent([allowApi]).check({ url: 'https://api.example.com/v1/items' });
    expect(d).toMatchObject({ allowed: true, mode: 'Enforce', policy: 'allow-api', rule: 'read-api', auditDecision: null });
    expect(d.reason).toBe('allowed by rule "read-api" of policy "allow-api"');
  });

  it('denies with the Deny rule of another policy even though an Allow rule matches', () => {
    const d = agent([allowApi, denyAdmin]).check({ url: 'https://api.example.com/admin/users' });
    expect(d).toMatchObject({ allowed: false, policy: 'deny-admin', rule: 'no-admin' });
    expect(d.reason).toBe('denied by rule "no-admin" of policy "deny-admin"');
  });

  it('lets a Deny rule win over an earlier Allow rule of the same policy', () => {
    const a = agent([policy('mixed', `
      podSelector: {}
      rules:
        - name: read-everything
          to: {hosts: ["*"]}
        - name: never-billing
          action: Deny
          to: {hosts: [billing.internal]}
    `)]);
    expect(a.check({ url: 'https://billing.internal/invoices' })).toMatchObject({ allowed: false, rule: 'never-billing' });
    expect(a.check({ url: 'https://docs.internal/' })).toMatchObject({ allowed: true, rule: 'read-everything' });
  });

  it('decides the same whatever order the policies are given in', () => {
    const request = { url: 'https://api.example.com/admin/users' };
    expect(agent([denyAdmin, allowApi]).check(request)).toEqual(agent([allowApi, denyAdmin]).check(request));
  });

  it('denies with rule default-deny when no rule matches, naming the request', () => {
    const d = agent([allowApi, denyAdmin]).check({ method: 'DELETE', url: 'https://api.example.com/v1/items/1' });
    expect(d).toMatchObject({ allowed: false, mode: 'Enforce', policy: '', rule: 'default-deny', headers: [] });
    expect(d.reason).toBe('no rule allows DELETE api.example.com/v1/items/1');
  });

  it('denies a request to a host no rule names', () => {
    expect(agent([allowApi]).check({ url: 'https://pastebin.com/' })).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('denies everything to a pod that no policy governs', () => {
    const a = agent([]);
    for (const url of ['https://api.example.com/', 'http://localhost/', 'https://a.b.c/d']) {
      const d = a.check({ url });
      expect(d).toMatchObject({ allowed: false, mode: 'Enforce', rule: 'default-deny', policy: '', auditDecision: null });
      expect(d.reason).toBe('no AgentPolicy governs pod support/support-agent-0');
    }
  });

  it('reports the facts of the request in the decision', () => {
    const d = agent([allowApi]).check({ url: 'https://API.example.com:8443/v1/items?page=2' });
    expect(d.request).toEqual({ method: 'GET', host: 'api.example.com', port: 8443, path: '/v1/items', mcpMethod: '', mcpTool: '', mcpId: undefined });
  });

  it('denies a CheckRequest without HTTP attributes as invalid', () => {
    const d = agent([allowApi]).checkRequest(create(CheckRequestSchema, {}));
    expect(d).toMatchObject({ allowed: false, rule: 'invalid-request' });
    expect(d.reason).toBe('invalid request: CheckRequest has neither attributes.request.http (HTTP ext_authz) nor attributes.tls_session (network ext_authz with include_tls_session)');
  });

  it('denies a request without a valid method as invalid', () => {
    const d = agent([allowApi]).check({ method: 'GE T', url: 'https://api.example.com/' });
    expect(d).toMatchObject({ allowed: false, rule: 'invalid-request' });
  });
});

describe('the time a request is decided at', () => {
  const businessHours = policy('hours', `
    podSelector: {}
    rules:
      - name: office-hours
        to: {hosts: [crm.internal]}
        schedule:
          timezone: Europe/Berlin
          windows: [{days: [Mon, Tue, Wed, Thu, Fri], start: "08:00", end: "18:00"}]
  `);
  const night = Date.UTC(2026, 2, 3, 22, 0);

  it("is the CheckRequest's attributes.request.time when present, whatever the clock says", () => {
    const a = agent([businessHours]);
    expect(a.check({ url: 'https://crm.internal/' }, { time: TUESDAY_10_BERLIN, clock: night }).allowed).toBe(true);
    expect(a.check({ url: 'https://crm.internal/' }, { time: night, clock: TUESDAY_10_BERLIN }).allowed).toBe(false);
  });

  it('is the clock passed in when the CheckRequest has no time', () => {
    const a = agent([businessHours]);
    expect(a.check({ url: 'https://crm.internal/' }, { clock: TUESDAY_10_BERLIN }).allowed).toBe(true);
    expect(a.check({ url: 'https://crm.internal/' }, { clock: night })).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('is what `now` holds in conditions', () => {
    const a = agent([policy('now', `
      podSelector: {}
      rules:
        - name: before-deadline
          to: {hosts: [api.example.com]}
          when: "now < timestamp('2026-06-01T00:00:00Z')"
    `)]);
    const may = Date.UTC(2026, 4, 31, 23, 59);
    const june = Date.UTC(2026, 5, 1, 0, 0);
    expect(a.check({ url: 'https://api.example.com/' }, { time: may, clock: june }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/' }, { time: june, clock: may }).allowed).toBe(false);
    expect(a.check({ url: 'https://api.example.com/' }, { clock: may }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/' }, { clock: june }).allowed).toBe(false);
  });

  it('keeps the milliseconds of the request time', () => {
    const a = agent([policy('ms', `
      podSelector: {}
      rules:
        - name: first-half-second
          to: {hosts: [api.example.com]}
          when: "now.getMilliseconds() < 500"
    `)]);
    expect(a.check({ url: 'https://api.example.com/' }, { time: Date.UTC(2026, 0, 1, 0, 0, 0, 499) }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/' }, { time: Date.UTC(2026, 0, 1, 0, 0, 0, 500) }).allowed).toBe(false);
  });
});
