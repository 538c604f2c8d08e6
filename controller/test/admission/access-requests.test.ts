// The AgentAccessRequest webhooks over HTTP (the express app on loopback):
// creates checked beyond the CRD schema, status transitions refused for the
// agent's own ServiceAccount and its namespace's, and approvals stamped from
// userInfo and the server clock whatever the client sent.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodePatch, review, startApp, type TestApp } from './helpers.js';
import type { AccessRequestWebhookDeps } from '../../src/admission/index.js';

const NOW = Date.parse('2026-03-02T10:00:00Z');
const deps: AccessRequestWebhookDeps = {
  options: { maxGrantDurationMs: 4 * 3_600_000, pendingTtlMs: 3_600_000, controllerUsername: 'system:serviceaccount:agentwarden-system:agentwarden-controller' },
  pod: (ns, name) => Promise.resolve(ns === 'support' && name === 'agent-0' ? { serviceAccount: 'support-agent' } : undefined),
  nowMs: () => NOW,
};
let app: TestApp;
beforeAll(async () => { app = await startApp({ accessRequests: deps }); });
afterAll(async () => { await app.close(); });

function request(spec: Record<string, unknown>, status?: Record<string, unknown>, created = '2026-03-02T09:30:00Z'): Record<string, unknown> {
  return {
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest',
    metadata: { name: 'agent-0-0123456789ab', namespace: 'support', uid: 'u-1', creationTimestamp: created },
    spec: { pod: 'agent-0', serviceAccount: 'support-agent', duration: '15m', ...spec },
    ...(status === undefined ? {} : { status }),
  };
}
const approval = { operation: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: '', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 120 } } } };
const breakGlass = { rules: [{ name: 'refunds', to: { hosts: ['mcp.support.internal'] } }], justification: 'INC-4411: refunds stuck' };

function statusReview(old: Record<string, unknown>, next: Record<string, unknown>, username: string): ReturnType<typeof review> {
  const r = review({ kind: 'AgentAccessRequest', group: 'agentwarden.io', name: 'agent-0-0123456789ab', operation: 'UPDATE', subResource: 'status', object: next, oldObject: old });
  r.request['userInfo'] = { username, groups: ['system:authenticated'] };
  return r;
}

/** Runs the mutating then the validating status webhook as the API server does. */
async function updateStatus(old: Record<string, unknown>, status: Record<string, unknown>, username: string): Promise<{ allowed: boolean; message: string; stored: Record<string, unknown> }> {
  const next = { ...old, status };
  const m = await app.post('/mutate-agentaccessrequests-status', statusReview(old, next, username));
  const patch = decodePatch(m.response) as { value: Record<string, unknown> }[] | undefined;
  const mutated = { ...next, status: patch?.[0]?.value ?? status };
  const v = await app.post('/validate-agentaccessrequests-status', statusReview(old, mutated, username));
  return { allowed: v.response?.allowed === true, message: v.response?.status?.message ?? '', stored: mutated.status };
}

describe('approving an AgentAccessRequest (status subresource)', () => {
  it('stamps approvedBy, approvedAt and expiresAt from the authenticated user and the server clock, whatever the client sent', async () => {
    const r = await updateStatus(request(approval), { state: 'Approved', approvedBy: 'mallory', expiresAt: '2099-01-01T00:00:00Z' }, 'alice@example.com');
    expect(r.allowed).toBe(true);
    expect(r.stored).toMatchObject({ state: 'Approved', approvedBy: 'alice@example.com', approvedAt: '2026-03-02T10:00:00Z', expiresAt: '2026-03-02T10:15:00Z' });
    expect(r.stored['conditions']).toEqual([expect.objectContaining({ type: 'Approved', status: 'True', reason: 'Approved' })]);
  });

  it('uses status.duration (approve --for) over spec.duration', async () => {
    const r = await updateStatus(request(approval), { state: 'Approved', duration: '1h' }, 'alice');
    expect(r.stored).toMatchObject({ expiresAt: '2026-03-02T11:00:00Z' });
  });

  it('refuses the pod\'s own ServiceAccount, naming it', async () => {
    const r = await updateStatus(request(approval), { state: 'Approved' }, 'system:serviceaccount:support:support-agent');
    expect(r.allowed).toBe(false);
    expect(r.message).toContain('is the ServiceAccount of the agent the request is for; an agent can never approve its own request');
  });

  it('refuses any other ServiceAccount of the request\'s namespace, and the controller itself', async () => {
    expect((await updateStatus(request(approval), { state: 'Approved' }, 'system:serviceaccount:support:helper')).message).toContain('is a ServiceAccount of the request\'s namespace support');
    expect((await updateStatus(request(approval), { state: 'Denied' }, 'system:serviceaccount:support:helper')).allowed).toBe(false);
    expect((await updateStatus(request(approval), { state: 'Approved' }, deps.options.controllerUsername)).message).toContain('the agentwarden controller never decides requests');
  });

  it('refuses a duration over the maximum, and a request pending for longer than the TTL ("request expired")', async () => {
    expect((await updateStatus(request(approval), { state: 'Approved', duration: '5h' }, 'alice')).message).toContain('status.duration 5h is above the maximum grant duration 4h');
    const old = await updateStatus(request(approval, undefined, '2026-03-02T08:59:59Z'), { state: 'Approved' }, 'alice');
    expect(old.allowed).toBe(false);
    expect(old.message).toContain('request expired');
  });

  it('refuses approving an expired or denied request, and the controller\'s transitions by a person', async () => {
    expect((await updateStatus(request(approval, { state: 'Expired' }), { state: 'Approved' }, 'alice')).message).toContain('the transition Expired → Approved is not allowed');
    expect((await updateStatus(request(approval, { state: 'Denied' }), { state: 'Approved' }, 'alice')).message).toContain('Denied is final');
    expect((await updateStatus(request(approval, { state: 'Approved', expiresAt: '2026-03-02T10:15:00Z' }), { state: 'Expired' }, 'alice')).message).toContain('made by the agentwarden controller only');
  });

  it('lets a person revoke an approved grant (deniedBy stamped) and the controller end it', async () => {
    const approved = request(approval, { state: 'Approved', approvedBy: 'alice', expiresAt: '2026-03-02T10:15:00Z' });
    const revoked = await updateStatus(approved, { state: 'Denied', approvedBy: 'alice', expiresAt: '2026-03-02T10:15:00Z' }, 'bob');
    expect(revoked).toMatchObject({ allowed: true, stored: { state: 'Denied', deniedBy: 'bob', approvedBy: 'alice' } });
    expect((await updateStatus(approved, { state: 'Expired', approvedBy: 'alice', expiresAt: '2026-03-02T10:15:00Z' }, deps.options.controllerUsername)).allowed).toBe(true);
    // A break-glass grant ends ReviewRequired, not Expired.
    const bg = request(breakGlass, { state: 'Approved', approvedBy: 'alice', expiresAt: '2026-03-02T10:15:00Z' });
    expect((await updateStatus(bg, { state: 'Expired' }, deps.options.controllerUsername)).allowed).toBe(false);
    expect((await updateStatus(bg, { state: 'ReviewRequired' }, deps.options.controllerUsername)).allowed).toBe(true);
  });

  it('moves ReviewRequired to Reviewed only with notes, stamping the reviewer', async () => {
    const ended = request(breakGlass, { state: 'ReviewRequired', approvedBy: 'alice' });
    expect((await updateStatus(ended, { state: 'Reviewed' }, 'carol')).message).toContain('status.reviewNotes is required');
    expect(await updateStatus(ended, { state: 'Reviewed', reviewNotes: 'refunds checked', approvedBy: 'eve' }, 'carol')).toMatchObject({ allowed: true, stored: { reviewedBy: 'carol', reviewedAt: '2026-03-02T10:00:00Z', approvedBy: 'alice' } });
  });
});

describe('creating an AgentAccessRequest', () => {
  const create = async (object: Record<string, unknown>): Promise<{ allowed: boolean; message: string }> => {
    const r = await app.post('/validate-agentaccessrequests', review({ kind: 'AgentAccessRequest', group: 'agentwarden.io', name: 'x', operation: 'CREATE', object }));
    return { allowed: r.response?.allowed === true, message: r.response?.status?.message ?? '' };
  };

  it('admits an approval request for an existing pod and its ServiceAccount', async () => {
    expect(await create(request(approval))).toEqual({ allowed: true, message: '' });
  });

  it('refuses a duration over the maximum, break-glass without justification, an unknown pod and a ServiceAccount the pod does not run as', async () => {
    expect((await create(request({ ...approval, duration: '5h' }))).message).toContain('spec.duration: 5h is above the maximum grant duration 4h');
    expect((await create(request({ rules: breakGlass.rules }))).message).toContain('spec.justification: required for a break-glass request');
    expect((await create(request({ ...approval, pod: 'ghost' }))).message).toContain('spec.pod: pod support/ghost does not exist');
    expect((await create(request({ ...approval, serviceAccount: 'admin' }))).message).toContain('runs as ServiceAccount support-agent, not admin');
  });

  it('refuses break-glass rules that do not compile, naming the rule and field', async () => {
    const r = await create(request({ ...breakGlass, rules: [{ name: 'refunds', to: { hosts: ['mcp.support.internal'] }, when: 'request.methd == "POST"' }] }));
    expect(r.allowed).toBe(false);
    expect(r.message).toMatch(/spec\.rules\[0\]\.when/);
  });
});
