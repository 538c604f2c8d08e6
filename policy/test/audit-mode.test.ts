// DESIGN.md decision semantics, points 3 and 4: Audit policies record the
// decision they would make and never change the effective one.
import type { RequestShorthand } from '../../cli/src/request-shorthand.js';
import type { AgentPolicy, Decision } from '../src/index.js';
import { agent, policy } from './helpers.js';

const enforced = policy('support', `
  podSelector: {}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com]}
      http: {methods: [GET], paths: ["/api/v2/tickets", "/api/v2/tickets/{id}"]}
      credential: zendesk
    - name: no-billing
      action: Deny
      to: {hosts: [billing.internal]}
  credentials:
    - name: zendesk
      secretRef: {name: zendesk-api, key: token}
`);

/** The trial policy, in Audit or Enforce mode. */
function trial(mode: 'Audit' | 'Enforce'): AgentPolicy {
  return policy('trial', `
    podSelector: {}
    mode: ${mode}
    rules:
      - name: no-bulk-export
        action: Deny
        to: {hosts: [api.zendesk.com]}
        http: {paths: ["/api/v2/tickets"]}
        when: "'per_page' in request.query && int(request.query.per_page[0]) > 100"
      - name: read-status
        to: {hosts: [status.zendesk.com]}
  `);
}

describe('Audit policies next to Enforce policies', () => {
  it('let through what the Enforce policies allow, recording the would-be deny', () => {
    const d = agent([enforced, trial('Audit')]).check({ url: 'https://api.zendesk.com/api/v2/tickets?per_page=1000' });
    expect(d).toMatchObject({ allowed: true, mode: 'Enforce', policy: 'support', rule: 'read-tickets' });
    expect(d.auditDecision).toEqual({
      allowed: false, policy: 'trial', rule: 'no-bulk-export', reason: 'denied by rule "no-bulk-export" of policy "trial"',
    });
  });

  it('keep the credential of the effective allow even when the would-be decision denies', () => {
    const d = agent([enforced, trial('Audit')]).check({ url: 'https://api.zendesk.com/api/v2/tickets?per_page=1000' });
    expect(d.headers).toEqual([['authorization', 'Bearer secret:support/zendesk-api/token']]);
  });

  it('deny what the Enforce policies deny, recording the would-be allow', () => {
    const d = agent([enforced, trial('Audit')]).check({ url: 'https://status.zendesk.com/' });
    expect(d).toMatchObject({ allowed: false, mode: 'Enforce', rule: 'default-deny' });
    expect(d.auditDecision).toMatchObject({ allowed: true, policy: 'trial', rule: 'read-status' });
  });

  it('record an agreeing would-be decision too', () => {
    const d = agent([enforced, trial('Audit')]).check({ url: 'https://api.zendesk.com/api/v2/tickets/7' });
    expect(d).toMatchObject({ allowed: true, rule: 'read-tickets' });
    expect(d.auditDecision).toMatchObject({ allowed: true, policy: 'support', rule: 'read-tickets' });
  });

  it('leave auditDecision null where no Audit policy governs the pod', () => {
    expect(agent([enforced]).check({ url: 'https://api.zendesk.com/api/v2/tickets/7' }).auditDecision).toBeNull();
  });

  it('become the effective decision when switched from Audit to Enforce', () => {
    const requests: RequestShorthand[] = [
      { url: 'https://api.zendesk.com/api/v2/tickets?per_page=1000' },
      { url: 'https://api.zendesk.com/api/v2/tickets?per_page=50' },
      { url: 'https://api.zendesk.com/api/v2/tickets/4711' },
      { method: 'POST', url: 'https://api.zendesk.com/api/v2/tickets' },
      { url: 'https://status.zendesk.com/incidents' },
      { url: 'https://billing.internal/' },
      { url: 'https://api.zendesk.com/api/v2/../billing' },
    ];
    const auditing = agent([enforced, trial('Audit')]);
    const enforcing = agent([enforced, trial('Enforce')]);
    for (const request of requests) {
      const wouldBe = auditing.check(request).auditDecision;
      const now: Decision = enforcing.check(request);
      expect({ url: request.url, allowed: now.allowed, policy: now.policy, rule: now.rule, reason: now.reason })
        .toEqual({ url: request.url, ...wouldBe });
    }
  });
});

describe('a pod governed only by Audit policies', () => {
  it('is allowed what the policies would deny, and the would-be deny is recorded', () => {
    const d = agent([trial('Audit')]).check({ url: 'https://api.zendesk.com/api/v2/tickets?per_page=1000' });
    expect(d).toMatchObject({ allowed: true, mode: 'Audit', policy: 'trial', rule: 'no-bulk-export' });
    expect(d.reason).toBe('Audit mode: would deny: denied by rule "no-bulk-export" of policy "trial"');
    expect(d.auditDecision).toMatchObject({ allowed: false, rule: 'no-bulk-export' });
  });

  it('is allowed a request no rule matches, recording a would-be default-deny', () => {
    const d = agent([trial('Audit')]).check({ url: 'https://pastebin.com/' });
    expect(d).toMatchObject({ allowed: true, mode: 'Audit', rule: 'default-deny' });
    expect(d.auditDecision).toMatchObject({ allowed: false, policy: '', rule: 'default-deny' });
  });

  it('is allowed what the policies would allow, recording the would-be allow', () => {
    const d = agent([trial('Audit')]).check({ url: 'https://status.zendesk.com/' });
    expect(d).toMatchObject({ allowed: true, mode: 'Audit', rule: 'read-status' });
    expect(d.reason).toBe('Audit mode: would allow: allowed by rule "read-status" of policy "trial"');
    expect(d.auditDecision).toMatchObject({ allowed: true, policy: 'trial', rule: 'read-status' });
  });

  it('is still refused an ambiguous path, before any rule', () => {
    const d = agent([trial('Audit')]).check({ url: 'https://status.zendesk.com/a/../b' });
    expect(d).toMatchObject({ allowed: false, rule: 'invalid-request' });
    expect(d.auditDecision).toMatchObject({ allowed: false, rule: 'invalid-request' });
  });
});
