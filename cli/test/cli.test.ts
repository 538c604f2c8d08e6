// The agentwarden CLI, run in-process through main() with captured output, on
// the committed example and on temporary files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { suiteFiles } from '../src/test-suite.js';
import { readYamlDocuments } from '../../policy/io/manifests.js';
import { ROOT, run, useTempFiles } from './cli-helpers.js';

const EXAMPLE = join(ROOT, 'examples', 'support-agent');

const temp = useTempFiles('agentwarden-cli-test-');
/** Writes `text` to a file under the test's temporary folder and returns its path. */
const file = temp.file;

/** Conditions that name declared fields but can never evaluate as written, with the checker's error (issue 13). */
const ILL_TYPED: [string, string][] = [
  ["request.port.startsWith('a')", "found no matching overload for 'startsWith' applied to 'int.(string)'"],
  ['request.method + 1 == 2', "found no matching overload for '_+_' applied to '(string, int)'"],
  ['request.body.items.all(x, request.body.items.all(y, x != y))', 'estimated cost is unbounded'],
];

function illTypedPolicy(when: string): string {
  return [
    'apiVersion: agentwarden.io/v1alpha1',
    'kind: AgentPolicy',
    'metadata: {name: typed, namespace: support}',
    'spec:',
    '  podSelector: {}',
    '  rules:',
    '    - name: conditional',
    '      to: {hosts: [api.zendesk.com]}',
    `      when: ${JSON.stringify(when)}`,
  ].join('\n');
}

const EXAMPLE_ARGS = ['--policy', join(EXAMPLE, 'policies'), '--pod', join(EXAMPLE, 'pod.yaml')];

describe('agentwarden check', () => {
  it('prints the decision as JSON and exits 0 for an allowed request', () => {
    const r = run('check', ...EXAMPLE_ARGS, '--request', join(EXAMPLE, 'requests', 'read-ticket.json'));
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(r.out)).toEqual({
      allowed: true, mode: 'Enforce', policy: 'support-agent', rule: 'read-tickets',
      reason: 'allowed by rule "read-tickets" of policy "support-agent"',
      auditDecision: { allowed: true, policy: 'support-agent', rule: 'read-tickets', reason: 'allowed by rule "read-tickets" of policy "support-agent"' },
      session: { id: 'support-agent-7d9f8', taints: [], added: ['pii'] },
    });
  });

  it('decides several --request in order against one state, one compact JSON line each', () => {
    const req = (name: string): string[] => ['--request', join(EXAMPLE, 'requests', `${name}.json`)];
    const r = run('check', ...EXAMPLE_ARGS, ...req('post-to-slack'), ...req('read-customer'), ...req('web-fetch'), ...req('post-to-slack'));
    expect(r).toMatchObject({ code: 0, err: '' });
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    const decisions = lines.map((l) => JSON.parse(l) as { allowed: boolean; rule: string; session: unknown });
    expect(decisions.map((d) => [d.allowed, d.rule, d.session])).toEqual([
      [true, 'post-to-slack', { id: 'support-agent-7d9f8', taints: [], added: [] }],
      [true, 'crm-business-hours', { id: 'support-agent-7d9f8', taints: [], added: ['pii'] }],
      [true, 'mcp-web-fetch', { id: 'support-agent-7d9f8', taints: ['pii'], added: ['untrusted'] }],
      [false, 'no-exfil-after-pii-and-untrusted', { id: 'support-agent-7d9f8', taints: ['pii', 'untrusted'], added: [] }],
    ]);
  });

  it('prints a denial and still exits 0, naming the AgentAccessRequest a RequireApproval rule asks for', () => {
    const r = run('check', ...EXAMPLE_ARGS, '--request', join(EXAMPLE, 'requests', 'refund-too-large.json'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ allowed: false, mode: 'Enforce', policy: 'support-agent', rule: 'mcp-large-refunds', approvalRequest: 'support-agent-7d9f8-d14309aab8bc' });
  });

  it('never prints credential values', () => {
    const r = run('check', ...EXAMPLE_ARGS, '--request', join(EXAMPLE, 'requests', 'read-ticket.json'));
    expect(r.out).not.toContain('<secret');
    expect(r.out).not.toContain('Bearer');
  });

  it('decides at --now when the request carries no time', () => {
    const request = file('crm.json', JSON.stringify({
      attributes: { request: { http: { method: 'GET', scheme: 'https', host: 'eu.crm.internal', path: '/customers/C-17' } } },
    }));
    const day = run('check', ...EXAMPLE_ARGS, '--request', request, '--now', '2026-03-03T10:00:00+01:00');
    const night = run('check', ...EXAMPLE_ARGS, '--request', request, '--now', '2026-03-03T23:00:00+01:00');
    expect(JSON.parse(day.out)).toMatchObject({ allowed: true, rule: 'crm-business-hours' });
    expect(JSON.parse(night.out)).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('exits 2 naming the file, the field and the rule when a when has a typo', () => {
    const policy = file('typo.yaml', [
      'apiVersion: agentwarden.io/v1alpha1',
      'kind: AgentPolicy',
      'metadata: {name: typo, namespace: support}',
      'spec:',
      '  podSelector: {}',
      '  rules:',
      '    - name: read-tickets',
      '      to: {hosts: [api.zendesk.com]}',
      "      when: \"reqest.path == '/x'\"",
    ].join('\n'));
    const r = run('check', '--policy', policy, '--pod', join(EXAMPLE, 'pod.yaml'), '--request', join(EXAMPLE, 'requests', 'read-ticket.json'));
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err).toContain(`${policy}: AgentPolicy support/typo: spec.rules[0].when: rule "read-tickets"`);
    expect(r.err).toContain('reqest');
  });

  describe.each(ILL_TYPED)('with the ill-typed condition %s', (when, error) => {
    it('exits 2 naming the file, the rule and the type error', () => {
      const policy = file(`ill-typed-check-${ILL_TYPED.findIndex((c) => c[0] === when)}.yaml`, illTypedPolicy(when));
      const r = run('check', '--policy', policy, '--pod', join(EXAMPLE, 'pod.yaml'), '--request', join(EXAMPLE, 'requests', 'read-ticket.json'));
      expect(r).toMatchObject({ code: 2, out: '' });
      expect(r.err).toContain(`${policy}: AgentPolicy support/typed: spec.rules[0].when: rule "conditional": ${error}`);
    });
  });

  it('exits 2 naming the missing flags', () => {
    const r = run('check', '--policy', join(EXAMPLE, 'policies'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('missing --pod, --request');
  });

  // Run as a real process: in-process under jest's VM modules, node:util's
  // parseArgs throws a TypeError of another realm, which main()'s
  // `instanceof TypeError` does not recognise.
  it('exits 2 on an unknown flag, naming it', () => {
    const r = spawnSync(join(ROOT, 'bin', 'agentwarden'), ['check', ...EXAMPLE_ARGS, '--request', join(EXAMPLE, 'requests', 'read-ticket.json'), '--verbose'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Unknown option '--verbose'");
    expect(r.stdout).toBe('');
  });

  it('exits 2 naming a request file that is not JSON', () => {
    const request = file('broken.json', '{"attributes": ');
    const r = run('check', ...EXAMPLE_ARGS, '--request', request);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${request}: not a JSON CheckRequest`);
  });

  it('exits 2 naming a request file that is not a CheckRequest', () => {
    const request = file('wrong.json', JSON.stringify({ attributes: { request: { http: { methd: 'GET' } } } }));
    const r = run('check', ...EXAMPLE_ARGS, '--request', request);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${request}: invalid CheckRequest`);
  });

  it('exits 2 on a --now that is not RFC 3339', () => {
    const r = run('check', ...EXAMPLE_ARGS, '--request', join(EXAMPLE, 'requests', 'read-ticket.json'), '--now', 'tomorrow');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--now: "tomorrow" is not an RFC 3339 time');
  });

  it('exits 2 naming a pod file that does not exist', () => {
    const missing = temp.path('no-such-pod.yaml');
    const r = run('check', '--policy', join(EXAMPLE, 'policies'), '--pod', missing, '--request', join(EXAMPLE, 'requests', 'read-ticket.json'));
    expect(r.code).toBe(2);
    expect(r.err).toContain(missing);
  });
});

describe('agentwarden check with a ClusterAgentPolicy', () => {
  const CEILING = join(ROOT, 'examples', 'platform-ceiling');
  const ceilingArgs = (...policy: string[]): string[] => [
    ...policy.flatMap((p) => ['--policy', p]), '--pod', join(CEILING, 'pod.yaml'), '--request', join(CEILING, 'requests', 'exfiltrate.json'),
  ];

  it('denies a host that the tenant\'s * allows with rule cluster-ceiling, the Namespace manifest giving the labels', () => {
    const r = run('check', ...ceilingArgs(join(CEILING, 'policies')));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ allowed: false, mode: 'Enforce', policy: 'platform-egress', rule: 'cluster-ceiling' });
  });

  it('leaves a pod alone whose namespace the namespaceSelector does not match', () => {
    const policies = ['platform-egress.yaml', 'tenant-anything-goes.yaml'].map((f) => join(CEILING, 'policies', f));
    const r = run('check', ...ceilingArgs(...policies));
    expect(JSON.parse(r.out)).toMatchObject({ allowed: true, policy: 'anything-goes', rule: 'everything' });
  });

  it('exits 2 naming the file, the object and the field of an invalid ClusterAgentPolicy', () => {
    const bad = file('bad-cap.yaml', [
      'apiVersion: agentwarden.io/v1alpha1',
      'kind: ClusterAgentPolicy',
      'metadata: {name: platform, namespace: tenant-a}',
      'spec:',
      '  ceiling: "yes"',
      '  rules: [{name: r, to: {hosts: [a.internal]}}]',
    ].join('\n'));
    const r = run('check', ...ceilingArgs(bad));
    expect(r.code).toBe(2);
    expect(r.err).toContain(bad);
    expect(r.err).toContain('ClusterAgentPolicy tenant-a/platform');
    expect(r.err).toContain('metadata.namespace: must be absent');
    expect(r.err).toContain('spec.ceiling: must be true or false');
  });
});

describe('agentwarden test', () => {
  it('runs the example suites, printing "N passed, 0 failed" and exiting 0', () => {
    const cases = suiteFiles([join(ROOT, 'examples')])
      .map((f) => readYamlDocuments(f)[0] as { cases: unknown[] })
      .reduce((n, suite) => n + suite.cases.length, 0);
    expect(cases).toBeGreaterThanOrEqual(28);
    const r = run('test', join(ROOT, 'examples'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines.filter((l) => l.startsWith('PASS '))).toHaveLength(cases);
    expect(lines.at(-1)).toBe(`${cases} passed, 0 failed`);
  });

  it('prints the mismatch of a failing expectation and exits 1', () => {
    const suite = file('failing.test.yaml', [
      'name: failing suite',
      `policies: [${JSON.stringify(join(EXAMPLE, 'policies'))}]`,
      `pod: ${JSON.stringify(join(EXAMPLE, 'pod.yaml'))}`,
      'now: "2026-03-03T10:00:00+01:00"',
      'cases:',
      '  - name: reads a ticket',
      '    request: {url: "https://api.zendesk.com/api/v2/tickets/4711"}',
      '    expect: {decision: allow, rule: read-tickets}',
      '  - name: expects Stripe to be allowed',
      '    request: {url: "https://api.stripe.com/v1/charges"}',
      '    expect: {decision: allow, rule: stripe}',
    ].join('\n'));
    const r = run('test', suite);
    expect(r.code).toBe(1);
    expect(r.out).toContain('PASS failing suite › reads a ticket');
    expect(r.out).toContain('FAIL failing suite › expects Stripe to be allowed');
    expect(r.out).toContain('decision: expected allow, got deny');
    expect(r.out).toContain('rule: expected "stripe", got "block-billing"');
    expect(r.out.split('\n').at(-1)).toBe('1 passed, 1 failed');
  });

  it('accepts an inline pod and shares rate-limit state between cases, in order', () => {
    const suite = file('inline.test.yaml', [
      `policies: [${JSON.stringify(join(EXAMPLE, 'policies'))}]`,
      'pod: {metadata: {name: p, namespace: support, labels: {app: support-agent}}}',
      'now: "2026-03-03T10:00:00+01:00"',
      'cases:',
      '  - request: {url: "https://mcp.support.internal/mcp", mcp: {tool: issue_refund, arguments: {amount: 1, currency: EUR}}}',
      '    repeat: 3',
      '    expect: {decision: allow, rule: mcp-refunds}',
      '  - request: {url: "https://mcp.support.internal/mcp", mcp: {tool: issue_refund, arguments: {amount: 1, currency: EUR}}}',
      '    expect: {decision: deny, rule: mcp-refunds, reason: limit reached}',
    ].join('\n'));
    const r = run('test', suite);
    expect(r.out.split('\n').at(-1)).toBe('2 passed, 0 failed');
    expect(r.code).toBe(0);
  });

  it.each(ILL_TYPED)('exits 2 on a suite whose policy has the ill-typed condition %s, naming the rule and the type error', (when, error) => {
    const i = ILL_TYPED.findIndex((c) => c[0] === when);
    const policy = file(`ill-typed-suite-${i}.yaml`, illTypedPolicy(when));
    const suite = file(`ill-typed-${i}.test.yaml`, [
      `policies: [${JSON.stringify(policy)}]`,
      `pod: ${JSON.stringify(join(EXAMPLE, 'pod.yaml'))}`,
      'cases:',
      '  - request: {url: "https://api.zendesk.com/"}',
      '    expect: {decision: deny}',
    ].join('\n'));
    const r = run('test', suite);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`spec.rules[0].when: rule "conditional": ${error}`);
    expect(r.out.split('\n').at(-1)).toBe('0 passed, 1 failed');
  });

  it('exits 2 when a suite cannot run, naming the problem', () => {
    const suite = file('broken.test.yaml', `policies: []\npod: ${JSON.stringify(join(EXAMPLE, 'pod.yaml'))}\ncases: []\n`);
    const r = run('test', suite);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`ERROR ${suite}: policies: must be a non-empty list`);
  });

  it('exits 2 on an unknown expectation key', () => {
    const suite = file('unknown-key.test.yaml', [
      `policies: [${JSON.stringify(join(EXAMPLE, 'policies'))}]`,
      `pod: ${JSON.stringify(join(EXAMPLE, 'pod.yaml'))}`,
      'cases:',
      '  - request: {url: "https://api.zendesk.com/"}',
      '    expect: {decision: deny, rulle: default-deny}',
    ].join('\n'));
    const r = run('test', suite);
    expect(r.code).toBe(2);
    expect(r.err).toContain('cases[0].expect.rulle: unknown expectation');
  });

  it('exits 2 when given nothing to run', () => {
    expect(run('test').code).toBe(2);
    const empty = mkdtempSync(temp.path('empty-'));
    const r = run('test', empty);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no *.test.yaml');
  });
});

describe('agentwarden', () => {
  it('exits 2 with the usage when run without a command', () => {
    const r = run();
    expect(r.code).toBe(2);
    expect(r.out).toContain('usage:');
  });

  it('exits 2 on an unknown command', () => {
    const r = run('apply');
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown command "apply"');
  });

  it('prints the usage and exits 0 on --help', () => {
    expect(run('--help')).toMatchObject({ code: 0 });
  });
});
