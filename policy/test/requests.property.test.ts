// Property test of the evaluator's input edge: whatever Envoy (or an attacker
// shaping requests) sends, evaluate never throws, and nothing is allowed that
// no rule matches.
import fc from 'fast-check';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { CheckRequestSchema, type CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { evaluate, TokenBuckets } from '../src/index.js';
import { agent, policy } from './helpers.js';

/** Fixed, so that every run checks the same cases; change it to explore others. */
const SEED = 20261025;

/** Rules that read everything a request has (headers, body, MCP, query, params), all on hosts under ".test". */
const rules = policy('guarded', `
  podSelector: {}
  rules:
    - name: plain
      to: {hosts: [allowed.test]}
      http: {methods: [GET], paths: ["/ok/{id}", "/files/**"]}
      when: "request.params.id != 'x' || 'q' in request.query"
    - name: mcp-tools
      to: {hosts: ["*.mcp.test"]}
      mcp: {methods: [tools/call, resources/read], tools: [search, "file:///a"]}
      when: "mcp.arguments.limit < 10 && request.headers['x-tenant'] == 'acme'"
    - name: body
      to: {hosts: [body.test]}
      http: {methods: [POST, PUT]}
      when: "request.body.kind == 'ok' && now.getHours('Europe/Berlin') < 25"
    - name: limited
      to: {hosts: [limited.test]}
      rateLimit: {requests: 1, per: 1h}
    - name: deny-failing
      action: Deny
      to: {hosts: [deny.test]}
      when: "request.body.never == true"
`);

/** An Audit policy allowing everything: it must never leak into the effective decision. */
const auditAllowsAll = policy('trial', `
  podSelector: {}
  mode: Audit
  rules: [{name: everything, to: {hosts: ["*"]}}]
`);

const enforceOnly = agent([rules]);
const mixed = agent([rules, auditAllowsAll]);

/** Short text: any UTF-16 code units, or printable ASCII, or characters that matter to parsers. */
const text = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.stringMatching(/^[A-Za-z0-9.:%/\\?#[\]{}@!*-]{0,24}$/),
);

/** Hosts: random text, or well-formed host[:port] that no rule names. */
const host = fc.oneof(
  text,
  fc.tuple(fc.domain(), fc.option(fc.integer({ min: 0, max: 70_000 }))).map(([d, port]) => (port === null ? d : `${d}:${port}`)),
  fc.constantFrom('[::1]:8080', '[fe80::1', 'EXAMPLE.COM.', 'a..b', ':443', ''),
);

/** Paths: random text, or slash-separated pieces of characters that matter to the path checks. */
const path = fc.oneof(
  text,
  fc.array(fc.stringMatching(/^(?:[a-z.]|%2[eEfF]|%5[cC]|%00|%[0-9a-fA-F]{2}|%|\\|\0|\?|#){0,5}$/), { maxLength: 6 }).map((segs) => `/${segs.join('/')}`),
);

/** Bodies: random text, random JSON, or JSON-RPC-shaped objects with random parts. */
const body = fc.oneof(
  text,
  fc.json({ maxDepth: 3 }),
  fc.record({
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue({ maxDepth: 1 })),
    id: fc.jsonValue({ maxDepth: 1 }),
    method: fc.oneof(fc.constantFrom('tools/call', 'resources/read', 'initialize'), text),
    params: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ name: fc.oneof(fc.constant('search'), text), arguments: fc.jsonValue({ maxDepth: 2 }) })),
  }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
);

const headers = fc.dictionary(fc.oneof(text, fc.constantFrom(':authority', 'host', 'x-tenant', 'x-envoy-auth-partial-body')), text, { maxKeys: 5 });

const checkRequest: fc.Arbitrary<CheckRequest> = fc.record({
  method: fc.oneof(text, fc.constantFrom('GET', 'post', 'PUT', 'DELETE')),
  host,
  path,
  query: text,
  scheme: fc.oneof(text, fc.constantFrom('http', 'https')),
  headers,
  body,
  rawBody: fc.oneof(fc.constant(new Uint8Array()), fc.uint8Array({ maxLength: 32 }), body.map((b) => new TextEncoder().encode(b))),
  headerMap: fc.option(fc.array(fc.record({ key: text, value: text, rawValue: fc.uint8Array({ maxLength: 8 }) }), { maxLength: 3 })),
  time: fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 })),
}).map((r) => create(CheckRequestSchema, {
  attributes: {
    request: {
      ...(r.time === null ? {} : { time: timestampFromMs(r.time) }),
      http: {
        method: r.method, host: r.host, path: r.path, query: r.query, scheme: r.scheme, headers: r.headers, body: r.body, rawBody: r.rawBody,
        ...(r.headerMap === null ? {} : { headerMap: { headers: r.headerMap } }),
      },
    },
  },
}));

/** Whether any host the request could be read as lies under ".test", where the rules are. */
function mayReachRules(check: CheckRequest): boolean {
  const http = check.attributes?.request?.http;
  const candidates = [http?.host ?? '', ...Object.values(http?.headers ?? {}), ...(http?.headerMap?.headers ?? []).map((h) => h.value)];
  return candidates.some((c) => /test/i.test(c));
}

describe('any CheckRequest whatever', () => {
  it('is decided without throwing and is never allowed when it cannot reach a rule', () => {
    fc.assert(fc.property(checkRequest, fc.integer({ min: 0, max: 4_102_444_800_000 }), (check, clock) => {
      fc.pre(!mayReachRules(check));
      for (const a of [enforceOnly, mixed]) {
        const d = evaluate(a.loaded, check, { nowMs: clock, rateLimiter: new TokenBuckets() });
        expect(d.allowed).toBe(false);
        expect(d.headers).toEqual([]);
        expect(typeof d.reason).toBe('string');
      }
    }), { numRuns: 1000, seed: SEED });
  });

  it('is decided by a rule of its host when it is sent to the hosts the rules name, and an Audit policy changes nothing', () => {
    /** The rules that may decide a request to each host; invalid-request and default-deny may decide any. */
    const rulesOf: Readonly<Record<string, readonly string[]>> = {
      'allowed.test': ['plain'], 'ALLOWED.test:443': ['plain'], 'a.mcp.test': ['mcp-tools'], 'body.test': ['body'], 'limited.test': ['limited'], 'deny.test': ['deny-failing'],
    };
    const ruleHost = fc.constantFrom(...Object.keys(rulesOf));
    fc.assert(fc.property(checkRequest, ruleHost, fc.integer({ min: 0, max: 4_102_444_800_000 }), (check, h, clock) => {
      const http = check.attributes?.request?.http;
      if (http !== undefined) http.host = h;
      const enforced = evaluate(enforceOnly.loaded, check, { nowMs: clock, rateLimiter: new TokenBuckets() });
      const audited = evaluate(mixed.loaded, check, { nowMs: clock, rateLimiter: new TokenBuckets() });
      expect([...(rulesOf[h] ?? []), 'default-deny', 'invalid-request']).toContain(enforced.rule);
      // Allowed only by an Allow rule; the Deny rule, default-deny and invalid-request never allow.
      expect(enforced.allowed).toBe(!['deny-failing', 'default-deny', 'invalid-request'].includes(enforced.rule));
      expect(enforced.allowed ? enforced.policy : '').toBe(enforced.allowed ? 'guarded' : '');
      // The Audit policy that allows everything records, and never changes the effective decision.
      expect({ allowed: audited.allowed, rule: audited.rule, policy: audited.policy }).toEqual({ allowed: enforced.allowed, rule: enforced.rule, policy: enforced.policy });
    }), { numRuns: 1000, seed: SEED });
  });
});

describe('a well-formed request to the rule "plain"', () => {
  // plain: GET allowed.test /ok/{id} or /files/**, when "request.params.id != 'x' || 'q' in request.query".
  const segment = fc.stringMatching(/^[a-z0-9]{1,4}$/);
  const request = fc.record({
    method: fc.constantFrom('GET', 'POST', 'DELETE'),
    route: fc.oneof(
      fc.oneof(segment, fc.constant('x')).map((id) => ({ path: `/ok/${id}`, id })),
      fc.array(segment, { maxLength: 3 }).map((segs) => ({ path: ['/files', ...segs].join('/'), id: undefined })),
      segment.map((id) => ({ path: `/other/${id}`, id: undefined })),
    ),
    q: fc.boolean(),
  });

  /** The decision DESIGN.md's semantics give, written out for this one rule. */
  function expected(r: { method: string; route: { path: string; id: string | undefined }; q: boolean }): { allowed: boolean; rule: string } {
    const templated = r.route.path.startsWith('/ok/') || r.route.path === '/files' || r.route.path.startsWith('/files/');
    // No id captured under /files/**: the left side fails to evaluate, and CEL's || is true when either side is.
    const when = r.route.id === undefined ? r.q : r.route.id !== 'x' || r.q;
    const allowed = r.method === 'GET' && templated && when;
    return { allowed, rule: allowed ? 'plain' : 'default-deny' };
  }

  it('is allowed exactly when method, path template and condition say so', () => {
    fc.assert(fc.property(request, (r) => {
      const check = create(CheckRequestSchema, {
        attributes: { request: { http: { method: r.method, host: 'allowed.test', scheme: 'https', path: r.route.path, query: r.q ? 'q=1' : 'p=1' } } },
      });
      const d = evaluate(enforceOnly.loaded, check, { nowMs: 0, rateLimiter: new TokenBuckets() });
      expect({ request: r, allowed: d.allowed, rule: d.rule }).toEqual({ request: r, ...expected(r) });
    }), { numRuns: 500, seed: SEED });
  });
});
