// DESIGN.md decision semantics, point 9: rate limits count allowed requests per
// pod and rule; over the limit the rule denies. Time is passed in.
import { TokenBuckets, type AgentPolicy } from '../src/index.js';
import { agent, policy, TUESDAY_10_BERLIN, type Agent } from './helpers.js';

const T0 = TUESDAY_10_BERLIN;
const MINUTE = 60_000;

const limited = policy('limited', `
  podSelector: {}
  rules:
    - name: three-a-minute
      to: {hosts: [api.example.com]}
      http: {methods: [GET]}
      when: "!('reject' in request.query)"
      rateLimit: {requests: 3, per: 1m}
    - name: two-an-hour
      to: {hosts: [other.example.com]}
      rateLimit: {requests: 2, per: 1h}
    - name: no-admin
      action: Deny
      to: {hosts: [api.example.com]}
      http: {paths: ["/admin"]}
`);

function get(a: Agent, atMs: number, url = 'https://api.example.com/'): boolean {
  return a.check({ url }, { time: atMs }).allowed;
}

function burst(a: Agent, count: number, atMs: number, url?: string): boolean[] {
  return Array.from({ length: count }, () => get(a, atMs, url));
}

describe('rate limits', () => {
  it('allow up to the limit, then deny with the rule and a reason', () => {
    const a = agent([limited]);
    expect(burst(a, 3, T0)).toEqual([true, true, true]);
    const d = a.check({ url: 'https://api.example.com/' }, { time: T0 });
    expect(d).toMatchObject({ allowed: false, policy: 'limited', rule: 'three-a-minute' });
    expect(d.reason).toBe('rule "three-a-minute" of policy "limited" allows at most 3 requests per 60000 ms; limit reached');
  });

  it('refill evenly over the period', () => {
    const a = agent([limited]);
    expect(burst(a, 4, T0)).toEqual([true, true, true, false]);
    // 3 per minute: one request back every 20 s.
    expect(get(a, T0 + 19_999)).toBe(false);
    expect(get(a, T0 + 20_000)).toBe(true);
    expect(get(a, T0 + 20_000)).toBe(false);
  });

  it('refill to the full limit, never beyond it, after a whole period', () => {
    const a = agent([limited]);
    burst(a, 3, T0);
    expect(burst(a, 4, T0 + 10 * MINUTE)).toEqual([true, true, true, false]);
  });

  it('count per rule', () => {
    const a = agent([limited]);
    burst(a, 3, T0);
    expect(burst(a, 3, T0, 'https://other.example.com/')).toEqual([true, true, false]);
    expect(get(a, T0)).toBe(false);
  });

  it('count only allowed requests: requests the rule does not match do not consume', () => {
    const a = agent([limited]);
    for (let i = 0; i < 10; i++) {
      expect(get(a, T0, 'https://api.example.com/?reject')).toBe(false);
      expect(a.check({ method: 'POST', url: 'https://api.example.com/' }, { time: T0 }).allowed).toBe(false);
      expect(get(a, T0, 'https://api.example.com/admin')).toBe(false);
    }
    expect(burst(a, 3, T0)).toEqual([true, true, true]);
  });

  it('count per pod: another pod has its own budget', () => {
    const a = agent([limited]);
    const b = agent([limited]);
    burst(a, 3, T0);
    expect(burst(b, 3, T0)).toEqual([true, true, true]);
  });

  it('are not consumed by would-be decisions of a pod governed only by Audit policies', () => {
    const trial = policy('trial', `
      podSelector: {}
      mode: Audit
      rules:
        - name: two-an-hour
          to: {hosts: [api.example.com]}
          rateLimit: {requests: 2, per: 1h}
    `);
    const a = agent([trial]);
    for (let i = 0; i < 5; i++) {
      const d = a.check({ url: 'https://api.example.com/' }, { time: T0 });
      expect(d).toMatchObject({ allowed: true, mode: 'Audit', auditDecision: { allowed: true, rule: 'two-an-hour' } });
    }
  });

  it('are not consumed by the would-be decision of an Audit rule next to Enforce policies', () => {
    const enforce = policy('enforce', `
      podSelector: {}
      rules: [{name: read, to: {hosts: [api.example.com]}, rateLimit: {requests: 2, per: 1h}}]
    `);
    const audit = policy('trial', `
      podSelector: {}
      mode: Audit
      rules: [{name: other, to: {hosts: [elsewhere.example.com]}, rateLimit: {requests: 1, per: 1h}}]
    `);
    const a = agent([enforce, audit]);
    for (let i = 0; i < 3; i++) {
      const d = a.check({ url: 'https://elsewhere.example.com/' }, { time: T0 });
      expect(d).toMatchObject({ allowed: false, rule: 'default-deny', auditDecision: { allowed: true, rule: 'other' } });
    }
  });

  it('give the same would-be decision as the effective one when the Audit policies add nothing', () => {
    const enforce = policy('enforce', `
      podSelector: {}
      rules: [{name: read, to: {hosts: [api.example.com]}, rateLimit: {requests: 2, per: 1h}}]
    `);
    const audit = policy('trial', `
      podSelector: {}
      mode: Audit
      rules: [{name: unrelated, action: Deny, to: {hosts: [elsewhere.example.com]}}]
    `);
    const a = agent([enforce, audit]);
    for (let i = 0; i < 3; i++) {
      const d = a.check({ url: 'https://api.example.com/' }, { time: T0 });
      expect({ request: i, allowed: d.auditDecision?.allowed }).toEqual({ request: i, allowed: d.allowed });
    }
  });
});

describe('rate limits across snapshot updates', () => {
  const version = (requests: number, extraRule = ''): AgentPolicy => policy('limited', `
    podSelector: {}
    rules:
      - name: two-an-hour
        to: {hosts: [api.example.com]}
        rateLimit: {requests: ${requests}, per: 1h}
      ${extraRule}
  `);

  it('keep counting a rule when a new snapshot adds other rules before it is renumbered', () => {
    const limiter = new TokenBuckets();
    const before = agent([version(2)], undefined, undefined, limiter);
    expect(burst(before, 2, T0)).toEqual([true, true]);
    const after = agent([policy('aaa-first', `
      podSelector: {}
      rules: [{name: earlier, to: {hosts: [other.example.com]}, rateLimit: {requests: 5, per: 1h}}]
    `), version(2)], undefined, undefined, limiter);
    expect(after.loaded.rules.findIndex((r) => r.name === 'two-an-hour')).not.toBe(before.loaded.rules.findIndex((r) => r.name === 'two-an-hour'));
    expect(get(after, T0)).toBe(false);
    expect(get(after, T0, 'https://other.example.com/')).toBe(true);
  });

  it('count a rule of another name separately', () => {
    const limiter = new TokenBuckets();
    burst(agent([version(2)], undefined, undefined, limiter), 2, T0);
    const renamed = agent([policy('limited', `
      podSelector: {}
      rules: [{name: renamed, to: {hosts: [api.example.com]}, rateLimit: {requests: 2, per: 1h}}]
    `)], undefined, undefined, limiter);
    expect(get(renamed, T0)).toBe(true);
  });
});

describe('TokenBuckets', () => {
  it('starts full and admits `requests` at once', () => {
    const buckets = new TokenBuckets();
    const admitted = Array.from({ length: 5 }, () => buckets.admit('p/r', 4, 1000, 0, true));
    expect(admitted).toEqual([true, true, true, true, false]);
  });

  it('looks without counting when asked not to consume', () => {
    const buckets = new TokenBuckets();
    for (let i = 0; i < 10; i++) expect(buckets.admit('p/r', 1, 1000, 0, false)).toBe(true);
    expect(buckets.admit('p/r', 1, 1000, 0, true)).toBe(true);
    expect(buckets.admit('p/r', 1, 1000, 0, false)).toBe(false);
  });

  it('does not refill when time goes backwards', () => {
    const buckets = new TokenBuckets();
    expect(buckets.admit('p/r', 1, 1000, 5000, true)).toBe(true);
    expect(buckets.admit('p/r', 1, 1000, 0, true)).toBe(false);
  });

  it('keeps a bucket per key', () => {
    const buckets = new TokenBuckets();
    expect(buckets.admit('p/a', 1, 1000, 0, true)).toBe(true);
    expect(buckets.admit('p/b', 1, 1000, 0, true)).toBe(true);
    expect(buckets.admit('p/a', 1, 1000, 0, true)).toBe(false);
  });

  it('forgets the buckets it is not told to retain', () => {
    const buckets = new TokenBuckets();
    buckets.admit('p/kept', 1, 1000, 0, true);
    buckets.admit('p/dropped', 1, 1000, 0, true);
    buckets.retain(new Set(['p/kept']));
    expect(buckets.admit('p/kept', 1, 1000, 0, true)).toBe(false);
    expect(buckets.admit('p/dropped', 1, 1000, 0, true)).toBe(true);
  });
});
