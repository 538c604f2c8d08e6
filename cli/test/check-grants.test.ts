// `agentwarden check --grant` and grants in policy test suites (issue 15, DESIGN.md
// "More commands"), on the committed examples/approvals and on temporary files.
import { join } from 'node:path';
import { ROOT, run, useTempFiles, type Run } from './cli-helpers.js';

const EXAMPLE = join(ROOT, 'examples', 'approvals');
const GRANTS = join(EXAMPLE, 'grants');
const DELETE_C17 = join(EXAMPLE, 'requests', 'delete-customer.json');

const check = (...extra: string[]): Run =>
  run('check', '--policy', join(EXAMPLE, 'policies'), '--pod', join(EXAMPLE, 'pod.yaml'), '--request', DELETE_C17, ...extra);

const temp = useTempFiles('agentwarden-grant-test-');

describe('agentwarden check --grant', () => {
  it('adds grant and overriddenRule to the JSON of a decision a break-glass grant made', () => {
    const r = check('--grant', GRANTS, '--now', '2026-03-03T09:30:00Z');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      allowed: true, mode: 'Enforce', policy: 'break-glass-gdpr', rule: 'gdpr-erasure', auditDecision: null,
      reason: 'allowed by rule "gdpr-erasure" of break-glass grant "break-glass-gdpr" (approved by bob), overriding rule support-mcp/no-customer-deletes',
      grant: 'break-glass-gdpr', overriddenRule: 'support-mcp/no-customer-deletes',
    });
  });

  it('ends the grant at expiresAt by --now, whatever time the request carries', () => {
    const r = check('--grant', join(GRANTS, 'break-glass-gdpr.yaml'), '--now', '2026-03-03T10:00:00Z');
    expect(JSON.parse(r.out)).toMatchObject({ allowed: false, rule: 'no-customer-deletes' });
    expect(JSON.parse(r.out)).not.toHaveProperty('grant');
  });

  it('without --grant prints the deny of the policy and no grant fields', () => {
    const out = JSON.parse(check('--now', '2026-03-03T09:30:00Z').out) as Record<string, unknown>;
    expect(out).toMatchObject({ allowed: false, rule: 'no-customer-deletes' });
    expect(Object.keys(out)).toEqual(['allowed', 'mode', 'policy', 'rule', 'reason', 'auditDecision']);
  });

  it('exits 2 naming the file, object and field of a grant file that is not an Approved request', () => {
    const pending = temp.file('pending.yaml', [
      'apiVersion: agentwarden.io/v1alpha1',
      'kind: AgentAccessRequest',
      'metadata: {name: wants-more, namespace: support}',
      'spec: {pod: support-agent-7d9f8, serviceAccount: support-agent, duration: 1h, justification: j, rules: [{name: all, to: {hosts: ["*"]}}]}',
    ].join('\n'));
    const r = check('--grant', pending);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${pending}: AgentAccessRequest support/wants-more: status.state: is Pending: only an Approved request (with status.expiresAt) is a grant`);
  });

  it('is documented by --help', () => {
    const r = run('check', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('--grant <file|dir>');
    expect(r.out).toContain('overriddenRule');
  });
});

describe('agentwarden test with grants', () => {
  it('runs the approvals example: a RequireApproval deny, a grant used once, break-glass until it expires', () => {
    const r = run('test', join(EXAMPLE, 'approvals.test.yaml'));
    expect(r.err).toBe('');
    expect(r.out.split('\n').at(-1)).toBe('7 passed, 0 failed');
    expect(r.code).toBe(0);
  });

  it('accepts inline grants and reports a grant expectation that fails', () => {
    const suite = temp.file('inline.test.yaml', [
      'policies: [' + join(EXAMPLE, 'policies') + ']',
      'pod: {metadata: {name: support-agent-7d9f8, namespace: support, labels: {app: support-agent}}, spec: {serviceAccountName: support-agent}}',
      'now: "2026-03-03T09:00:00Z"',
      'grants:',
      '  - apiVersion: agentwarden.io/v1alpha1',
      '    kind: AgentAccessRequest',
      '    metadata: {name: lookups, namespace: support}',
      '    spec: {podSelector: {}, serviceAccount: support-agent, duration: 1h, justification: j, rules: [{name: lookups, to: {hosts: [mcp.support.internal]}, mcp: {tools: [delete_customer]}}]}',
      '    status: {state: Approved, approvedBy: carol, expiresAt: "2026-03-03T09:30:00Z"}',
      'cases:',
      '  - name: deletes under the inline grant',
      '    request: {url: "https://mcp.support.internal/mcp", mcp: {tool: delete_customer, arguments: {customer: C-9}}}',
      '    expect: {decision: allow, grant: lookups, overriddenRule: support-mcp/no-customer-deletes}',
      '  - name: expects the wrong grant',
      '    request: {url: "https://mcp.support.internal/mcp", mcp: {tool: delete_customer, arguments: {customer: C-9}}}',
      '    expect: {decision: allow, grant: other}',
    ].join('\n'));
    const r = run('test', suite);
    expect(r.out).toContain('grant: expected "other", got "lookups"');
    expect(r.out.split('\n').at(-1)).toBe('1 passed, 1 failed');
    expect(r.code).toBe(1);
  });
});
