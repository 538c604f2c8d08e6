// The reconcile pass over the caches: nothing is sent before every cache has
// been listed, a pod whose new inputs do not compile keeps its last good
// snapshot (and does not count as synced), and pods that left are forgotten.
import { describe, expect, it } from '@jest/globals';
import { Reconciler } from '../src/reconcile/reconciler.js';
import type { AgentPolicyObject, SlimPod, SlimSecret } from '../src/kube/objects.js';
import type { PodSync } from '../src/distribution/server.js';
import { FakeCache } from './fake-caches.js';
import { allowSpec, NAMESPACE, policyObject, slimPod } from './helpers.js';

const POD = `${NAMESPACE}/support-agent-0`;
const BROKEN = policyObject('broken', { podSelector: {}, rules: [{ name: 'Bad_Name', to: { hosts: ['c.example.com'] } }] }, { resourceVersion: '9' });

function setUp(connected: string[] = [POD]) {
  const policies = new FakeCache<AgentPolicyObject>([policyObject('support', allowSpec('a.example.com'))]);
  const pods = new FakeCache<SlimPod>([slimPod()]);
  const secrets = new FakeCache<SlimSecret>();
  const events = { pushes: 0, reconciled: 0, warnings: [] as string[] };
  const reconciler = new Reconciler({
    policies, pods, secrets,
    connectedPods: () => connected,
    pushAll: () => { events.pushes++; },
    onReconciled: () => { events.reconciled++; },
    log: (_level, msg, fields) => { events.warnings.push(`${msg} ${JSON.stringify(fields)}`); },
  });
  return { policies, pods, secrets, events, reconciler, connected };
}

const hosts = (r: Reconciler, podKey = POD): string[] => (r.snapshotFor(podKey)?.rules ?? []).flatMap((rule) => rule.hosts);

describe('Reconciler', () => {
  it('gives no pod a snapshot until every cache has been listed and one pass has run', () => {
    const { secrets, reconciler, events } = setUp();
    secrets.synced = false;
    reconciler.reconcile();
    expect(reconciler.snapshotFor(POD)).toBeUndefined();
    expect(events).toMatchObject({ pushes: 0, reconciled: 0 });
    expect(reconciler.reconciles).toBe(0);

    secrets.synced = true;
    reconciler.reconcile();
    expect(hosts(reconciler)).toEqual(['a.example.com']);
    expect(events).toMatchObject({ pushes: 1, reconciled: 1 });
    expect(reconciler.reconciles).toBe(1);
  });

  it('keeps a pod on its last good snapshot when a broken policy joins its namespace, and does not report it synced', () => {
    const { policies, reconciler, events, pods } = setUp();
    reconciler.reconcile();
    const good = reconciler.snapshotFor(POD);
    const pod = pods.items[0]!;
    const acked = (version: string | undefined) => (): PodSync => ({ sent: version ?? '', acked: version ?? '', nackError: undefined, ackedAtMs: 0, connectedAtMs: 0, nackedAtMs: 0 });
    expect(reconciler.podSynced(pod, acked(good?.version))).toBe(true);

    policies.items = [policyObject('support', allowSpec('b.example.com'), { resourceVersion: '2' }), BROKEN];
    reconciler.reconcile();
    expect(reconciler.snapshotFor(POD)).toBe(good);
    expect(reconciler.podSynced(pod, acked(good?.version))).toBe(false);
    expect(events.warnings.join('\n')).toContain('pod snapshot does not compile');

    policies.items = [policyObject('support', allowSpec('b.example.com'), { resourceVersion: '2' })];
    reconciler.reconcile();
    expect(hosts(reconciler)).toEqual(['b.example.com']);
  });

  it('forgets the snapshot of a pod whose sidecar disconnected, and of a pod that is gone', () => {
    const { reconciler, connected, pods } = setUp();
    reconciler.reconcile();
    expect(reconciler.compiledSnapshots).toBe(1);
    connected.splice(0);
    reconciler.reconcile();
    expect(reconciler.compiledSnapshots).toBe(0);
    pods.items = [];
    expect(reconciler.snapshotFor(POD)).toBeUndefined();
  });

  it('parses every policy of the last pass, keeping the errors', () => {
    const { policies, reconciler } = setUp();
    policies.items.push(BROKEN);
    reconciler.reconcile();
    expect(reconciler.policyEntries().map((e) => [e.object.metadata?.name, e.error === undefined])).toEqual([['support', true], ['broken', false]]);
  });
});
