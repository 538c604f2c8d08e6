// ClusterAgentPolicies in the controller: the snapshot of a pod takes the
// ClusterAgentPolicies whose namespaceSelector matches its namespace's labels
// (from the namespace cache), status counts their pods across namespaces, and
// the admission webhook reads them with the same parser as the CLI.
import { describe, expect, it } from '@jest/globals';
import { parsePolicies, SnapshotBook, type SnapshotResult } from '../src/reconcile/snapshots.js';
import { computeStatus } from '../src/status/compute.js';
import { reviewAgentPolicy } from '../src/admission/validate-policy.js';
import type { AgentPolicyObject } from '../src/kube/objects.js';
import type { AdmissionRequest } from '../src/admission/review.js';
import type { JsonObject } from '../src/inject/json.js';
import { allowSpec, policyObject, slimPod } from './helpers.js';

function clusterPolicyObject(name: string, spec: unknown, resourceVersion = '1'): AgentPolicyObject {
  return { apiVersion: 'agentwarden.io/v1alpha1', kind: 'ClusterAgentPolicy', metadata: { name, resourceVersion, generation: 1 }, spec };
}

const ceilingSpec = {
  namespaceSelector: { matchLabels: { 'agentwarden.io/inject': 'enabled' } },
  ceiling: true,
  rules: [{ name: 'corp-apis', to: { hosts: ['*.internal'] } }],
};

const enabled = (ns: string): Readonly<Record<string, string>> | undefined => (ns === 'support' ? { 'agentwarden.io/inject': 'enabled' } : {});

function policyNames(result: SnapshotResult): string[] {
  if (!result.ok) throw new Error(`expected a snapshot, got: ${result.error}`);
  return result.snapshot.policies.map((p) => `${p.cluster ? 'cluster:' : ''}${p.name}${p.ceiling ? ' (ceiling)' : ''}`);
}

describe('ClusterAgentPolicies in pod snapshots', () => {
  const entries = parsePolicies([clusterPolicyObject('platform', ceilingSpec), policyObject('tenant', allowSpec('*')), policyObject('elsewhere', allowSpec('*'), { namespace: 'other' })]);

  it('govern pods of namespaces their namespaceSelector matches, ahead of the namespaced policies', () => {
    const book = new SnapshotBook();
    book.beginPass();
    expect(policyNames(book.forPod(slimPod(), entries, () => undefined, enabled))).toEqual(['cluster:platform (ceiling)', 'tenant']);
  });

  it('leave pods of other namespaces alone', () => {
    const book = new SnapshotBook();
    book.beginPass();
    expect(policyNames(book.forPod(slimPod({ namespace: 'other' }), entries, () => undefined, enabled))).toEqual(['elsewhere']);
  });

  it('recompile a pod\'s snapshot when its namespace gains the selected label', () => {
    const book = new SnapshotBook();
    book.beginPass();
    const before = policyNames(book.forPod(slimPod(), entries, () => undefined, () => ({})));
    const after = policyNames(book.forPod(slimPod(), entries, () => undefined, enabled));
    expect([before, after]).toEqual([['tenant'], ['cluster:platform (ceiling)', 'tenant']]);
  });

  it('fail closed for every pod when one cannot be read', () => {
    const broken = parsePolicies([clusterPolicyObject('broken', { rules: 'not a list' }), policyObject('tenant', allowSpec('*'))]);
    const book = new SnapshotBook();
    book.beginPass();
    const result = book.forPod(slimPod({ namespace: 'other' }), broken, () => undefined, enabled);
    expect(result.ok).toBe(false);
  });
});

describe('ClusterAgentPolicy status', () => {
  it('counts the pods it selects in every namespace its namespaceSelector matches', () => {
    const [entry] = parsePolicies([clusterPolicyObject('platform', ceilingSpec)]);
    if (entry === undefined) throw new Error('no entry');
    const pods = [slimPod({ name: 'a' }), slimPod({ name: 'b' }), slimPod({ name: 'c', namespace: 'other' })];
    const status = computeStatus(entry, pods, (p) => p.metadata.name === 'a', '2026-03-03T09:00:00Z', undefined, enabled);
    expect(status).toMatchObject({ rules: 1, pods: { selected: 2, synced: 1 } });
    expect(status.conditions.find((c) => c.type === 'Compiled')?.status).toBe('True');
  });
});

describe('the policy webhook on a ClusterAgentPolicy', () => {
  const request = (object: AgentPolicyObject): AdmissionRequest => ({
    uid: 'u1', kind: { group: 'agentwarden.io', version: 'v1alpha1', kind: 'ClusterAgentPolicy' }, subResource: '', namespace: '', name: 'platform',
    operation: 'CREATE', dryRun: false, object: JSON.parse(JSON.stringify(object)) as JsonObject, oldObject: undefined, userInfo: { username: 'platform-admin', groups: [] },
  });

  it('admits a valid one', () => {
    expect(reviewAgentPolicy(request(clusterPolicyObject('platform', ceilingSpec))).allowed).toBe(true);
  });

  it('refuses a ceiling without an Allow rule and an ill-typed condition, naming the object and fields', () => {
    const spec = { ceiling: true, rules: [{ name: 'no-paste', action: 'Deny', to: { hosts: ['pastebin.com'] }, when: 'request.method + 1 == 2' }] };
    const response = reviewAgentPolicy(request(clusterPolicyObject('platform', spec)));
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain('ClusterAgentPolicy platform is invalid');
    expect(response.status?.message).toContain('spec.rules: a ceiling policy needs at least one Allow rule');
    expect(response.status?.message).toContain('spec.rules[0].when');
  });
});
