// DESIGN.md decision semantics point 12: a rule's taints join the caller's
// session when it allows; the request itself is decided on the session as it
// was before it; CEL reads session.id and session.taints.
import {
  compileSnapshot, evaluate, loadSnapshot, SessionStore, TokenBuckets,
  type AgentPolicy, type Decision, type LoadedSnapshot, type PodIdentity, type TaintOrigin,
} from '../src/index.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import { fakeSecrets, POD, policy, TUESDAY_10_BERLIN } from './helpers.js';

const T0 = TUESDAY_10_BERLIN;
const HOUR = 3_600_000;

function trifecta(session = 'key: pod, ttl: 1h', mode = 'Enforce'): AgentPolicy {
  return policy('support-agent', `
    podSelector: {}
    mode: ${mode}
    session: {${session}}
    rules:
      - name: read-customer
        to: {hosts: [crm.internal]}
        http: {methods: [GET]}
        taints: [pii]
      - name: fetch-web
        to: {hosts: [mcp.web.internal]}
        mcp: {tools: [fetch]}
        taints: [untrusted]
      - name: no-exfil-after-pii
        action: Deny
        to: {hosts: ["*"]}
        http: {methods: [POST]}
        when: "'pii' in session.taints && 'untrusted' in session.taints"
      - name: post-out
        to: {hosts: [hooks.slack.com]}
        http: {methods: [POST]}
      - name: post-before-pii
        to: {hosts: [api.partner.com]}
        http: {methods: [POST]}
        when: "!('pii' in session.taints)"
  `);
}

interface Harness {
  readonly store: SessionStore;
  readonly loaded: LoadedSnapshot;
  decide(request: RequestShorthand, atMs?: number, origin?: TaintOrigin): Decision;
}

function harness(policies: readonly AgentPolicy[], store = new SessionStore(), pod: PodIdentity = POD): Harness {
  const loaded = loadSnapshot(compileSnapshot(policies, pod, { resolveSecret: fakeSecrets }));
  const limiter = new TokenBuckets();
  return {
    store,
    loaded,
    decide: (request, atMs = T0, origin) => evaluate(loaded, checkRequestFrom(request, atMs), { nowMs: atMs, rateLimiter: limiter, sessions: store, ...(origin === undefined ? {} : { origin }) }),
  };
}

const READ_PII: RequestShorthand = { url: 'https://crm.internal/customers/17' };
const FETCH_WEB: RequestShorthand = { url: 'https://mcp.web.internal/mcp', mcp: { tool: 'fetch', arguments: { url: 'https://evil.example' } } };
const POST_OUT: RequestShorthand = { url: 'https://hooks.slack.com/services/x', method: 'POST', body: { text: 'hi' } };
const POST_PARTNER: RequestShorthand = { url: 'https://api.partner.com/notes', method: 'POST', body: {} };

function origin(n: number): TaintOrigin {
  return { traceId: n.toString(16).padStart(32, '0'), spanId: n.toString(16).padStart(16, '0') };
}

describe('session taints (point 12)', () => {
  it('denies posting out once both pii and untrusted taint the session, and allows it before', () => {
    const h = harness([trifecta()]);
    expect(h.decide(POST_OUT)).toMatchObject({ allowed: true, rule: 'post-out' });
    expect(h.decide(READ_PII)).toMatchObject({ allowed: true, session: { id: 'support-agent-0', taints: [], added: ['pii'] } });
    expect(h.decide(POST_OUT)).toMatchObject({ allowed: true, rule: 'post-out', session: { taints: ['pii'] } });
    h.decide(FETCH_WEB);
    const d = h.decide(POST_OUT);
    expect(d).toMatchObject({ allowed: false, rule: 'no-exfil-after-pii', session: { taints: ['pii', 'untrusted'], added: [] } });
  });

  it('decides the tainting request on the session as it was before it', () => {
    const p = policy('self', `
      podSelector: {}
      rules:
        - name: read-once
          to: {hosts: [crm.internal]}
          taints: [pii]
          when: "!('pii' in session.taints)"
    `);
    const h = harness([p]);
    const first = h.decide(READ_PII);
    expect(first).toMatchObject({ allowed: true, rule: 'read-once', session: { taints: [], added: ['pii'] } });
    expect(h.decide(READ_PII)).toMatchObject({ allowed: false, rule: 'default-deny', session: { taints: ['pii'], added: [] } });
  });

  it('lets a taint decay ttl after the last call that added it', () => {
    const h = harness([trifecta('ttl: 1h')]);
    h.decide(READ_PII, T0);
    h.decide(READ_PII, T0 + 30 * 60_000);
    expect(h.decide(POST_PARTNER, T0 + HOUR + 60_000)).toMatchObject({ allowed: false, rule: 'default-deny', session: { taints: ['pii'] } });
    expect(h.decide(POST_PARTNER, T0 + 90 * 60_000)).toMatchObject({ allowed: true, rule: 'post-before-pii', session: { taints: [] } });
    expect(h.store.stats()).toMatchObject({ sessions: 0, taints: 0 });
  });

  it('keys the session by pod: every request of the pod shares it', () => {
    const h = harness([trifecta()]);
    h.decide({ ...READ_PII, headers: { 'mcp-session-id': 'a' } });
    expect(h.decide({ ...POST_PARTNER, headers: { 'mcp-session-id': 'b' } })).toMatchObject({ allowed: false, session: { id: 'support-agent-0', taints: ['pii'] } });
  });

  it('keys the session by a header: each MCP session has its own taints', () => {
    const h = harness([trifecta('key: "header:mcp-session-id"')]);
    expect(h.decide({ ...READ_PII, headers: { 'Mcp-Session-Id': 'a' } })).toMatchObject({ session: { id: 'a', added: ['pii'] } });
    expect(h.decide({ ...POST_PARTNER, headers: { 'mcp-session-id': 'a' } })).toMatchObject({ allowed: false, session: { id: 'a', taints: ['pii'] } });
    expect(h.decide({ ...POST_PARTNER, headers: { 'mcp-session-id': 'b' } })).toMatchObject({ allowed: true, session: { id: 'b', taints: [] } });
  });

  it('gives a request without the header session id "" and no taints, and adds none', () => {
    const h = harness([trifecta('key: "header:mcp-session-id"')]);
    h.decide({ ...READ_PII, headers: { 'mcp-session-id': 'a' } });
    expect(h.decide(READ_PII)).toMatchObject({ allowed: true, session: { id: '', taints: [], added: [] } });
    expect(h.decide(POST_PARTNER)).toMatchObject({ allowed: true, session: { id: '', taints: [] } });
    expect(h.store.stats()).toMatchObject({ sessions: 1, taints: 1 });
  });

  it('keys the session by the W3C trace id of traceparent', () => {
    const h = harness([trifecta('key: trace')]);
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const tp = (span: string): Record<string, string> => ({ traceparent: `00-${trace}-${span}-01` });
    expect(h.decide({ ...READ_PII, headers: tp('00f067aa0ba902b7') })).toMatchObject({ session: { id: trace, added: ['pii'] } });
    expect(h.decide({ ...POST_PARTNER, headers: tp('00f067aa0ba902b8') })).toMatchObject({ allowed: false, session: { id: trace, taints: ['pii'] } });
    expect(h.decide({ ...POST_PARTNER, headers: { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` } })).toMatchObject({ allowed: true, session: { id: '' } });
    expect(h.decide(POST_PARTNER)).toMatchObject({ allowed: true, session: { id: '', taints: [] } });
  });

  it('reads the session header even when no rule reads headers', () => {
    const h = harness([trifecta('key: "header:x-session"')]);
    expect(h.loaded.needsHeaders).toBe(false);
    h.decide({ ...READ_PII, headers: { 'x-session': 's1' } });
    expect(h.decide({ ...POST_PARTNER, headers: { 'x-session': 's1' } })).toMatchObject({ allowed: false, session: { id: 's1', taints: ['pii'] } });
  });

  it('binds session.id in conditions', () => {
    const p = policy('by-id', `
      podSelector: {}
      session: {key: "header:mcp-session-id"}
      rules:
        - name: only-session-a
          to: {hosts: [crm.internal]}
          when: "session.id == 'a' && size(session.taints) == 0"
    `);
    const h = harness([p]);
    expect(h.decide({ ...READ_PII, headers: { 'mcp-session-id': 'a' } }).allowed).toBe(true);
    expect(h.decide({ ...READ_PII, headers: { 'mcp-session-id': 'b' } }).allowed).toBe(false);
  });

  it('adds only on an effective allow: Audit policies record, never taint', () => {
    const h = harness([trifecta('key: pod', 'Audit')]);
    const d = h.decide(READ_PII);
    expect(d).toMatchObject({ allowed: true, mode: 'Audit', session: { added: [] } });
    expect(h.store.stats().taints).toBe(0);
  });

  it('adds the taints of an Enforce rule while Audit policies govern the pod too', () => {
    const audit = policy('watch', `
      podSelector: {}
      mode: Audit
      rules:
        - name: see-all
          to: {hosts: ["*"]}
          taints: [seen]
    `);
    const h = harness([trifecta(), audit]);
    expect(h.decide(READ_PII)).toMatchObject({ allowed: true, rule: 'read-customer', auditDecision: { rule: 'read-customer' }, session: { added: ['pii'] } });
    expect(h.decide({ url: 'https://elsewhere.example/' })).toMatchObject({ allowed: false, auditDecision: { allowed: true, rule: 'see-all' }, session: { taints: ['pii'], added: [] } });
  });

  it('adds nothing when the tainting rule denies (over its rate limit)', () => {
    const p = policy('limited', `
      podSelector: {}
      rules:
        - name: read-once-a-minute
          to: {hosts: [crm.internal]}
          rateLimit: {requests: 1, per: 1m}
          taints: [pii]
    `);
    const store = new SessionStore();
    const h = harness([p], store);
    h.decide(READ_PII, T0, origin(1));
    const denied = h.decide(READ_PII, T0 + 1000, origin(2));
    expect(denied).toMatchObject({ allowed: false, session: { taints: ['pii'], added: [] } });
    expect(store.taintsOf('pod=support-agent-0', T0 + 1000)[0]?.origin).toEqual(origin(1));
  });

  it('links a decision whose rule reads session.taints to the decisions that added them, newest first', () => {
    const h = harness([trifecta()]);
    h.decide(READ_PII, T0, origin(1));
    h.decide(FETCH_WEB, T0 + 1, origin(2));
    const denied = h.decide(POST_OUT, T0 + 2, origin(3));
    expect(denied.rule).toBe('no-exfil-after-pii');
    expect(denied.session?.links).toEqual([origin(2), origin(1)]);
    // post-out reads no session: its allow carries no links, though the session is tainted.
    const h2 = harness([trifecta()]);
    h2.decide(READ_PII, T0, origin(1));
    expect(h2.decide(POST_OUT, T0 + 1, origin(2))).toMatchObject({ allowed: true, rule: 'post-out', session: { taints: ['pii'], links: [] } });
    // An allow by a rule that tests the taints links too.
    const h3 = harness([trifecta()]);
    h3.decide(FETCH_WEB, T0, origin(4));
    expect(h3.decide(POST_PARTNER, T0 + 1)).toMatchObject({ allowed: true, rule: 'post-before-pii', session: { links: [origin(4)] } });
  });

  it('carries no session when no governing policy uses one', () => {
    const p = policy('plain', `
      podSelector: {}
      rules:
        - name: read
          to: {hosts: [crm.internal]}
    `);
    const h = harness([p]);
    expect(h.loaded.sessionKeys).toEqual([]);
    expect(h.decide(READ_PII).session).toBeUndefined();
  });

  it('without a store, sees empty sessions and adds nothing', () => {
    const loaded = loadSnapshot(compileSnapshot([trifecta()], POD, { resolveSecret: fakeSecrets }));
    const ctx = { nowMs: T0, rateLimiter: new TokenBuckets() };
    expect(evaluate(loaded, checkRequestFrom(READ_PII, T0), ctx)).toMatchObject({ allowed: true, session: { id: 'support-agent-0', taints: [], added: [] } });
    expect(evaluate(loaded, checkRequestFrom(POST_PARTNER, T0), ctx)).toMatchObject({ allowed: true, rule: 'post-before-pii' });
  });
});

describe('SessionStore bounds', () => {
  it('drops the least recently used session beyond maxSessions and counts it', () => {
    const store = new SessionStore({ maxSessions: 2 });
    store.add('a', ['pii'], T0, HOUR, undefined);
    store.add('b', ['pii'], T0, HOUR, undefined);
    store.taintsOf('a', T0);
    store.add('c', ['pii'], T0, HOUR, undefined);
    expect(store.taintsOf('b', T0)).toEqual([]);
    expect(store.taintsOf('a', T0).map((e) => e.label)).toEqual(['pii']);
    expect(store.stats()).toEqual({ sessions: 2, taints: 2, evicted: 1, taintsDropped: 0 });
  });

  it('holds at most maxTaintsPerSession labels per session and counts those dropped', () => {
    const store = new SessionStore({ maxTaintsPerSession: 2 });
    expect(store.add('a', ['x', 'y', 'z'], T0, HOUR, undefined)).toEqual(['x', 'y']);
    // A label already held is refreshed, not dropped.
    expect(store.add('a', ['x'], T0 + 1, HOUR, undefined)).toEqual(['x']);
    expect(store.taintsOf('a', T0).map((e) => e.label)).toEqual(['y', 'x']);
    expect(store.stats()).toEqual({ sessions: 1, taints: 2, evicted: 0, taintsDropped: 1 });
  });

  it('evicts through evaluate too: the sidecar bound holds for header sessions', () => {
    const h = harness([trifecta('key: "header:mcp-session-id"')], new SessionStore({ maxSessions: 3 }));
    for (let i = 0; i < 5; i++) h.decide({ ...READ_PII, headers: { 'mcp-session-id': `s${i}` } });
    expect(h.store.stats()).toMatchObject({ sessions: 3, evicted: 2 });
    expect(h.decide({ ...POST_PARTNER, headers: { 'mcp-session-id': 's0' } }).allowed).toBe(true);
    expect(h.decide({ ...POST_PARTNER, headers: { 'mcp-session-id': 's4' } }).allowed).toBe(false);
  });

  it('estimates its size', () => {
    const store = new SessionStore();
    expect(store.approxBytes()).toBe(0);
    store.add('pod=a', ['pii'], T0, HOUR, origin(1));
    expect(store.approxBytes()).toBeGreaterThan(100);
  });
});

describe('session manifests', () => {
  const bad = (spec: string): string => {
    try {
      policy('bad', spec);
    } catch (e: unknown) {
      return e instanceof Error ? e.message : String(e);
    }
    return 'accepted';
  };

  it('refuses a session key that is not pod, trace or header:<lower-case name>, and a ttl that is no duration', () => {
    expect(bad('{podSelector: {}, session: {key: "cookie"}, rules: [{name: a, to: {hosts: [x.com]}}]}')).toContain('spec.session.key');
    expect(bad('{podSelector: {}, session: {key: "header:Mcp-Session-Id"}, rules: [{name: a, to: {hosts: [x.com]}}]}')).toContain('spec.session.key');
    expect(bad('{podSelector: {}, session: {key: "header:x-agentwarden-session"}, rules: [{name: a, to: {hosts: [x.com]}}]}')).toContain('spec.session.key');
    expect(bad('{podSelector: {}, session: {ttl: "forever"}, rules: [{name: a, to: {hosts: [x.com]}}]}')).toContain('spec.session.ttl');
  });

  it('refuses taints that are not DNS labels, more than 16, or on a Deny rule', () => {
    expect(bad('{podSelector: {}, rules: [{name: a, to: {hosts: [x.com]}, taints: [PII]}]}')).toContain('spec.rules[0].taints[0]');
    const many = Array.from({ length: 17 }, (_, i) => `t${i}`).join(', ');
    expect(bad(`{podSelector: {}, rules: [{name: a, to: {hosts: [x.com]}, taints: [${many}]}]}`)).toContain('spec.rules[0].taints');
    expect(bad('{podSelector: {}, rules: [{name: a, action: Deny, to: {hosts: [x.com]}, taints: [pii]}]}')).toContain('a Deny rule never allows');
  });

  it('type-checks conditions that read the session', () => {
    expect(bad('{podSelector: {}, rules: [{name: a, to: {hosts: [x.com]}, when: "!(\'pii\' in session.taints) && session.id != \'\'"}]}')).toBe('accepted');
    const p = policy('typed', '{podSelector: {}, rules: [{name: a, to: {hosts: [x.com]}, when: "session.tainted"}]}');
    expect(() => compileSnapshot([p], POD)).toThrow(/session\.tainted/);
  });

  it('compiles the session into the snapshot, and leaves policies without one unchanged', () => {
    const s = compileSnapshot([trifecta('key: "header:mcp-session-id", ttl: 30m')], POD);
    expect(s.policies[0]).toMatchObject({ sessionKey: 'header:mcp-session-id', sessionTtlMs: 1_800_000n });
    expect(s.rules[0]?.taints).toEqual(['pii']);
    const plain = compileSnapshot([policy('plain', '{podSelector: {}, rules: [{name: a, to: {hosts: [x.com]}}]}')], POD);
    expect(plain.policies[0]).toMatchObject({ sessionKey: '', sessionTtlMs: 0n });
  });
});
