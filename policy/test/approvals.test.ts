// DESIGN.md decision semantics points 10 and 11: RequireApproval rules, approval
// grants (exactly one operation) and break-glass grants (rules over namespaced
// Deny and RequireApproval, never over a ClusterAgentPolicy), by the sidecar's clock.
import fc from 'fast-check';
import {
  approvalRequestName, canonicalJson, compileSnapshot, parseClusterAgentPolicy, PolicyError, REASON_APPROVAL_REQUIRED, RULE_CLUSTER_CEILING,
  type AgentPolicy, type OperationSpec, type PodIdentity,
} from '../src/index.js';
import { accessRequest, grantedAgent, iso, MINUTE, NOW } from './grant-helpers.js';
import { fakeSecrets, POD, policy, yaml } from './helpers.js';

const support = policy('support-agent', `
  podSelector: {}
  rules:
    - {name: read-tickets, to: {hosts: [api.zendesk.com]}, http: {methods: [GET]}, credential: zendesk}
    - {name: no-admin, action: Deny, to: {hosts: [api.zendesk.com]}, http: {paths: ["/admin/**"]}}
    - {name: refunds, action: RequireApproval, to: {hosts: [mcp.support.internal]}, http: {paths: [/mcp]}, mcp: {tools: [issue_refund]}}
    - {name: no-delete, action: Deny, to: {hosts: [mcp.support.internal]}, mcp: {tools: [delete_customer]}}
    - {name: mcp-tools, to: {hosts: [mcp.support.internal]}, http: {paths: [/mcp]}, mcp: {}}
  credentials:
    - {name: zendesk, secretRef: {name: zendesk-api, key: token}}
`);

const REFUND = { url: 'https://mcp.support.internal/mcp', mcp: { tool: 'issue_refund', arguments: { order: 'A-1', amount: 120 } } };
const REFUND_OP: OperationSpec = { method: 'POST', host: 'mcp.support.internal', port: 443, path: '/mcp', query: '', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 120, order: 'A-1' } } };

/** The approval of REFUND, as the controller creates it from the deny. */
function refundApproval(extra = ''): ReturnType<typeof accessRequest> {
  return accessRequest('support-agent-0-refund', `
    pod: support-agent-0
    serviceAccount: support-agent
    operation:
      method: POST
      host: mcp.support.internal
      port: 443
      path: /mcp
      mcp: {method: tools/call, tool: issue_refund, arguments: {amount: 120, order: A-1}}
    duration: 15m
    origin: {policy: support-agent, rule: refunds, decisionId: abc}
    ${extra}
  `);
}

function breakGlass(rules: string, name = 'oncall-admin'): ReturnType<typeof accessRequest> {
  return accessRequest(name, `
    podSelector: {matchLabels: {app: support-agent}}
    serviceAccount: support-agent
    rules: ${rules}
    duration: 1h
    justification: INC-42 the admin API is the only way to unlock the account
  `, { state: 'Approved', approvedBy: 'bob', expiresAt: iso(NOW + 60 * MINUTE) });
}

/** An Audit policy that would deny status.example.com. */
const audited = policy('audited', `
  podSelector: {}
  mode: Audit
  rules: [{name: no-status, action: Deny, to: {hosts: [status.example.com]}}]
`);

const ADMIN_RULE = '[{name: admin, to: {hosts: [api.zendesk.com]}, http: {paths: ["/admin/**"]}, credential: zendesk}]';

describe('a RequireApproval rule', () => {
  it('denies with reason "approval required" and names the AgentAccessRequest for this pod, rule and operation', () => {
    const d = grantedAgent([support], []).check(REFUND);
    expect(d).toMatchObject({ allowed: false, policy: 'support-agent', rule: 'refunds' });
    expect(d.reason.startsWith(REASON_APPROVAL_REQUIRED)).toBe(true);
    expect(d.approval).toEqual({ name: approvalRequestName('support-agent-0', 'support-agent', 'refunds', REFUND_OP), operation: REFUND_OP });
    expect(d.grant).toBeUndefined();
  });

  it('comes after Deny rules: a Deny rule matching the same request decides', () => {
    const denyAll = policy('freeze', `
      podSelector: {}
      rules: [{name: freeze, action: Deny, to: {hosts: [mcp.support.internal]}}]
    `);
    const d = grantedAgent([support, denyAll], []).check(REFUND);
    expect(d).toMatchObject({ allowed: false, rule: 'freeze' });
    expect(d.approval).toBeUndefined();
  });

  it('comes before Allow rules: mcp-tools would allow the call', () => {
    expect(grantedAgent([support], []).check({ ...REFUND, mcp: { tool: 'lookup_order' } })).toMatchObject({ allowed: true, rule: 'mcp-tools' });
    expect(grantedAgent([support], []).check(REFUND)).toMatchObject({ allowed: false, rule: 'refunds' });
  });

  it('matches a request whose body cannot be read, as a Deny rule does (doubt never allows)', () => {
    const refundsOnly = policy('refunds-only', `
      podSelector: {}
      rules:
        - {name: refunds, action: RequireApproval, to: {hosts: [mcp.support.internal]}, http: {paths: [/mcp]}, mcp: {tools: [issue_refund]}}
        - {name: mcp-tools, to: {hosts: [mcp.support.internal]}, http: {paths: [/mcp]}, mcp: {}}
    `);
    const d = grantedAgent([refundsOnly], []).check({ url: 'https://mcp.support.internal/mcp', method: 'POST', body: '{"jsonrpc": "2.0", "id": 1, "method": "tools/call"', partialBody: true });
    expect(d).toMatchObject({ allowed: false, rule: 'refunds' });
    expect(d.reason.startsWith(REASON_APPROVAL_REQUIRED)).toBe(true);
  });

  it('in an Audit policy only records the would-be deny: nothing is denied, so no AgentAccessRequest is named', () => {
    const auditedRefunds = policy('audited-refunds', `
      podSelector: {}
      mode: Audit
      rules: [{name: refunds, action: RequireApproval, to: {hosts: [mcp.support.internal]}, mcp: {tools: [issue_refund]}}]
    `);
    const onlyAudit = grantedAgent([auditedRefunds], []).check(REFUND);
    expect(onlyAudit).toMatchObject({ allowed: true, mode: 'Audit', auditDecision: { allowed: false, rule: 'refunds' } });
    expect(onlyAudit.approval).toBeUndefined();
    const mixed = grantedAgent([auditedRefunds, support], []).check({ ...REFUND, mcp: { tool: 'issue_refund', arguments: {} } });
    expect(mixed).toMatchObject({ allowed: false, rule: 'refunds', auditDecision: { allowed: false } });
    expect(mixed.approval?.name).toBe(approvalRequestName('support-agent-0', 'support-agent', 'refunds', { ...REFUND_OP, mcp: { method: 'tools/call', tool: 'issue_refund', arguments: {} } }));
  });

  it('cannot be written in a ClusterAgentPolicy (the CRD enum has Allow and Deny only)', () => {
    const parse = (): AgentPolicy => parseClusterAgentPolicy({
      apiVersion: 'agentwarden.io/v1alpha1', kind: 'ClusterAgentPolicy', metadata: { name: 'p' },
      spec: yaml('rules: [{name: ask, action: RequireApproval, to: {hosts: ["*"]}}]'),
    }, 'p.yaml');
    expect(parse).toThrow(PolicyError);
    expect(parse).toThrow('p.yaml: ClusterAgentPolicy p: spec.rules[0].action: must be one of Allow, Deny, got "RequireApproval"');
  });
});

describe('an approval grant', () => {
  it('allows exactly the approved operation, naming the grant and the RequireApproval rule it overrode', () => {
    const d = grantedAgent([support], [refundApproval()]).check(REFUND);
    expect(d).toMatchObject({ allowed: true, policy: 'support-agent', rule: 'refunds' });
    expect(d.grant).toEqual({ name: 'support-agent-0-refund', kind: 'approval', overriddenRule: 'support-agent/refunds' });
    expect(d.approval).toBeUndefined();
    expect(d.detail).toBeUndefined();
  });

  it('injects the credential of its origin rule when that rule has one', () => {
    const withCredential = policy('support-agent', `
      podSelector: {}
      rules:
        - {name: refunds, action: RequireApproval, to: {hosts: [mcp.support.internal]}, mcp: {tools: [issue_refund]}, credential: mcp}
      credentials:
        - {name: mcp, secretRef: {name: mcp-token, key: token}, header: X-Api-Key, prefix: ""}
    `);
    const d = grantedAgent([withCredential], [refundApproval()]).check(REFUND);
    expect(d).toMatchObject({ allowed: true, headers: [['x-api-key', 'secret:support/mcp-token/token']] });
  });

  it('allows arguments exactly when their canonical JSON equals the approved arguments (property)', () => {
    const a = grantedAgent([support], [refundApproval()]);
    const approved = { order: 'A-1', amount: 120 };
    const args = fc.oneof(
      fc.dictionary(fc.constantFrom('order', 'amount', 'note'), fc.oneof(fc.constant('A-1'), fc.constant(120), fc.constant('120'), fc.integer())),
      fc.constant(approved), fc.constant({ amount: 120, order: 'A-1' }),
    );
    fc.assert(fc.property(args, (argv) => {
      const d = a.check({ ...REFUND, mcp: { tool: 'issue_refund', arguments: argv } });
      return d.allowed === (canonicalJson(argv) === canonicalJson(approved)) && (d.allowed || d.rule === 'refunds');
    }), { seed: 20261205, numRuns: 200 });
  });

  it('matches arguments whatever their key order', () => {
    expect(grantedAgent([support], [refundApproval()]).check({ ...REFUND, mcp: { tool: 'issue_refund', arguments: { amount: 120, order: 'A-1' } } }).allowed).toBe(true);
  });

  it.each([
    ['other arguments', { ...REFUND, mcp: { tool: 'issue_refund', arguments: { order: 'A-1', amount: 1200 } } }],
    ['an extra argument', { ...REFUND, mcp: { tool: 'issue_refund', arguments: { order: 'A-1', amount: 120, note: 'x' } } }],
    ['a query', { ...REFUND, url: 'https://mcp.support.internal/mcp?x=1' }],
    ['another port', { ...REFUND, url: 'https://mcp.support.internal:8443/mcp' }],
  ])('does not allow the same tool with %s: still approval required', (_what, request) => {
    const d = grantedAgent([support], [refundApproval()]).check(request);
    expect(d.allowed).toBe(false);
    expect(d.reason.startsWith(REASON_APPROVAL_REQUIRED)).toBe(true);
    expect(d.grant).toBeUndefined();
  });

  it('does not allow the same call on another path', () => {
    const d = grantedAgent([support], [refundApproval()]).check({ ...REFUND, url: 'https://mcp.support.internal/mcp/v2' });
    expect(d).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(d.grant).toBeUndefined();
  });

  it('does not allow another tool that a Deny rule forbids, nor override a Deny rule matching its own operation', () => {
    const denyRefunds = policy('freeze', `
      podSelector: {}
      rules: [{name: freeze, action: Deny, to: {hosts: [mcp.support.internal]}, mcp: {tools: [issue_refund]}}]
    `);
    const d = grantedAgent([support, denyRefunds], [refundApproval()]).check(REFUND);
    expect(d).toMatchObject({ allowed: false, rule: 'freeze' });
    expect(d.grant).toBeUndefined();
  });

  it('with uses: 1 allows once, then asks again; the ledger reports the use once', () => {
    const a = grantedAgent([support], [refundApproval('uses: 1')]);
    expect(a.check(REFUND).allowed).toBe(true);
    expect(a.ledger.drainUsed()).toEqual([{ name: 'support-agent-0-refund', uid: 'uid-support-agent-0-refund', used: 1 }]);
    const again = a.check(REFUND, { clock: NOW + 1000 });
    expect(again).toMatchObject({ allowed: false, rule: 'refunds' });
    expect(again.reason.startsWith(REASON_APPROVAL_REQUIRED)).toBe(true);
    expect(a.ledger.drainUsed()).toEqual([]);
  });

  it('without uses counts nothing and reports nothing', () => {
    const a = grantedAgent([support], [refundApproval()]);
    for (let i = 0; i < 3; i++) expect(a.check(REFUND).allowed).toBe(true);
    expect(a.ledger.drainUsed()).toEqual([]);
  });

  it('ends at expiresAt by the sidecar clock, whatever attributes.request.time says', () => {
    const a = grantedAgent([support], [refundApproval()]);
    const expiresAt = NOW + 15 * MINUTE;
    expect(a.check(REFUND, { clock: expiresAt - 1, time: expiresAt + 60 * MINUTE }).allowed).toBe(true);
    expect(a.check(REFUND, { clock: expiresAt, time: expiresAt - 60 * MINUTE })).toMatchObject({ allowed: false, rule: 'refunds' });
  });

  it('ends at first sight + duration when that comes before expiresAt (a sidecar clock behind the controller never extends it)', () => {
    const skewed = accessRequest('support-agent-0-refund', `
      pod: support-agent-0
      serviceAccount: support-agent
      operation: {method: POST, host: mcp.support.internal, port: 443, path: /mcp, mcp: {tool: issue_refund, arguments: {amount: 120, order: A-1}}}
      duration: 15m
    `, { state: 'Approved', approvedBy: 'alice', expiresAt: iso(NOW + 4 * 60 * MINUTE) });
    const a = grantedAgent([support], [skewed]);
    a.ledger.observe(a.loaded.grants, NOW);
    expect(a.check(REFUND, { clock: NOW + 15 * MINUTE - 1 }).allowed).toBe(true);
    expect(a.check(REFUND, { clock: NOW + 15 * MINUTE }).allowed).toBe(false);
  });

  it('is capped by a ceiling ClusterAgentPolicy like any allow', () => {
    const ceiling = parseClusterAgentPolicy({
      apiVersion: 'agentwarden.io/v1alpha1', kind: 'ClusterAgentPolicy', metadata: { name: 'corp-only' },
      spec: yaml('ceiling: true\nrules: [{name: corp, to: {hosts: ["*.corp.example"]}}]'),
    }, 'corp.yaml');
    const d = grantedAgent([ceiling, support], [refundApproval()]).check(REFUND);
    expect(d).toMatchObject({ allowed: false, rule: RULE_CLUSTER_CEILING, policy: 'corp-only' });
    expect(d.reason).toContain('approval grant "support-agent-0-refund" would allow');
  });
});

describe('a break-glass grant', () => {
  it('overrides a namespaced Deny rule, names it, injects the governing policy\'s credential and records the operation in detail', () => {
    const d = grantedAgent([support], [breakGlass(ADMIN_RULE)]).check({ url: 'https://api.zendesk.com/admin/users/7?unlock=1&token=abc' });
    expect(d).toMatchObject({ allowed: true, policy: 'oncall-admin', rule: 'admin' });
    expect(d.grant).toEqual({ name: 'oncall-admin', kind: 'break-glass', overriddenRule: 'support-agent/no-admin' });
    expect(d.detail).toEqual({ queryKeys: ['token', 'unlock'], mcpArguments: '' });
    expect(d.headers).toEqual([['authorization', 'Bearer secret:support/zendesk-api/token']]);
    expect(d.reason).toContain('approved by bob');
  });

  it('overrides a RequireApproval rule and redacts secret-looking arguments in detail', () => {
    const rules = '[{name: refunds-now, to: {hosts: [mcp.support.internal]}, mcp: {tools: [issue_refund]}}]';
    const d = grantedAgent([support], [breakGlass(rules)]).check({ ...REFUND, mcp: { tool: 'issue_refund', arguments: { order: 'A-1', apiKey: 'k', nested: { password: 'p', ok: 1 } } } });
    expect(d).toMatchObject({ allowed: true, rule: 'refunds-now' });
    expect(d.grant?.overriddenRule).toBe('support-agent/refunds');
    expect(d.detail?.mcpArguments).toBe('{"apiKey":"[redacted]","nested":{"ok":1,"password":"[redacted]"},"order":"A-1"}');
  });

  it('names no overridden rule when it allows what nothing denied', () => {
    const rules = '[{name: status, to: {hosts: [status.example.com]}}]';
    const d = grantedAgent([support], [breakGlass(rules)]).check({ url: 'https://status.example.com/' });
    expect(d.grant).toEqual({ name: 'oncall-admin', kind: 'break-glass', overriddenRule: null });
  });

  it('never overrides a ClusterAgentPolicy Deny rule', () => {
    const platform = parseClusterAgentPolicy({
      apiVersion: 'agentwarden.io/v1alpha1', kind: 'ClusterAgentPolicy', metadata: { name: 'platform' },
      spec: yaml('rules: [{name: no-admin-ever, action: Deny, to: {hosts: [api.zendesk.com]}, http: {paths: ["/admin/**"]}}]'),
    }, 'platform.yaml');
    const d = grantedAgent([platform, support], [breakGlass(ADMIN_RULE)]).check({ url: 'https://api.zendesk.com/admin/users/7' });
    expect(d).toMatchObject({ allowed: false, policy: 'platform', rule: 'no-admin-ever' });
    expect(d.grant).toBeUndefined();
  });

  it('ends at expiresAt: the namespaced Deny decides again', () => {
    const a = grantedAgent([support], [breakGlass(ADMIN_RULE)]);
    expect(a.check({ url: 'https://api.zendesk.com/admin/x' }, { clock: NOW + 60 * MINUTE - 1 }).allowed).toBe(true);
    expect(a.check({ url: 'https://api.zendesk.com/admin/x' }, { clock: NOW + 60 * MINUTE })).toMatchObject({ allowed: false, rule: 'no-admin' });
  });

  it('is decided in the would-be pass too: an Audit policy\'s Deny is overridden there; the effective decision overrode nothing', () => {
    const rules = '[{name: status, to: {hosts: [status.example.com]}}]';
    const d = grantedAgent([audited, support], [breakGlass(rules)]).check({ url: 'https://status.example.com/' });
    expect(d).toMatchObject({ allowed: true, rule: 'status', auditDecision: { allowed: true, rule: 'status', policy: 'oncall-admin' } });
    expect(d.grant).toEqual({ name: 'oncall-admin', kind: 'break-glass', overriddenRule: null });
  });

  it('does not change the mode of a pod governed only by Audit policies', () => {
    const d = grantedAgent([audited], [breakGlass('[{name: other, to: {hosts: [other.example.com]}}]')]).check({ url: 'https://status.example.com/' });
    expect(d).toMatchObject({ allowed: true, mode: 'Audit', auditDecision: { allowed: false, rule: 'no-status' } });
  });

  it('refuses to compile a rule whose credential no governing AgentPolicy declares, naming the request and field', () => {
    const bad = breakGlass('[{name: admin, to: {hosts: [api.zendesk.com]}, credential: stripe}]');
    const compile = (): unknown => compileSnapshot([support], POD, { grants: [bad], resolveSecret: fakeSecrets });
    expect(compile).toThrow(PolicyError);
    expect(compile).toThrow('oncall-admin.yaml: AgentAccessRequest support/oncall-admin: spec.rules[0].credential: names credential "stripe", which no AgentPolicy governing the pod declares');
  });
});

describe('grants in snapshots', () => {
  it('change the snapshot version; none leaves it as it was', () => {
    const without = compileSnapshot([support], POD, {}).version;
    expect(compileSnapshot([support], POD, { grants: [] }).version).toBe(without);
    expect(compileSnapshot([support], POD, { grants: [refundApproval()] }).version).not.toBe(without);
  });

  it('are sorted by name, and a grant for another pod, ServiceAccount or namespace is left out', () => {
    const other: PodIdentity = { ...POD, name: 'support-agent-1' };
    const snapshot = compileSnapshot([support], other, { grants: [breakGlass(ADMIN_RULE, 'z-grant'), refundApproval(), breakGlass(ADMIN_RULE, 'a-grant')] });
    expect(snapshot.grants.map((g) => g.name)).toEqual(['a-grant', 'z-grant']);
    expect(compileSnapshot([support], { ...POD, serviceAccount: 'other' }, { grants: [refundApproval(), breakGlass(ADMIN_RULE)] }).grants).toEqual([]);
    expect(compileSnapshot([support], { ...POD, namespace: 'billing' }, { grants: [refundApproval(), breakGlass(ADMIN_RULE)] }).grants).toEqual([]);
  });

  it('leave a request without grants decided as before', () => {
    const a = grantedAgent([support], [refundApproval(), breakGlass(ADMIN_RULE)]);
    expect(a.check({ url: 'https://api.zendesk.com/api/v2/tickets' })).toMatchObject({ allowed: true, rule: 'read-tickets' });
    expect(a.check({ url: 'https://unknown.example.org/' })).toMatchObject({ allowed: false, rule: 'default-deny' });
  });
});
