// Credentials: injected as a header only when the rule that names them allows;
// a rule whose credential cannot be resolved denies, saying why.
import { agent, policy } from './helpers.js';

const zendesk = policy('zendesk', `
  podSelector: {}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com]}
      http: {methods: [GET], paths: ["/tickets/**"]}
      credential: zendesk
    - name: public-status
      to: {hosts: [api.zendesk.com]}
      http: {methods: [GET], paths: ["/status"]}
    - name: crm
      to: {hosts: [crm.internal]}
      credential: crm-key
    - name: no-exports
      action: Deny
      to: {hosts: [api.zendesk.com]}
      http: {paths: ["/tickets/export"]}
  credentials:
    - name: zendesk
      secretRef: {name: zendesk-api, key: token}
    - name: crm-key
      secretRef: {name: crm, key: api-key}
      header: X-Api-Key
      prefix: ""
`);

describe('credentials', () => {
  it('are injected when the rule naming them allows, as "Authorization: Bearer <secret>" by default', () => {
    const d = agent([zendesk]).check({ url: 'https://api.zendesk.com/tickets/1' });
    expect(d).toMatchObject({ allowed: true, rule: 'read-tickets' });
    expect(d.headers).toEqual([['authorization', 'Bearer secret:support/zendesk-api/token']]);
  });

  it('use the header and prefix the policy declares (header lower-cased)', () => {
    const d = agent([zendesk]).check({ url: 'https://crm.internal/customers' });
    expect(d.headers).toEqual([['x-api-key', 'secret:support/crm/api-key']]);
  });

  it('are not injected when another rule, without a credential, allows', () => {
    const d = agent([zendesk]).check({ url: 'https://api.zendesk.com/status' });
    expect(d).toMatchObject({ allowed: true, rule: 'public-status', headers: [] });
  });

  it('are not injected when a Deny rule wins over the rule naming them', () => {
    const d = agent([zendesk]).check({ url: 'https://api.zendesk.com/tickets/export' });
    expect(d).toMatchObject({ allowed: false, rule: 'no-exports', headers: [] });
  });

  it('are not injected when the request is denied by default', () => {
    expect(agent([zendesk]).check({ method: 'DELETE', url: 'https://api.zendesk.com/tickets/1' }).headers).toEqual([]);
  });

  it('that cannot be resolved make the rule deny, naming the credential', () => {
    const a = agent([zendesk], undefined, { resolveSecret: (_ns, name) => (name === 'crm' ? new TextEncoder().encode('k') : undefined) });
    const d = a.check({ url: 'https://api.zendesk.com/tickets/1' });
    expect(d).toMatchObject({ allowed: false, policy: 'zendesk', rule: 'read-tickets', headers: [] });
    expect(d.reason).toBe('credential unavailable: rule "read-tickets" of policy "zendesk" allows, but its credential "zendesk" is not available');
    expect(a.check({ url: 'https://crm.internal/' }).headers).toEqual([['x-api-key', 'k']]);
  });

  it('are unresolved when compiled without a secret resolver', () => {
    const d = agent([zendesk], undefined, {}).check({ url: 'https://crm.internal/' });
    expect(d).toMatchObject({ allowed: false, rule: 'crm' });
    expect(d.reason).toContain('credential "crm-key" is not available');
  });

  it('are injected without the trailing newline a Secret created from a file carries', () => {
    const a = agent([zendesk], undefined, { resolveSecret: () => new TextEncoder().encode('tok\n') });
    expect(a.check({ url: 'https://api.zendesk.com/tickets/1' }).headers).toEqual([['authorization', 'Bearer tok']]);
  });

  it('are looked up in the namespace of the policy', () => {
    const seen: string[] = [];
    agent([zendesk], undefined, { resolveSecret: (ns, name, key) => { seen.push(`${ns}/${name}/${key}`); return new Uint8Array(); } });
    expect(seen.sort()).toEqual(['support/crm/api-key', 'support/zendesk-api/token']);
  });

  it('are injected in Audit-only pods when the would-be decision allows', () => {
    const audit = policy('audit', `
      podSelector: {}
      mode: Audit
      rules: [{name: read, to: {hosts: [api.zendesk.com]}, credential: zendesk}]
      credentials: [{name: zendesk, secretRef: {name: zendesk-api, key: token}}]
    `);
    const d = agent([audit]).check({ url: 'https://api.zendesk.com/' });
    expect(d).toMatchObject({ allowed: true, mode: 'Audit' });
    expect(d.headers).toEqual([['authorization', 'Bearer secret:support/zendesk-api/token']]);
  });
});
