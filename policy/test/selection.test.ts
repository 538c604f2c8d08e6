// DESIGN.md decision semantics, point 1: the policies that govern a pod are the
// AgentPolicy objects in its namespace whose podSelector matches its labels.
import { governingPolicies, parseAgentPolicy } from '../src/index.js';
import { agent, policy, POD, type Agent } from './helpers.js';
import type { AgentPolicy, PodIdentity } from '../src/index.js';

/** A policy allowing every request to api.example.com, with the given podSelector. */
function allowing(name: string, podSelector: string, namespace?: string): AgentPolicy {
  return policy(name, `
    podSelector: ${podSelector}
    rules:
      - name: allow-api
        to: {hosts: [api.example.com]}
  `, namespace === undefined ? {} : { namespace });
}

function podWith(labels: Record<string, string>, namespace = POD.namespace): PodIdentity {
  return { ...POD, namespace, labels };
}

function readsApi(a: Agent): boolean {
  return a.check({ url: 'https://api.example.com/v1/things' }).allowed;
}

describe('which policies govern a pod', () => {
  it('applies a policy whose matchLabels are all among the pod labels', () => {
    const p = allowing('by-app', '{matchLabels: {app: support-agent}}');
    expect(readsApi(agent([p], podWith({ app: 'support-agent', team: 'care' })))).toBe(true);
  });

  it('does not apply a policy when one matchLabels entry differs', () => {
    const p = allowing('by-app', '{matchLabels: {app: support-agent, team: billing}}');
    const d = agent([p], podWith({ app: 'support-agent', team: 'care' })).check({ url: 'https://api.example.com/' });
    expect(d).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(d.reason).toContain('no AgentPolicy governs pod support/support-agent-0');
  });

  it('applies an empty podSelector to every pod of the namespace', () => {
    const p = allowing('everyone', '{}');
    expect(readsApi(agent([p], podWith({})))).toBe(true);
    expect(readsApi(agent([p], podWith({ anything: 'else' })))).toBe(true);
  });

  it('does not apply a policy of another namespace, even with an empty podSelector', () => {
    const p = allowing('elsewhere', '{}', 'billing');
    const d = agent([p], podWith({ app: 'support-agent' })).check({ url: 'https://api.example.com/' });
    expect(d).toMatchObject({ allowed: false, rule: 'default-deny', policy: '' });
  });

  it('governs a pod of the other namespace with that same policy', () => {
    const p = allowing('elsewhere', '{}', 'billing');
    expect(readsApi(agent([p], podWith({}, 'billing')))).toBe(true);
  });

  it('matches expression In when the label has one of the values', () => {
    const p = allowing('tiers', '{matchExpressions: [{key: tier, operator: In, values: [gold, silver]}]}');
    expect(readsApi(agent([p], podWith({ tier: 'silver' })))).toBe(true);
    expect(readsApi(agent([p], podWith({ tier: 'bronze' })))).toBe(false);
    expect(readsApi(agent([p], podWith({})))).toBe(false);
  });

  it('matches expression NotIn when the label is absent or has another value', () => {
    const p = allowing('not-sandbox', '{matchExpressions: [{key: env, operator: NotIn, values: [sandbox]}]}');
    expect(readsApi(agent([p], podWith({ env: 'prod' })))).toBe(true);
    expect(readsApi(agent([p], podWith({})))).toBe(true);
    expect(readsApi(agent([p], podWith({ env: 'sandbox' })))).toBe(false);
  });

  it('matches expression Exists on the key alone, whatever its value', () => {
    const p = allowing('has-team', '{matchExpressions: [{key: team, operator: Exists}]}');
    expect(readsApi(agent([p], podWith({ team: '' })))).toBe(true);
    expect(readsApi(agent([p], podWith({ app: 'x' })))).toBe(false);
  });

  it('matches expression DoesNotExist only when the key is absent', () => {
    const p = allowing('no-legacy', '{matchExpressions: [{key: legacy, operator: DoesNotExist}]}');
    expect(readsApi(agent([p], podWith({ app: 'x' })))).toBe(true);
    expect(readsApi(agent([p], podWith({ legacy: 'true' })))).toBe(false);
  });

  it('requires matchLabels and every matchExpression to hold together', () => {
    const p = allowing('both', '{matchLabels: {app: a}, matchExpressions: [{key: env, operator: In, values: [prod]}, {key: debug, operator: DoesNotExist}]}');
    expect(readsApi(agent([p], podWith({ app: 'a', env: 'prod' })))).toBe(true);
    expect(readsApi(agent([p], podWith({ app: 'a', env: 'prod', debug: '1' })))).toBe(false);
    expect(readsApi(agent([p], podWith({ app: 'b', env: 'prod' })))).toBe(false);
  });

  it('does not mistake object prototype names for labels', () => {
    const p = allowing('proto', '{matchExpressions: [{key: constructor, operator: Exists}]}');
    expect(readsApi(agent([p], podWith({ app: 'a' })))).toBe(false);
  });

  it('lists the governing policies sorted by name, leaving out the others', () => {
    const policies = [
      allowing('zeta', '{}'),
      allowing('alpha', '{matchLabels: {app: support-agent}}'),
      allowing('other-app', '{matchLabels: {app: crawler}}'),
      allowing('other-namespace', '{}', 'billing'),
    ];
    expect(governingPolicies(policies, POD).map((p) => p.name)).toEqual(['alpha', 'zeta']);
  });

  it('gives a manifest without metadata.namespace the default namespace', () => {
    const p = parseAgentPolicy({
      apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'no-namespace' },
      spec: { podSelector: {}, rules: [{ name: 'r', to: { hosts: ['api.example.com'] } }] },
    }, 'inline.yaml', 'support');
    expect(p.namespace).toBe('support');
    expect(readsApi(agent([p], podWith({})))).toBe(true);
  });
});
