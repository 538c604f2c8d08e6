// Grants in snapshots (SnapshotBook with the policy core's compiler): a pod
// with an active grant gets a snapshot of its own, with the grant; its peers
// keep the shared one; the grant's facts are in the memo key, so a changed
// expiry compiles anew and an unchanged one does not.
import { describe, expect, it } from '@jest/globals';
import { parseAccessRequest, type AccessRequest } from '../../../policy/src/index.js';
import { parsePolicies, SnapshotBook, type SnapshotResult } from '../../src/reconcile/snapshots.js';
import type { Snapshot } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { GrantKind } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { allowSpec, policyObject, slimPod } from '../helpers.js';

function snapshot(result: SnapshotResult): Snapshot {
  if (!result.ok) throw new Error(`expected a snapshot, got: ${result.error}`);
  return result.snapshot;
}

function grant(expiresAt: string): AccessRequest {
  return parseAccessRequest({
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest',
    metadata: { name: 'support-agent-0-0123456789ab', namespace: 'support', uid: 'g-1' },
    spec: { pod: 'support-agent-0', serviceAccount: 'support-agent', duration: '15m', operation: { method: 'POST', host: 'api.zendesk.com', port: 443, path: '/refunds' } },
    status: { state: 'Approved', approvedBy: 'alice', expiresAt },
  }, 'test');
}

describe('a pod with an active grant', () => {
  const entries = parsePolicies([policyObject('zendesk', allowSpec('api.zendesk.com'))]);

  it('gets a snapshot of its own with the grant; a peer keeps the shared snapshot', () => {
    const book = new SnapshotBook();
    book.beginPass();
    const granted = snapshot(book.forPod(slimPod({ name: 'support-agent-0' }), entries, () => undefined, undefined, [grant('2026-03-02T10:15:00Z')]));
    const peer = snapshot(book.forPod(slimPod({ name: 'support-agent-1', uid: 'u-1' }), entries, () => undefined));
    book.endPass();
    expect(granted.version).not.toBe(peer.version);
    expect(granted.agent?.name).toBe('support-agent-0');
    expect(granted.grants.map((g) => [g.name, g.kind, g.approvedBy])).toEqual([['support-agent-0-0123456789ab', GrantKind.APPROVAL, 'alice']]);
    expect(peer.grants).toEqual([]);
  });

  it('compiles again when a grant fact changes, and not otherwise', () => {
    const book = new SnapshotBook();
    book.beginPass();
    const pod = slimPod({ name: 'support-agent-0' });
    const a = book.forPod(pod, entries, () => undefined, undefined, [grant('2026-03-02T10:15:00Z')]);
    const again = book.forPod(pod, entries, () => undefined, undefined, [grant('2026-03-02T10:15:00Z')]);
    const later = book.forPod(pod, entries, () => undefined, undefined, [grant('2026-03-02T10:30:00Z')]);
    book.endPass();
    expect(again).toBe(a);
    expect(snapshot(later).version).not.toBe(snapshot(a).version);
  });
});
