// /validate-agentpolicies over HTTP: what the CRD schema cannot check (CEL,
// cross-field rules) is rejected with field paths and rule names; risky but
// valid policies are admitted with warnings.
import { parse } from 'yaml';
import { dedent } from '../../../policy/test/helpers.js';
import { review, startApp, type TestApp } from './helpers.js';

function policy(spec: string, name = 'support-agent'): unknown {
  return parse(`apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: ${name}, namespace: support, uid: 5b1c, generation: 2, creationTimestamp: "2026-03-03T09:00:00Z"}
spec:
${dedent(spec).split('\n').map((l) => `  ${l}`).join('\n')}`);
}

const policyReview = (object: unknown, operation: 'CREATE' | 'UPDATE' | 'DELETE' = 'CREATE'): ReturnType<typeof review> =>
  review({ kind: 'AgentPolicy', group: 'agentwarden.io', name: 'support-agent', operation, object });

describe('the /validate-agentpolicies webhook', () => {
  let app: TestApp;
  beforeAll(async () => { app = await startApp(); });
  afterAll(async () => { await app.close(); });

  it('admits a valid policy without warnings', async () => {
    const { response } = await app.post('/validate-agentpolicies', policyReview(policy(`
      podSelector: {matchLabels: {app: support-agent}}
      rules:
        - name: read-tickets
          to: {hosts: [api.zendesk.com]}
          http: {methods: [GET], paths: ["/api/v2/tickets/{id}"]}
          when: "request.params.id.startsWith('T-')"
    `)));
    expect(response).toEqual({ uid: expect.any(String) as string, allowed: true });
  });

  it('rejects a when condition with a typo, naming the field, the rule and the CEL error', async () => {
    const { response } = await app.post('/validate-agentpolicies', policyReview(policy(`
      podSelector: {}
      rules:
        - name: ok
          to: {hosts: [a.example.com]}
        - name: read-tickets
          to: {hosts: [api.zendesk.com]}
          when: "reqest.method == 'GET'"
    `)));
    expect(response?.allowed).toBe(false);
    expect(response?.status?.code).toBe(422);
    expect(response?.status?.message).toMatch(/^AgentPolicy support\/support-agent is invalid: spec\.rules\[1\]\.when: rule "read-tickets": .*reqest/);
  });

  it.each([
    ["request.port.startsWith('a')", "found no matching overload for 'startsWith' applied to 'int.(string)'"],
    ['request.method + 1 == 2', "found no matching overload for '_+_' applied to '(string, int)'"],
    ['request.body.items.all(x, request.body.items.all(y, x != y))', 'estimated cost is unbounded'],
  ])('rejects the ill-typed or unbounded condition %s, naming the rule and the error', async (when, error) => {
    const { response } = await app.post('/validate-agentpolicies', policyReview(policy(`
      podSelector: {}
      rules:
        - name: conditional
          to: {hosts: [api.zendesk.com]}
          when: ${JSON.stringify(when)}
    `)));
    expect(response?.allowed).toBe(false);
    expect(response?.status?.code).toBe(422);
    expect(response?.status?.message).toContain(`spec.rules[0].when: rule "conditional": ${error}`);
  });

  it('reports every problem at once, each with its path and rule', async () => {
    const { response } = await app.post('/validate-agentpolicies', policyReview(policy(`
      podSelector: {}
      rules:
        - name: a
          to: {hosts: [a.example.com]}
          credential: zendesk
        - name: b
          to: {hosts: [b.example.com]}
          when: "request.method =="
    `)));
    const message = response?.status?.message ?? '';
    expect(message).toContain('spec.rules[0].credential (rule "a"): names credential "zendesk", which spec.credentials does not declare');
    expect(message).toContain('; spec.rules[1].when: rule "b": ');
  });

  it('rejects what the CRD schema also rejects, in case the schema was not applied', async () => {
    const { response } = await app.post('/validate-agentpolicies', policyReview(policy(`
      podSelector: {}
      rules: [{name: r, to: {hosts: ["https://a.example.com"]}}]
    `)));
    expect(response?.status?.message).toContain('spec.rules[0].to.hosts[0] (rule "r"): "https://a.example.com" is not a lower-case host name');
  });

  it.each([
    ['an Allow rule to host "*"', 'rules: [{name: anywhere, to: {hosts: ["*"]}}]', 'spec.rules[0] (rule "anywhere"): allows host "*": the agent may reach any host with any request'],
    ['an mcp rule whose http.methods exclude POST', 'rules: [{name: tools, to: {hosts: [mcp.example.com]}, http: {methods: [GET]}, mcp: {tools: [search]}}]', 'spec.rules[0] (rule "tools"): can never match: MCP requests are sent with POST, and http.methods [GET] does not include POST'],
    ['mode Audit', 'mode: Audit\nrules: [{name: r, to: {hosts: [a.example.com]}}]', 'spec.mode: Audit: requests are decided and recorded but never denied; set mode Enforce to enforce this policy'],
    ['a Deny rule with a credential', 'rules: [{name: r, action: Deny, to: {hosts: [a.example.com]}, credential: c}]\ncredentials: [{name: c, secretRef: {name: s, key: k}}]', 'spec.rules[0] (rule "r"): credential "c" is never injected: credentials go with Allow rules only'],
  ])('admits %s with a warning', async (_what, spec, warning) => {
    const { response } = await app.post('/validate-agentpolicies', policyReview(policy(`podSelector: {}\n${spec}`)));
    expect(response?.allowed).toBe(true);
    expect(response?.warnings).toEqual([warning]);
  });

  it('checks updates as it checks creations', async () => {
    const { response } = await app.post('/validate-agentpolicies', policyReview(policy('podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}, when: "nope("}]'), 'UPDATE'));
    expect(response?.allowed).toBe(false);
  });

  it('lets deletions through', async () => {
    const { response } = await app.post('/validate-agentpolicies', policyReview(undefined, 'DELETE'));
    expect(response?.allowed).toBe(true);
  });
});

describe('the /validate-agentpolicies webhook on oauth2 credentials', () => {
  let app: TestApp;
  beforeAll(async () => { app = await startApp(); });
  afterAll(async () => { await app.close(); });

  const spec = (credential: string): string => `
      podSelector: {}
      rules:
        - name: read-customer
          to: {hosts: [crm.internal]}
          credential: ${credential}
      credentials:
        - name: crm
          oauth2: {tokenUrl: "https://auth.crm.internal/token", clientSecretRef: {name: crm-oauth}, scopes: [customers.read, customers.write]}
    `;

  it('rejects a rule scope the credential does not have, and a credential of neither form (what the CRD cannot see)', async () => {
    const scope = await app.post('/validate-agentpolicies', policyReview(policy(spec('{name: crm, scopes: [customers.delete]}'))));
    expect(scope.response?.allowed).toBe(false);
    expect(scope.response?.status?.message).toBe('AgentPolicy support/support-agent is invalid: spec.rules[0].credential.scopes (rule "read-customer"): asks for scope(s) "customers.delete", which credential "crm" does not have (its oauth2.scopes: customers.read customers.write)');
    const shape = await app.post('/validate-agentpolicies', policyReview(policy(spec('[crm]'))));
    expect(shape.response?.status?.message).toContain('spec.rules[0].credential (rule "read-customer"): must be a credential name or {name, scopes}, got a list');
    const undeclared = await app.post('/validate-agentpolicies', policyReview(policy(spec('{name: zendesk}'))));
    expect(undeclared.response?.status?.message).toContain('names credential "zendesk", which spec.credentials does not declare');
  });

  it('admits a rule naming its scopes, and warns of one that takes every scope', async () => {
    const narrow = await app.post('/validate-agentpolicies', policyReview(policy(spec('{name: crm, scopes: [customers.read]}'))));
    expect(narrow.response).toEqual({ uid: expect.any(String) as string, allowed: true });
    const wide = await app.post('/validate-agentpolicies', policyReview(policy(spec('crm'))));
    expect(wide.response?.allowed).toBe(true);
    expect(wide.response?.warnings).toEqual(['spec.rules[0] (rule "read-customer"): gets a token with every scope of oauth2 credential "crm" (customers.read customers.write); name the ones it needs: credential: {name: crm, scopes: [...]}']);
  });
});
