// ApprovalNeeded from a sidecar's stream → AgentAccessRequests (pure over fake
// caches and a recording API): the name is recomputed from the stream's pod,
// only RequireApproval rules of that pod's snapshot count, duplicates create
// nothing, pending requests are bounded per pod, and every created request is
// announced once (Event, notification). GrantUsed ends a grant at its uses.
import { describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { approvalRequestName, compileSnapshot, parseAgentPolicy, type OperationSpec } from '../../../policy/src/index.js';
import { ApprovalNeededSchema, GrantUsedSchema } from '../../../proto/gen/agentwarden/v1/distribution_pb.js';
import { OperationSchema } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { ApprovalRequests, operationSpecOf, POD_LABEL } from '../../src/approvals/requests.js';
import { ApprovalMetrics } from '../../src/approvals/metrics.js';
import { DEFAULT_APPROVAL_OPTIONS } from '../../src/approvals/options.js';
import type { ApprovalApi, PodEvent } from '../../src/approvals/api.js';
import type { AccessRequestObject } from '../../src/approvals/objects.js';
import type { Notification } from '../../src/approvals/notify.js';
import { podIdentity, type SlimPod } from '../../src/kube/objects.js';
import { FakeCache } from '../fake-caches.js';
import { slimPod } from '../helpers.js';

const pod = slimPod({ name: 'support-agent-0' });
const policy = parseAgentPolicy({
  apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'support', namespace: 'support' },
  spec: { podSelector: {}, rules: [
    { name: 'refunds', action: 'RequireApproval', to: { hosts: ['mcp.support.internal'] }, mcp: { tools: ['issue_refund'] } },
    { name: 'read', to: { hosts: ['mcp.support.internal'] } },
  ] },
}, 'test', 'support');
const snapshot = compileSnapshot([policy], podIdentity(pod));

function op(amount: number): ReturnType<typeof create<typeof OperationSchema>> {
  return create(OperationSchema, { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: '', mcpMethod: 'tools/call', mcpTool: 'issue_refund', mcpArguments: `{"amount":${amount}}` });
}

function needed(amount: number, rule = 'refunds', name?: string): ReturnType<typeof create<typeof ApprovalNeededSchema>> {
  const operation = op(amount);
  const spec = operationSpecOf(operation) as OperationSpec;
  return create(ApprovalNeededSchema, { name: name ?? approvalRequestName(pod.metadata.name, 'support', rule, spec), policy: 'support', rule, operation, decisionId: 'abc' });
}

class RecordingApi implements Partial<ApprovalApi> {
  readonly created: AccessRequestObject[] = [];
  readonly statuses: { name: string; status: unknown }[] = [];
  readonly deleted: string[] = [];
  constructor(private readonly cache: FakeCache<AccessRequestObject>) {}
  createAccessRequest(namespace: string, body: AccessRequestObject): Promise<AccessRequestObject> {
    const stored = { ...body, metadata: { ...body.metadata, uid: `uid-${this.created.length}`, resourceVersion: '1', creationTimestamp: new Date() } };
    this.created.push(stored);
    this.cache.items.push(stored);
    return Promise.resolve(stored);
  }
  deleteAccessRequest(namespace: string, name: string): Promise<void> {
    this.deleted.push(name);
    this.cache.items = this.cache.items.filter((o) => o.metadata?.name !== name);
    return Promise.resolve();
  }
  writeStatus(namespace: string, name: string, _rv: string, status: unknown): Promise<void> {
    this.statuses.push({ name, status });
    const o = this.cache.items.find((i) => i.metadata?.name === name);
    if (o !== undefined) this.cache.items = this.cache.items.map((i) => (i === o ? { ...o, status } : i));
    return Promise.resolve();
  }
}

function setup(maxPendingPerPod = 20): { requests: ApprovalRequests; api: RecordingApi; cache: FakeCache<AccessRequestObject>; events: PodEvent['reason'][]; notes: Notification[]; metrics: ApprovalMetrics } {
  const cache = new FakeCache<AccessRequestObject>();
  const api = new RecordingApi(cache);
  const events: PodEvent['reason'][] = [];
  const notes: Notification[] = [];
  const metrics = new ApprovalMetrics();
  const requests = new ApprovalRequests({
    api: api as unknown as ApprovalApi, requests: cache, pods: new FakeCache<SlimPod>([pod]), snapshotFor: () => snapshot,
    options: { ...DEFAULT_APPROVAL_OPTIONS, maxPendingPerPod }, metrics,
    notify: (n) => { notes.push(n); }, event: (_p, reason) => { events.push(reason); }, mayWrite: () => true, log: () => undefined,
  });
  return { requests, api, cache, events, notes, metrics };
}

describe('an ApprovalNeeded message', () => {
  it('creates one AgentAccessRequest with the operation, origin and default duration, announced once; a duplicate creates nothing', async () => {
    const { requests, api, events, notes } = setup();
    expect(await requests.approvalNeeded('support/support-agent-0', needed(120))).toBe('created');
    expect(await requests.approvalNeeded('support/support-agent-0', needed(120))).toBe('duplicate');
    expect(api.created).toHaveLength(1);
    expect(api.created[0]).toMatchObject({
      metadata: { name: needed(120).name, namespace: 'support', labels: { [POD_LABEL]: 'support-agent-0' } },
      spec: { pod: 'support-agent-0', serviceAccount: 'support-agent', duration: '15m', origin: { policy: 'support', rule: 'refunds', decisionId: 'abc' },
        operation: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: '', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 120 } } } },
    });
    expect(api.statuses[0]?.status).toMatchObject({ state: 'Pending', summary: 'POST mcp.support.internal/mcp tools/call issue_refund' });
    expect(events).toEqual(['ApprovalRequired']);
    expect(notes).toHaveLength(1);
    expect(notes[0]?.agentwarden.approveCommand).toBe(`agentwarden approve support/${needed(120).name}`);
  });

  it('deduplicates concurrent duplicates (the cache has not seen the first yet)', async () => {
    const { requests, api } = setup();
    const outcomes = await Promise.all([1, 2, 3].map(() => requests.approvalNeeded('support/support-agent-0', needed(7))));
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(api.created).toHaveLength(1);
  });

  it('refuses a name that is not the one of the stream\'s pod and operation, and a rule that does not require approval', async () => {
    const { requests, api } = setup();
    expect(await requests.approvalNeeded('support/support-agent-0', needed(120, 'refunds', 'another-pod-0123456789ab'))).toBe('name_mismatch');
    expect(await requests.approvalNeeded('support/support-agent-0', needed(120, 'read'))).toBe('not_require_approval');
    expect(await requests.approvalNeeded('support/ghost', needed(120))).toBe('unknown_pod');
    expect(api.created).toHaveLength(0);
  });

  it('creates at most --max-pending-approvals-per-pod pending requests under a flood of distinct operations, counting the rest', async () => {
    const { requests, api, metrics } = setup(5);
    for (let i = 0; i < 40; i++) await requests.approvalNeeded('support/support-agent-0', needed(i));
    expect(api.created).toHaveLength(5);
    expect(metrics.approvalNeeded.get('over_limit')).toBe(35);
  });

  it('deletes an ended request of the same name and creates it anew', async () => {
    const { requests, api, cache } = setup();
    await requests.approvalNeeded('support/support-agent-0', needed(1));
    cache.items = cache.items.map((o) => ({ ...o, status: { state: 'Expired' } }));
    expect(await requests.approvalNeeded('support/support-agent-0', needed(1))).toBe('recreated');
    expect(api.deleted).toEqual([needed(1).name]);
    expect(api.created).toHaveLength(2);
  });
});

describe('a GrantUsed message', () => {
  it('records status.used and ends the approval grant when used reaches uses', async () => {
    const { requests, api, cache } = setup();
    cache.items.push({ apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name: 'g', namespace: 'support', uid: 'u-g', resourceVersion: '5' },
      spec: { pod: 'support-agent-0', serviceAccount: 'support-agent', duration: '15m', uses: 2, operation: {} }, status: { state: 'Approved', expiresAt: '2099-01-01T00:00:00Z' } });
    await requests.grantUsed('support/support-agent-0', create(GrantUsedSchema, { name: 'g', uid: 'u-g', used: 1 }));
    expect(api.statuses.at(-1)?.status).toMatchObject({ state: 'Approved', used: 1 });
    await requests.grantUsed('support/support-agent-0', create(GrantUsedSchema, { name: 'g', uid: 'u-g', used: 2 }));
    expect(api.statuses.at(-1)?.status).toMatchObject({ state: 'Expired', used: 2 });
    // Another pod's stream cannot count uses of this grant.
    const before = api.statuses.length;
    await requests.grantUsed('support/other', create(GrantUsedSchema, { name: 'g', uid: 'u-g', used: 9 }));
    expect(api.statuses).toHaveLength(before);
  });
});
