// `when` conditions: the CEL environment of DESIGN.md, and point 2 (a condition
// that fails to evaluate: an Allow rule does not match, a Deny rule does, and
// the reason says so).
import { create } from '@bufbuild/protobuf';
import { HeaderMapSchema } from '../../proto/gen/envoy/config/core/v3/base_pb.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import { agent, httpOf, policy, POD, type Agent } from './helpers.js';

/** An agent whose only rule allows api.example.com when `when` holds. */
function allowWhen(when: string, extra = ''): Agent {
  return agent([policy('conditions', `
    podSelector: {}
    rules:
      - name: conditional
        to: {hosts: [api.example.com, mcp.example.com]}
        ${extra}
        when: ${JSON.stringify(when)}
  `)]);
}

describe('when conditions see the request', () => {
  const cases: [string, string, RequestShorthand, RequestShorthand][] = [
    ['request.method (upper case)', "request.method == 'PATCH'",
      { method: 'patch', url: 'https://api.example.com/' }, { method: 'GET', url: 'https://api.example.com/' }],
    ['request.host (lower case, without port)', "request.host == 'api.example.com'",
      { url: 'https://API.Example.com:8443/' }, { url: 'https://mcp.example.com/' }],
    ['request.port as an int', 'request.port == 8443',
      { url: 'https://api.example.com:8443/' }, { url: 'https://api.example.com/' }],
    ['request.path without the query', "request.path == '/v1/items'",
      { url: 'https://api.example.com/v1/items?page=2' }, { url: 'https://api.example.com/v1/items/3' }],
    ['request.query as lists of values', "request.query.tag == ['a', 'b'] && !('payment' in request.query)",
      { url: 'https://api.example.com/?tag=a&tag=b' }, { url: 'https://api.example.com/?tag=a&tag=b&payment=1' }],
    ['request.query decoded as a form', "request.query.q[0] == 'reset password'",
      { url: 'https://api.example.com/?q=reset+password' }, { url: 'https://api.example.com/?q=reset' }],
    ['request.headers by lower-case name', "request.headers['x-tenant'] == 'acme'",
      { url: 'https://api.example.com/', headers: { 'X-Tenant': 'acme' } }, { url: 'https://api.example.com/', headers: { 'X-Tenant': 'other' } }],
    ['request.body as parsed JSON', "request.body.ticket.type in ['question', 'incident']",
      { method: 'POST', url: 'https://api.example.com/', body: { ticket: { type: 'question' } } },
      { method: 'POST', url: 'https://api.example.com/', body: { ticket: { type: 'problem' } } }],
  ];

  it.each(cases)('exposes %s', (_what, when, matching, other) => {
    const a = allowWhen(when);
    expect(a.check(matching)).toMatchObject({ allowed: true, rule: 'conditional' });
    expect(a.check(other)).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('exposes the pod as agent.labels, agent.namespace, agent.name and agent.serviceAccount', () => {
    const p = policy('conditions', `
      podSelector: {}
      rules:
        - name: care-only
          to: {hosts: [api.example.com]}
          when: "agent.labels.team == 'care' && agent.labels['app'] == 'support-agent' && agent.namespace == 'support' && agent.name.startsWith('support-agent-') && agent.serviceAccount == 'support-agent'"
    `);
    expect(agent([p]).check({ url: 'https://api.example.com/' }).allowed).toBe(true);
    const billingPod = { ...POD, labels: { app: 'support-agent', team: 'billing' } };
    expect(agent([p], billingPod).check({ url: 'https://api.example.com/' }).allowed).toBe(false);
    const otherAccount = { ...POD, serviceAccount: 'default' };
    expect(agent([p], otherAccount).check({ url: 'https://api.example.com/' }).allowed).toBe(false);
  });

  it('exposes headers Envoy sends in header_map, raw values included', () => {
    const a = allowWhen("request.headers['x-tenant'] == 'acme' && request.headers['x-raw'] == 'bytes'");
    const check = checkRequestFrom({ url: 'https://api.example.com/' });
    httpOf(check).headerMap = create(HeaderMapSchema, {
      headers: [{ key: 'X-Tenant', value: 'acme' }, { key: 'x-raw', rawValue: new TextEncoder().encode('bytes') }],
    });
    expect(a.checkRequest(check)).toMatchObject({ allowed: true, rule: 'conditional' });
  });

  it('exposes path captures as request.params', () => {
    const a = allowWhen("request.params.id.startsWith('T-') && request.params.comment == '7'", 'http: {paths: ["/tickets/{id}/comments/{comment}"]}');
    expect(a.check({ url: 'https://api.example.com/tickets/T-1/comments/7' }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/tickets/X-1/comments/7' }).allowed).toBe(false);
  });

  it('gives request.params no entries when the rule has no path template', () => {
    const a = allowWhen('!has(request.params.id) && size(request.params) == 0');
    expect(a.check({ url: 'https://api.example.com/tickets/T-1' }).allowed).toBe(true);
  });

  it('gives request.body null when the request has no body', () => {
    const a = allowWhen('request.body == null');
    expect(a.check({ method: 'POST', url: 'https://api.example.com/' }).allowed).toBe(true);
    expect(a.check({ method: 'POST', url: 'https://api.example.com/', body: { a: 1 } }).allowed).toBe(false);
  });

  it('exposes mcp.method, mcp.tool and mcp.arguments', () => {
    const a = allowWhen("mcp.method == 'tools/call' && mcp.tool == 'search' && mcp.arguments.limit <= 20", 'mcp: {tools: [search]}');
    const call = (limit: number): RequestShorthand => ({ url: 'https://mcp.example.com/mcp', mcp: { tool: 'search', arguments: { query: 'x', limit } } });
    expect(a.check(call(20))).toMatchObject({ allowed: true, rule: 'conditional' });
    expect(a.check(call(21))).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it("evaluates now.getHours('Europe/Berlin') in Berlin time", () => {
    const a = allowWhen("now.getHours('Europe/Berlin') >= 8 && now.getHours('Europe/Berlin') < 18");
    // 07:30 UTC is 08:30 in Berlin in winter, 09:30 in summer; 16:30 UTC is 17:30 / 18:30.
    expect(a.check({ url: 'https://api.example.com/' }, { time: Date.UTC(2026, 0, 13, 7, 30) }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/' }, { time: Date.UTC(2026, 0, 13, 16, 30) }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/' }, { time: Date.UTC(2026, 6, 14, 16, 30) }).allowed).toBe(false);
    expect(a.check({ url: 'https://api.example.com/' }, { time: Date.UTC(2026, 0, 13, 6, 30) }).allowed).toBe(false);
  });

  it('supports regular expressions with matches()', () => {
    const a = allowWhen("request.path.matches('^/v[0-9]+/items$')");
    expect(a.check({ url: 'https://api.example.com/v12/items' }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/vx/items' }).allowed).toBe(false);
  });

  it('evaluates the same condition afresh for every request', () => {
    const a = allowWhen("request.headers['x-n'] == '1'");
    expect(a.check({ url: 'https://api.example.com/', headers: { 'x-n': '1' } }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/', headers: { 'x-n': '2' } }).allowed).toBe(false);
    expect(a.check({ url: 'https://api.example.com/', headers: { 'x-n': '1' } }).allowed).toBe(true);
  });
});

describe('a when that fails to evaluate', () => {
  const failing = 'request.body.ticket.type == "question"';

  it('keeps an Allow rule from matching, and the default-deny reason says why', () => {
    const a = allowWhen(failing);
    const d = a.check({ method: 'POST', url: 'https://api.example.com/tickets' });
    expect(d).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(d.reason).toContain('rule "conditional" did not match: when failed to evaluate');
  });

  it('makes a Deny rule match, and the reason says the condition failed', () => {
    const a = agent([policy('guarded', `
      podSelector: {}
      rules:
        - name: allow-all
          to: {hosts: [api.example.com]}
        - name: deny-questions
          action: Deny
          to: {hosts: [api.example.com]}
          when: ${JSON.stringify(failing)}
    `)]);
    const d = a.check({ method: 'POST', url: 'https://api.example.com/tickets', body: { other: true } });
    expect(d).toMatchObject({ allowed: false, rule: 'deny-questions', policy: 'guarded' });
    expect(d.reason).toContain('denied by rule "deny-questions" of policy "guarded"');
    expect(d.reason).toContain('when failed to evaluate');
  });

  it('lets the Deny rule pass when the condition evaluates to false', () => {
    const a = agent([policy('guarded', `
      podSelector: {}
      rules:
        - name: allow-all
          to: {hosts: [api.example.com]}
        - name: deny-questions
          action: Deny
          to: {hosts: [api.example.com]}
          when: ${JSON.stringify(failing)}
    `)]);
    const d = a.check({ method: 'POST', url: 'https://api.example.com/tickets', body: { ticket: { type: 'incident' } } });
    expect(d).toMatchObject({ allowed: true, rule: 'allow-all' });
  });

  it('treats a type error like a missing key', () => {
    const a = allowWhen('request.body.count > 3');
    const d = a.check({ method: 'POST', url: 'https://api.example.com/', body: { count: 'many' } });
    expect(d).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(d.reason).toContain('when failed to evaluate');
  });

  it('fails for a header the request does not carry', () => {
    const d = allowWhen("request.headers['x-tenant'] == 'acme'").check({ url: 'https://api.example.com/' });
    expect(d).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(d.reason).toContain('when failed to evaluate');
  });

  it('allows once the guard with has() avoids the failure', () => {
    const a = allowWhen("!('x-tenant' in request.headers) || request.headers['x-tenant'] == 'acme'");
    expect(a.check({ url: 'https://api.example.com/' }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.example.com/', headers: { 'x-tenant': 'evil' } }).allowed).toBe(false);
  });
});
