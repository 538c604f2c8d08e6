// DESIGN.md decision semantics, point 10 and "Platform guardrails": a
// ClusterAgentPolicy's Deny rules apply before any namespaced rule; with
// ceiling: true its Allow rules bound what namespaced policies can allow.
import {
  governingPolicies, parseClusterAgentPolicy, PolicyError, RULE_CLUSTER_CEILING,
  type AgentPolicy, type PodIdentity,
} from '../src/index.js';
import { agent, NAMESPACE, POD, policy, yaml } from './helpers.js';

/** A ClusterAgentPolicy named `name` with `spec` written as YAML. */
function clusterPolicy(name: string, spec: string): AgentPolicy {
  return parseClusterAgentPolicy({ apiVersion: 'agentwarden.io/v1alpha1', kind: 'ClusterAgentPolicy', metadata: { name }, spec: yaml(spec) }, `${name}.yaml`);
}

const ENABLED: PodIdentity = { ...POD, namespaceLabels: { 'agentwarden.io/inject': 'enabled' } };

function platform(opts: { readonly ceiling: boolean; readonly mode?: 'Enforce' | 'Audit' }): AgentPolicy {
  return clusterPolicy('platform-egress', `
    namespaceSelector: {matchLabels: {agentwarden.io/inject: enabled}}
    podSelector: {}
    ceiling: ${String(opts.ceiling)}
    mode: ${opts.mode ?? 'Enforce'}
    rules:
      - {name: no-paste-sites, action: Deny, to: {hosts: ["pastebin.com", "*.paste.ee"]}}
      - {name: corp-apis, to: {hosts: ["*.internal", "api.zendesk.com"]}}
  `);
}

/** The tenant's policy that allows everything. */
const allowAll = policy('anything-goes', `
  podSelector: {}
  rules:
    - {name: everything, to: {hosts: ["*"]}}
`);

describe('a ceiling ClusterAgentPolicy', () => {
  it('denies an exfiltration host that a tenant policy allowing * would let through, with rule cluster-ceiling', () => {
    const d = agent([platform({ ceiling: true }), allowAll], ENABLED).check({ url: 'https://exfil.example.net/upload', method: 'POST' });
    expect(d).toMatchObject({ allowed: false, mode: 'Enforce', policy: 'platform-egress', rule: RULE_CLUSTER_CEILING });
    expect(d.reason).toBe('rule "everything" of policy "anything-goes" would allow POST exfil.example.net/upload, but no Allow rule of ClusterAgentPolicy "platform-egress" (ceiling) does');
  });

  it('lets through what is inside the ceiling, the first matching Allow rule deciding', () => {
    const d = agent([platform({ ceiling: true }), allowAll], ENABLED).check({ url: 'https://billing.internal/invoices' });
    expect(d).toMatchObject({ allowed: true, policy: 'platform-egress', rule: 'corp-apis' });
  });

  it('bounds a narrower tenant allow from outside: an Allow rule inside the ceiling allows, one outside does not', () => {
    const ceiling = clusterPolicy('get-only', `
      ceiling: true
      rules: [{name: reads, to: {hosts: ["*"]}, http: {methods: [GET]}}]
    `);
    const tenant = policy('tenant', `
      podSelector: {}
      rules: [{name: tickets, to: {hosts: [api.zendesk.com]}, http: {methods: [GET, POST]}}]
    `);
    const a = agent([ceiling, tenant], ENABLED);
    expect(a.check({ url: 'https://api.zendesk.com/api/v2/tickets', method: 'POST' })).toMatchObject({ allowed: false, rule: RULE_CLUSTER_CEILING });
    expect(a.check({ url: 'https://api.zendesk.com/api/v2/tickets' })).toMatchObject({ allowed: true });
  });

  it('does not bound anything without ceiling: true', () => {
    const d = agent([platform({ ceiling: false }), allowAll], ENABLED).check({ url: 'https://exfil.example.net/upload' });
    expect(d).toMatchObject({ allowed: true, rule: 'everything' });
  });

  it('does not count a request against a rate limit when the ceiling refuses it', () => {
    const limited = policy('limited', `
      podSelector: {}
      rules:
        - {name: once, to: {hosts: ["*"]}, rateLimit: {requests: 1, per: 1m}}
    `);
    const a = agent([platform({ ceiling: true }), limited], ENABLED);
    expect(a.check({ url: 'https://exfil.example.net/' }).rule).toBe(RULE_CLUSTER_CEILING);
    expect(a.limiter.admit('limited/once', 1, 60_000, Date.now(), false)).toBe(true);
  });

  it('records the would-be cluster-ceiling deny in Audit mode and changes nothing', () => {
    const d = agent([platform({ ceiling: true, mode: 'Audit' }), allowAll], ENABLED).check({ url: 'https://exfil.example.net/upload' });
    expect(d).toMatchObject({ allowed: true, mode: 'Enforce', policy: 'anything-goes', rule: 'everything' });
    expect(d.auditDecision).toMatchObject({ allowed: false, policy: 'platform-egress', rule: RULE_CLUSTER_CEILING });
  });
});

describe('ClusterAgentPolicy Deny rules', () => {
  const paste = policy('paste', `
    podSelector: {}
    rules:
      - {name: pastebin, to: {hosts: [pastebin.com]}}
  `);

  it('deny before a namespaced Allow rule that names the host', () => {
    const d = agent([platform({ ceiling: false }), paste], ENABLED).check({ url: 'https://pastebin.com/raw/x' });
    expect(d).toMatchObject({ allowed: false, policy: 'platform-egress', rule: 'no-paste-sites', reason: 'denied by rule "no-paste-sites" of ClusterAgentPolicy "platform-egress"' });
  });

  it('are named before a namespaced Deny rule that matches too', () => {
    const tenantDeny = policy('aaa-tenant', `
      podSelector: {}
      rules:
        - {name: no-pastebin, action: Deny, to: {hosts: [pastebin.com]}}
    `);
    const d = agent([tenantDeny, platform({ ceiling: false })], ENABLED).check({ url: 'https://pastebin.com/' });
    expect(d).toMatchObject({ allowed: false, policy: 'platform-egress', rule: 'no-paste-sites' });
  });

  it('in Audit mode record the would-be deny, the namespaced allow deciding', () => {
    const d = agent([platform({ ceiling: false, mode: 'Audit' }), paste], ENABLED).check({ url: 'https://pastebin.com/' });
    expect(d).toMatchObject({ allowed: true, rule: 'pastebin' });
    expect(d.auditDecision).toMatchObject({ allowed: false, policy: 'platform-egress', rule: 'no-paste-sites' });
  });
});

describe('which pods a ClusterAgentPolicy governs', () => {
  const policies = [platform({ ceiling: true }), allowAll];

  it('governs pods in namespaces its namespaceSelector matches, listed before the namespaced policies', () => {
    expect(governingPolicies(policies, ENABLED).map((p) => p.name)).toEqual(['platform-egress', 'anything-goes']);
  });

  it('does not govern pods of a namespace without the selected labels', () => {
    expect(governingPolicies(policies, POD).map((p) => p.name)).toEqual(['anything-goes']);
    expect(agent(policies, POD).check({ url: 'https://exfil.example.net/' }).allowed).toBe(true);
  });

  it('matches the namespace name through kubernetes.io/metadata.name', () => {
    const byName = clusterPolicy('by-name', `
      namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [${NAMESPACE}]}]}
      rules: [{name: no-paste, action: Deny, to: {hosts: [pastebin.com]}}]
    `);
    expect(governingPolicies([byName], POD).map((p) => p.name)).toEqual(['by-name']);
    expect(governingPolicies([byName], { ...POD, namespace: 'other' })).toEqual([]);
  });

  it('applies its podSelector to the pod labels', () => {
    const onlyBatch = clusterPolicy('batch-only', `
      podSelector: {matchLabels: {tier: batch}}
      rules: [{name: no-paste, action: Deny, to: {hosts: [pastebin.com]}}]
    `);
    expect(governingPolicies([onlyBatch], POD)).toEqual([]);
    expect(governingPolicies([onlyBatch], { ...POD, labels: { tier: 'batch' } }).map((p) => p.name)).toEqual(['batch-only']);
  });
});

describe('reading a ClusterAgentPolicy', () => {
  function problems(manifest: unknown): string[] {
    try {
      parseClusterAgentPolicy(manifest, 'cap.yaml');
    } catch (e: unknown) {
      if (e instanceof PolicyError) return e.problems.map((p) => `${p.field}: ${p.message}`);
      throw e;
    }
    return [];
  }

  it('refuses a namespace, credentials and a non-boolean ceiling, naming each field', () => {
    expect(problems({
      apiVersion: 'agentwarden.io/v1alpha1', kind: 'ClusterAgentPolicy', metadata: { name: 'p', namespace: 'support' },
      spec: { ceiling: 'yes', credentials: [], rules: [{ name: 'r', to: { hosts: ['a.com'] } }] },
    })).toEqual([
      'metadata.namespace: must be absent: ClusterAgentPolicy is cluster-scoped',
      'spec.credentials: unknown field',
      'spec.ceiling: must be true or false, got string "yes"',
    ]);
  });

  it('refuses a ceiling policy without an Allow rule, as the CRD does', () => {
    expect(problems({
      apiVersion: 'agentwarden.io/v1alpha1', kind: 'ClusterAgentPolicy', metadata: { name: 'p' },
      spec: { ceiling: true, rules: [{ name: 'r', action: 'Deny', to: { hosts: ['a.com'] } }] },
    })).toEqual(['spec.rules: a ceiling policy needs at least one Allow rule (with none, it would deny everything namespaced policies allow)']);
  });

  it('defaults both selectors to everything and ceiling to false', () => {
    const p = parseClusterAgentPolicy({ apiVersion: 'agentwarden.io/v1alpha1', kind: 'ClusterAgentPolicy', metadata: { name: 'p' }, spec: { rules: [{ name: 'r', to: { hosts: ['a.com'] } }] } }, 'cap.yaml');
    expect(p).toMatchObject({ namespace: '', cluster: { ceiling: false, namespaceSelector: { matchLabels: {}, matchExpressions: [] } }, podSelector: { matchLabels: {} } });
  });
});
