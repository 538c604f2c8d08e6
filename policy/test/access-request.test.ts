// AgentAccessRequest manifests, active grants, operations and their names
// (DESIGN.md "Approvals and break-glass", point 11).
import fc from 'fast-check';
import {
  activeGrants, approvalRequestName, canonicalJson, checkAccessRequest, GrantLedger, isAccessRequestManifest, parseAccessRequest, PolicyError, redactedJson,
  type OperationSpec,
} from '../src/index.js';
import { accessRequest, iso, MINUTE, NOW } from './grant-helpers.js';
import { NAMESPACE, POD, yaml } from './helpers.js';

const SEED = 20261205;

const APPROVAL_SPEC = `
  pod: support-agent-0
  serviceAccount: support-agent
  operation: {method: POST, host: mcp.support.internal, port: 443, path: /mcp, mcp: {tool: issue_refund, arguments: {amount: 120}}}
  duration: 15m
  uses: 1
  origin: {policy: support-agent, rule: refunds, decisionId: d-1}
`;

/** The first problem line of parsing `spec` (and `status`) as request "r". */
function problem(spec: string, status?: Record<string, unknown>): string {
  try {
    parseAccessRequest({ apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name: 'r', namespace: NAMESPACE }, spec: yaml(spec), ...(status === undefined ? {} : { status }) }, 'r.yaml');
  } catch (e: unknown) {
    if (e instanceof PolicyError) return e.message;
    throw e;
  }
  throw new Error('parsed without a problem');
}

describe('parseAccessRequest', () => {
  it('reads an approved approval request with its operation, uses, origin and expiry', () => {
    const r = accessRequest('r', APPROVAL_SPEC);
    expect(r).toMatchObject({
      name: 'r', namespace: NAMESPACE, uid: 'uid-r', source: 'r.yaml', pod: 'support-agent-0', serviceAccount: 'support-agent',
      kind: 'approval', rules: [], duration: '15m', durationMs: 15 * MINUTE, uses: 1, state: 'Approved', approvedBy: 'alice',
      expiresAtMs: NOW + 15 * MINUTE, origin: { policy: 'support-agent', rule: 'refunds', decisionId: 'd-1' },
      operation: { method: 'POST', host: 'mcp.support.internal', port: 443, path: '/mcp', query: '', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 120 } } },
    });
    expect(isAccessRequestManifest({ kind: 'AgentAccessRequest' })).toBe(true);
    expect(isAccessRequestManifest({ kind: 'AgentPolicy' })).toBe(false);
  });

  it('reads a break-glass request on a workload; status.duration (approve --for) overrides spec.duration; no status is Pending', () => {
    const spec = `
      podSelector: {matchLabels: {app: support-agent}}
      serviceAccount: support-agent
      rules: [{name: admin, to: {hosts: [api.zendesk.com]}}]
      duration: 1h
      justification: INC-42
    `;
    expect(accessRequest('bg', spec, { state: 'Approved', duration: '10m', expiresAt: iso(NOW) })).toMatchObject({ kind: 'break-glass', duration: '10m', durationMs: 10 * MINUTE, podSelector: { matchLabels: { app: 'support-agent' } } });
    expect(accessRequest('bg', spec, {})).toMatchObject({ state: 'Pending', expiresAtMs: 0, uid: 'uid-bg' });
  });

  it.each([
    ['spec.serviceAccount: required', 'pod: p\noperation: {method: GET, host: a.example, port: 443, path: /}\nduration: 1m'],
    ['spec.pod: set exactly one of spec.pod and spec.podSelector', 'pod: p\npodSelector: {}\nserviceAccount: sa\noperation: {method: GET, host: a.example, port: 443, path: /}\nduration: 1m'],
    ['spec.pod: set exactly one of spec.pod and spec.podSelector', 'serviceAccount: sa\noperation: {method: GET, host: a.example, port: 443, path: /}\nduration: 1m'],
    ['spec.operation: required unless spec.rules asks for break-glass rules', 'pod: p\nserviceAccount: sa\nduration: 1m'],
    ['spec.duration: "0s" is not a positive duration', 'pod: p\nserviceAccount: sa\noperation: {method: GET, host: a.example, port: 443, path: /}\nduration: 0s'],
    ['spec.duration: required', 'pod: p\nserviceAccount: sa\noperation: {method: GET, host: a.example, port: 443, path: /}'],
    ['spec.operation.method: must be one of', 'pod: p\nserviceAccount: sa\noperation: {method: get, host: a.example, port: 443, path: /}\nduration: 1m'],
    ['spec.operation.host: "A.example:443" is not a lower-case host name without port', 'pod: p\nserviceAccount: sa\noperation: {method: GET, host: "A.example:443", port: 443, path: /}\nduration: 1m'],
    ['spec.operation.path: "/a?b" is not a path starting with "/", without query', 'pod: p\nserviceAccount: sa\noperation: {method: GET, host: a.example, port: 443, path: "/a?b"}\nduration: 1m'],
    ['spec.justification: required for break-glass', 'pod: p\nserviceAccount: sa\nrules: [{name: a, to: {hosts: [a.example]}}]\nduration: 1m'],
    ['spec.rules[0].action: must be one of Allow, got "Deny"', 'pod: p\nserviceAccount: sa\nrules: [{name: a, action: Deny, to: {hosts: [a.example]}}]\nduration: 1m\njustification: j'],
    ['spec.uses: applies to approval requests only', 'pod: p\nserviceAccount: sa\nrules: [{name: a, to: {hosts: [a.example]}}]\nduration: 1m\njustification: j\nuses: 1'],
    ['spec.operation: set either spec.operation (approval) or spec.rules (break-glass), not both', 'pod: p\nserviceAccount: sa\nrules: [{name: a, to: {hosts: [a.example]}}]\noperation: {method: GET, host: a.example, port: 443, path: /}\nduration: 1m\njustification: j'],
    ['spec.grant: unknown field', 'pod: p\nserviceAccount: sa\noperation: {method: GET, host: a.example, port: 443, path: /}\nduration: 1m\ngrant: true'],
  ])('refuses, naming the source, object and field: %s', (says, spec) => {
    expect(problem(spec)).toContain(`r.yaml: AgentAccessRequest support/r: ${says}`);
  });

  it.each([
    ['status.expiresAt: required when status.state is Approved', { state: 'Approved' }],
    ['status.expiresAt: "tomorrow" is not an RFC 3339 time', { state: 'Approved', expiresAt: 'tomorrow' }],
    ['status.state: must be one of Pending, Approved, Denied, Expired, ReviewRequired, Reviewed, got "approved"', { state: 'approved' }],
  ])('refuses a status: %s', (says, status) => {
    expect(problem(APPROVAL_SPEC, status)).toContain(`r.yaml: AgentAccessRequest support/r: ${says}`);
  });

  it('refuses a request without a namespace: a grant never lands in another namespace', () => {
    expect(() => parseAccessRequest({ apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name: 'r' }, spec: yaml(APPROVAL_SPEC) }, 'r.yaml'))
      .toThrow('r.yaml: AgentAccessRequest r: metadata.namespace: required');
  });
});

describe('checkAccessRequest', () => {
  it('refuses break-glass rules that do not compile, naming the source, object, field and rule', () => {
    const r = accessRequest('bg', `
      pod: p
      serviceAccount: sa
      rules: [{name: typo, to: {hosts: [a.example]}, when: "reqest.method == 'GET'"}]
      duration: 1h
      justification: j
    `);
    expect(() => checkAccessRequest(r)).toThrow(/^bg\.yaml: AgentAccessRequest support\/bg: spec\.rules\[0\]\.when: rule "typo": .*reqest/);
    expect(() => checkAccessRequest(accessRequest('ok', APPROVAL_SPEC))).not.toThrow();
  });
});

describe('activeGrants', () => {
  const approved = accessRequest('a', APPROVAL_SPEC);
  it('keeps approved, unexpired requests for the pod (by name or selector), its namespace and ServiceAccount', () => {
    const selector = accessRequest('s', APPROVAL_SPEC.replace('pod: support-agent-0', 'podSelector: {matchLabels: {team: care}}'));
    expect(activeGrants([approved, selector], POD, NOW).map((r) => r.name)).toEqual(['a', 's']);
  });

  it('drops requests that are pending, expired at now, for another pod, ServiceAccount or namespace', () => {
    expect(activeGrants([accessRequest('p', APPROVAL_SPEC, {})], POD, NOW)).toEqual([]);
    expect(activeGrants([approved], POD, NOW + 15 * MINUTE)).toEqual([]);
    expect(activeGrants([approved], { ...POD, name: 'support-agent-1' }, NOW)).toEqual([]);
    expect(activeGrants([approved], { ...POD, serviceAccount: 'default' }, NOW)).toEqual([]);
    expect(activeGrants([approved], { ...POD, namespace: 'billing' }, NOW)).toEqual([]);
    expect(activeGrants([accessRequest('x', APPROVAL_SPEC.replace('pod: support-agent-0', 'podSelector: {matchLabels: {team: billing}}'))], POD, NOW)).toEqual([]);
  });
});

const OP: OperationSpec = { method: 'POST', host: 'mcp.support.internal', port: 443, path: '/mcp', query: '', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { order: 'A-1', amount: 120 } } };
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('approvalRequestName', () => {
  it('is the pod name and 12 hex digits, the same for the same pod, rule and operation whatever the argument order', () => {
    const name = approvalRequestName('support-agent-0', 'support-agent', 'refunds', OP);
    expect(name).toMatch(/^support-agent-0-[0-9a-f]{12}$/);
    expect(approvalRequestName('support-agent-0', 'support-agent', 'refunds', { ...OP, mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 120, order: 'A-1' } } })).toBe(name);
  });

  it('differs for another rule, policy, argument value, query or port', () => {
    const name = approvalRequestName('p', 'support-agent', 'refunds', OP);
    const others = [
      approvalRequestName('p', 'support-agent', 'other', OP),
      approvalRequestName('p', 'other', 'refunds', OP),
      approvalRequestName('p', 'support-agent', 'refunds', { ...OP, mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { order: 'A-1', amount: 121 } } }),
      approvalRequestName('p', 'support-agent', 'refunds', { ...OP, query: 'a=1' }),
      approvalRequestName('p', 'support-agent', 'refunds', { ...OP, port: 8443 }),
    ];
    expect(new Set([name, ...others]).size).toBe(6);
  });

  it('cuts the pod name to 40 characters without a trailing "-" or ".", and is always a DNS subdomain name under 64 characters', () => {
    expect(approvalRequestName(`${'a'.repeat(39)}-xyz`, 'p', 'r', OP)).toMatch(new RegExp(`^${'a'.repeat(39)}-[0-9a-f]{12}$`));
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/), { minLength: 1, maxLength: 5 }).map((labels) => labels.join('.')), fc.string(), fc.string(), (pod, p, r) => {
      const name = approvalRequestName(pod, p, r, OP);
      return DNS_SUBDOMAIN.test(name) && name.length <= 53;
    }), { seed: SEED, numRuns: 300 });
  });
});

describe('canonicalJson and redactedJson', () => {
  it('sorts keys at every depth, keeps list order, and writes no spaces', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x y' } })).toBe('{"a":{"c":"x y","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('is the same text for any key order and reads back as the same value', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const text = canonicalJson(value);
      const reversed = JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v))) as unknown;
      return canonicalJson(reversed) === text && canonicalJson(JSON.parse(text)) === text;
    }), { seed: SEED, numRuns: 300 });
  });

  it('keeps a "__proto__" key as a key', () => {
    expect(canonicalJson(JSON.parse('{"__proto__": {"x": 1}, "a": 2}'))).toBe('{"__proto__":{"x":1},"a":2}');
  });

  it('redacts the values of secret-looking keys at any depth', () => {
    expect(redactedJson({ Password: 'p', apiKey: 'k', cookies: ['c'], nested: [{ authorization: 'Bearer x', amount: 5 }], note: 'token in value stays' }))
      .toBe('{"Password":"[redacted]","apiKey":"[redacted]","cookies":"[redacted]","nested":[{"amount":5,"authorization":"[redacted]"}],"note":"token in value stays"}');
  });
});

describe('GrantLedger', () => {
  const grant = { name: 'g', uid: 'u', expiresAtMs: NOW + 60 * MINUTE, durationMs: 15 * MINUTE, uses: 2 };
  it('honours a grant until expiresAt or first sight + duration, whichever is first, and while uses are left', () => {
    const ledger = new GrantLedger();
    ledger.observe([grant], NOW);
    expect(ledger.honours(grant, NOW + 15 * MINUTE - 1)).toBe(true);
    expect(ledger.honours(grant, NOW + 15 * MINUTE)).toBe(false);
    const fresh = new GrantLedger();
    fresh.use(grant, NOW);
    fresh.use(grant, NOW);
    expect(fresh.honours(grant, NOW)).toBe(false);
    expect(fresh.drainUsed()).toEqual([{ name: 'g', uid: 'u', used: 2 }]);
  });

  it('keeps a grant that left the snapshot until it has ended, so that coming back restarts neither its duration nor its uses', () => {
    const ledger = new GrantLedger();
    ledger.use(grant, NOW);
    ledger.retain(new Set(), NOW + MINUTE);
    expect(ledger.size).toBe(1);
    ledger.use(grant, NOW + MINUTE);
    expect(ledger.honours(grant, NOW + 2 * MINUTE)).toBe(false);
    ledger.retain(new Set(), NOW + 15 * MINUTE);
    expect(ledger.size).toBe(0);
  });
});
