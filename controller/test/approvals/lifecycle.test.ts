// The timers of AgentAccessRequests (pure over a fake cache and a recording
// API, the clock injected): an approved grant ends at expiresAt (Expired, or
// ReviewRequired for break-glass), a pending request at creation + the
// pending TTL, the snapshots are re-pushed, and Events announce transitions
// seen after the first list only.
import { describe, expect, it } from '@jest/globals';
import { GrantLifecycle, deadlineOf } from '../../src/approvals/lifecycle.js';
import { ApprovalMetrics } from '../../src/approvals/metrics.js';
import type { ApprovalApi } from '../../src/approvals/api.js';
import type { AccessRequestObject } from '../../src/approvals/objects.js';
import type { SlimPod } from '../../src/kube/objects.js';
import { FakeCache } from '../fake-caches.js';
import { slimPod } from '../helpers.js';

const NOW = Date.parse('2026-03-02T10:00:00Z');
const TTL = 3_600_000;

function request(name: string, spec: Record<string, unknown>, status: Record<string, unknown> | undefined, created = '2026-03-02T09:50:00Z'): AccessRequestObject {
  return { apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name, namespace: 'support', uid: `uid-${name}`, resourceVersion: '3', creationTimestamp: created as unknown as Date }, spec: { pod: 'support-agent-0', serviceAccount: 'support-agent', duration: '15m', ...spec }, ...(status === undefined ? {} : { status }) };
}

function setup(items: AccessRequestObject[], mayWrite = true): { lifecycle: GrantLifecycle; writes: { name: string; status: Record<string, unknown> }[]; pushes: () => number; events: string[]; metrics: ApprovalMetrics; cache: FakeCache<AccessRequestObject> } {
  const cache = new FakeCache<AccessRequestObject>(items);
  const writes: { name: string; status: Record<string, unknown> }[] = [];
  const events: string[] = [];
  let pushes = 0;
  const metrics = new ApprovalMetrics();
  const api = { writeStatus: (_ns: string, name: string, _rv: string, status: Record<string, unknown>) => { writes.push({ name, status }); return Promise.resolve(); } } as unknown as ApprovalApi;
  const lifecycle = new GrantLifecycle({
    api, requests: cache, pods: new FakeCache<SlimPod>([slimPod()]), options: { pendingTtlMs: TTL }, metrics, mayWrite: () => mayWrite,
    grantsChanged: () => { pushes++; }, event: (_pod, reason) => { events.push(reason); }, log: () => undefined, nowMs: () => NOW,
  });
  return { lifecycle, writes, pushes: () => pushes, events, metrics, cache };
}

describe('the deadlines of AgentAccessRequests', () => {
  it('are expiresAt for an approved grant and creation + TTL for a pending request; none once decided', () => {
    expect(deadlineOf(request('a', {}, { state: 'Approved', expiresAt: '2026-03-02T10:15:00Z' }), TTL)).toEqual({ atMs: Date.parse('2026-03-02T10:15:00Z'), reason: 'expired' });
    expect(deadlineOf(request('p', {}, undefined), TTL)).toEqual({ atMs: Date.parse('2026-03-02T10:50:00Z'), reason: 'pending_ttl' });
    expect(deadlineOf(request('d', {}, { state: 'Denied' }), TTL)).toBeUndefined();
  });
});

describe('at a deadline', () => {
  it('ends an approval grant Expired, a break-glass grant ReviewRequired and a stale pending request Expired, and re-pushes', async () => {
    const { lifecycle, writes, pushes, events, metrics } = setup([
      request('approval', { operation: {} }, { state: 'Approved', expiresAt: '2026-03-02T09:59:59Z', summary: 'POST h/mcp' }),
      request('break-glass', { rules: [{ name: 'r' }], justification: 'x' }, { state: 'Approved', expiresAt: '2026-03-02T09:59:00Z' }),
      request('stale', { operation: {} }, undefined, '2026-03-02T08:00:00Z'),
      request('later', { operation: {} }, { state: 'Approved', expiresAt: '2026-03-02T11:00:00Z' }),
    ]);
    await lifecycle.fire();
    lifecycle.stop();
    expect(Object.fromEntries(writes.map((w) => [w.name, w.status['state']]))).toEqual({ approval: 'Expired', 'break-glass': 'ReviewRequired', stale: 'Expired' });
    expect(writes.find((w) => w.name === 'approval')?.status['conditions']).toEqual([expect.objectContaining({ type: 'Expired', status: 'True' })]);
    expect(pushes()).toBeGreaterThan(0);
    expect(events.filter((e) => e === 'GrantExpired')).toHaveLength(2);
    expect(metrics.grantsEnded.get('expired')).toBe(2);
    expect(metrics.grantsEnded.get('pending_ttl')).toBe(1);
  });

  it('on a replica that does not write, re-pushes once per due request and writes nothing, without spinning', async () => {
    const { lifecycle, writes, pushes } = setup([request('approval', { operation: {} }, { state: 'Approved', expiresAt: '2026-03-02T09:59:59Z' })], false);
    await lifecycle.fire();
    await lifecycle.fire();
    lifecycle.stop();
    expect(writes).toEqual([]);
    expect(pushes()).toBe(1);
  });

  it('announces an approval seen after the first list (GrantApproved) and re-pushes, but not the ones found at start', () => {
    const { lifecycle, events, pushes, cache } = setup([request('old', { operation: {} }, { state: 'Approved', expiresAt: '2026-03-02T11:00:00Z' })]);
    lifecycle.changed();
    expect(events).toEqual([]);
    cache.items.push(request('new', { operation: {} }, undefined));
    lifecycle.changed();
    cache.items = cache.items.map((o) => (o.metadata?.name === 'new' ? { ...o, status: { state: 'Approved', approvedBy: 'alice', expiresAt: '2026-03-02T10:15:00Z' } } : o));
    const before = pushes();
    lifecycle.changed();
    lifecycle.stop();
    expect(events).toEqual(['GrantApproved']);
    expect(pushes()).toBe(before + 1);
  });
});
