// SnapshotBook: the snapshot each pod gets, compiled by the real compiler
// from AgentPolicy objects and Secrets as the informers keep them, and shared
// by every pod with the same inputs.
import { describe, expect, it } from '@jest/globals';
import { parsePolicies, SnapshotBook, type SnapshotResult } from '../src/reconcile/snapshots.js';
import type { AgentPolicyObject, SlimSecret } from '../src/kube/objects.js';
import type { Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { allowSpec, NAMESPACE, policyObject, slimPod, slimSecret } from './helpers.js';
import { parseAccessRequest } from '../../policy/src/index.js';

const SUPPORT = { app: 'support-agent' };
const BILLING = { app: 'billing-agent' };

const zendeskSpec = {
  podSelector: { matchLabels: SUPPORT },
  rules: [{ name: 'read-tickets', to: { hosts: ['api.zendesk.com'] }, http: { methods: ['GET'] }, credential: 'zendesk' }],
  credentials: [{ name: 'zendesk', secretRef: { name: 'zendesk-api', key: 'token' } }],
};

type Secrets = (namespace: string, name: string) => SlimSecret | undefined;
const noSecrets: Secrets = () => undefined;

function secretsOf(...list: SlimSecret[]): Secrets {
  return (ns, name) => list.find((s) => s.metadata.namespace === ns && s.metadata.name === name);
}

function snapshot(result: SnapshotResult): Snapshot {
  if (!result.ok) throw new Error(`expected a snapshot, got: ${result.error}`);
  return result.snapshot;
}

function credentialValue(s: Snapshot): string {
  const c = s.credentials[0];
  if (c === undefined) throw new Error('no credential in the snapshot');
  return Buffer.from(c.value).toString('utf8');
}

describe('SnapshotBook', () => {
  const policies = (...objects: AgentPolicyObject[]) => parsePolicies(objects);

  it('gives pods with the same namespace, service account, labels, policies and secrets one shared snapshot', () => {
    const book = new SnapshotBook();
    const entries = policies(policyObject('zendesk', zendeskSpec));
    const secrets = secretsOf(slimSecret('zendesk-api', { token: 'tk-1' }, '10'));
    book.beginPass();
    const a = snapshot(book.forPod(slimPod({ name: 'support-agent-0' }), entries, secrets));
    const b = snapshot(book.forPod(slimPod({ name: 'support-agent-1', uid: 'other-uid' }), entries, secrets));
    book.endPass();
    expect(b).toBe(a);
    expect(a.version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a.agent?.name).toBe(''); // the sidecar fills in its own pod name
    expect(book.size).toBe(1);
  });

  it('shares the snapshot whatever the order of the pod\'s labels', () => {
    const book = new SnapshotBook();
    const entries = policies(policyObject('p', allowSpec('a.example.com')));
    const a = snapshot(book.forPod(slimPod({ name: 'x', labels: { app: 'support-agent', team: 'care' } }), entries, noSecrets));
    const b = snapshot(book.forPod(slimPod({ name: 'y', labels: { team: 'care', app: 'support-agent' } }), entries, noSecrets));
    expect(b).toBe(a);
  });

  it('gives a pod with different labels its own snapshot, even under the same policy', () => {
    const book = new SnapshotBook();
    const entries = policies(policyObject('p', allowSpec('a.example.com', {})));
    const a = snapshot(book.forPod(slimPod({ name: 'x', labels: SUPPORT }), entries, noSecrets));
    const b = snapshot(book.forPod(slimPod({ name: 'y', labels: BILLING }), entries, noSecrets));
    expect(b).not.toBe(a);
    expect(b.version).not.toBe(a.version);
    expect(b.agent?.labels).toEqual(BILLING);
  });

  it('gives a pod with another service account its own snapshot', () => {
    const book = new SnapshotBook();
    const entries = policies(policyObject('p', allowSpec('a.example.com')));
    const a = snapshot(book.forPod(slimPod({ name: 'x' }), entries, noSecrets));
    const b = snapshot(book.forPod(slimPod({ name: 'y', serviceAccount: 'other' }), entries, noSecrets));
    expect(b.version).not.toBe(a.version);
    expect(b.agent?.serviceAccount).toBe('other');
  });

  it('recompiles after a policy edit (a new resourceVersion)', () => {
    const book = new SnapshotBook();
    const pod = slimPod();
    const before = snapshot(book.forPod(pod, policies(policyObject('p', allowSpec('a.example.com'), { resourceVersion: '5' })), noSecrets));
    const after = snapshot(book.forPod(pod, policies(policyObject('p', allowSpec('b.example.com'), { resourceVersion: '6', generation: 2 })), noSecrets));
    expect(after.version).not.toBe(before.version);
    expect(after.rules[0]?.hosts).toEqual(['b.example.com']);
  });

  it('is not affected by an edit of a policy that does not govern the pod', () => {
    const book = new SnapshotBook();
    const pod = slimPod({ labels: SUPPORT });
    const mine = policyObject('mine', allowSpec('a.example.com', SUPPORT));
    const before = snapshot(book.forPod(pod, policies(mine, policyObject('theirs', allowSpec('x.example.com', BILLING), { resourceVersion: '1' })), noSecrets));
    const after = snapshot(book.forPod(pod, policies(mine, policyObject('theirs', allowSpec('y.example.com', BILLING), { resourceVersion: '2' })), noSecrets));
    expect(after).toBe(before);
  });

  it('fails closed when a policy in the pod\'s namespace cannot be read, instead of leaving that policy out', () => {
    const book = new SnapshotBook();
    const good = policyObject('good', allowSpec('a.example.com'));
    const broken = policyObject('broken', { podSelector: { matchLabels: SUPPORT }, rules: [{ name: 'Not_A_DNS_Label', to: { hosts: ['b.example.com'] } }] });
    const result = book.forPod(slimPod(), policies(good, broken), noSecrets);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain('support/broken');
    expect(result.error).toContain('spec.rules[0].name');
    expect(result.policies).toEqual(['good', 'broken']);
  });

  it('is not affected by a broken policy in another namespace', () => {
    const book = new SnapshotBook();
    const broken = policyObject('broken', { podSelector: {}, rules: [] }, { namespace: 'billing' });
    const result = book.forPod(slimPod(), policies(policyObject('good', allowSpec('a.example.com')), broken), noSecrets);
    expect(result).toMatchObject({ ok: true, policies: ['good'] });
  });

  it('reports a governing policy whose rule does not compile, naming the rule', () => {
    const book = new SnapshotBook();
    const bad = policyObject('bad', allowSpec('a.example.com', SUPPORT, { when: "reqest.method == 'GET'" }));
    const result = book.forPod(slimPod(), policies(bad), noSecrets);
    expect(result).toMatchObject({ ok: false, policies: ['bad'] });
    if (!result.ok) expect(result.error).toContain('rule "allow-host"');
  });

  it('takes in a rotated Secret: a new version carrying the new credential value', () => {
    const book = new SnapshotBook();
    const pod = slimPod();
    const entries = policies(policyObject('zendesk', zendeskSpec));
    const before = snapshot(book.forPod(pod, entries, secretsOf(slimSecret('zendesk-api', { token: 'tk-old' }, '10'))));
    expect(credentialValue(before)).toBe('tk-old');
    expect(before.credentials[0]?.resolved).toBe(true);
    const after = snapshot(book.forPod(pod, entries, secretsOf(slimSecret('zendesk-api', { token: 'tk-new' }, '11'))));
    expect(after.version).not.toBe(before.version);
    expect(credentialValue(after)).toBe('tk-new');
  });

  it('resolves a Secret created after the policy', () => {
    const book = new SnapshotBook();
    const pod = slimPod();
    const entries = policies(policyObject('zendesk', zendeskSpec));
    const missing = snapshot(book.forPod(pod, entries, noSecrets));
    expect(missing.credentials[0]?.resolved).toBe(false);
    const created = snapshot(book.forPod(pod, entries, secretsOf(slimSecret('zendesk-api', { token: 'tk' }, '1'))));
    expect(created.credentials[0]?.resolved).toBe(true);
    expect(created.version).not.toBe(missing.version);
  });

  it('forgets, at the end of a pass, the snapshots no pod used in it, and keeps reusing the others', () => {
    const book = new SnapshotBook();
    const entries = policies(policyObject('p', allowSpec('a.example.com', {})));
    const support = slimPod({ name: 'support-agent-0', labels: SUPPORT });
    const billing = slimPod({ name: 'billing-agent-0', labels: BILLING });
    book.beginPass();
    const first = snapshot(book.forPod(support, entries, noSecrets));
    snapshot(book.forPod(billing, entries, noSecrets));
    book.endPass();
    expect(book.size).toBe(2);

    book.beginPass();
    const again = snapshot(book.forPod(support, entries, noSecrets));
    book.endPass();
    expect(again).toBe(first);
    expect(book.size).toBe(1);
  });

  it('uses only policies of the pod\'s own namespace', () => {
    const book = new SnapshotBook();
    const result = snapshot(book.forPod(slimPod(), policies(
      policyObject('here', allowSpec('a.example.com', {})),
      policyObject('elsewhere', allowSpec('b.example.com', {}), { namespace: 'billing' }),
    ), noSecrets));
    expect(result.policies.map((p) => `${p.namespace}/${p.name}`)).toEqual([`${NAMESPACE}/here`]);
  });

  it('within a pass, answers pods of the same identity from one result; pods with grants or other labels, and calls outside a pass, compute their own', () => {
    const book = new SnapshotBook();
    const entries = policies(policyObject('zendesk', zendeskSpec));
    let reads = 0;
    let value = 'tk-1';
    // Counts the compiler's (and memo key's) Secret reads: a pod answered from the pass's memo reads none.
    const secrets: Secrets = (ns, name) => { reads++; return ns === NAMESPACE && name === 'zendesk-api' ? slimSecret('zendesk-api', { token: value }, value) : undefined; };
    book.beginPass();
    const first = book.forPod(slimPod({ name: 'support-agent-0' }), entries, secrets);
    const readsForOne = reads;
    const replicas = Array.from({ length: 50 }, (_, i) => book.forPod(slimPod({ name: `support-agent-${i + 1}`, uid: `uid-${i}` }), entries, secrets));
    expect(reads).toBe(readsForOne);
    for (const r of replicas) expect(r).toBe(first);
    const other = book.forPod(slimPod({ name: 'support-agent-x', labels: { ...SUPPORT, tier: 'canary' } }), entries, secrets);
    expect(other).not.toBe(first);
    expect(reads).toBeGreaterThan(readsForOne);
    const grant = parseAccessRequest({
      apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest',
      metadata: { name: 'support-agent-g-0123456789ab', namespace: NAMESPACE, uid: 'g-1' },
      spec: { pod: 'support-agent-g', serviceAccount: 'support-agent', duration: '15m', operation: { method: 'POST', host: 'api.zendesk.com', port: 443, path: '/refunds' } },
      status: { state: 'Approved', approvedBy: 'alice', expiresAt: '2026-03-02T10:15:00Z' },
    }, 'test');
    const granted = snapshot(book.forPod(slimPod({ name: 'support-agent-g' }), entries, secrets, undefined, [grant]));
    expect(granted.grants.map((g) => g.name)).toEqual(['support-agent-g-0123456789ab']);
    expect(snapshot(first).grants).toEqual([]);
    book.endPass();
    // Outside a pass the caches may have changed since: a rotated Secret is read again.
    value = 'tk-2';
    expect(credentialValue(snapshot(book.forPod(slimPod({ name: 'support-agent-0' }), entries, secrets)))).toBe('tk-2');
  });
});
