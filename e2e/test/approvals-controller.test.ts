// Approvals and break-glass, the controller's part, on the local control plane
// (issue 15): the AgentAccessRequest CRD, the controller in-process with its
// webhooks registered by URL (failurePolicy Fail, scoped to this suite's
// namespace), a distribution stream held with the pod's real bound token, and
// a Slack-style receiver on loopback. People are impersonated: an approver
// user with the approver role in the namespace, and the agent's own
// ServiceAccount with the same role (so what refuses it is the webhook, not RBAC).
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { approvalRequestName, type OperationSpec } from '../../policy/src/index.js';
import { SidecarMessageSchema, type ControllerMessage, type SidecarMessage } from '../../proto/gen/agentwarden/v1/distribution_pb.js';
import { GrantKind, OperationSchema, type Operation, type Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { distributionService } from '../../common/distribution-service.js';
import { readControllerConfig } from '../../controller/src/config.js';
import { startController, type RunningController } from '../../controller/src/main.js';
import { operationSpecOf } from '../../controller/src/approvals/requests.js';
import { KUBECONFIG, ROOT, kubectl, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { approvalWebhookFlags, installApprovalWebhooks } from './approval-webhooks.js';
import { boundToken, createPod, freePort, logs } from './controller-env.js';

const ns = uniqueNamespace('approvals');
const SCOPE_LABEL = 'agentwarden-e2e/approvals';
const CONFIG_NAME = `agentwarden-e2e-${ns}`;
const APPROVER = 'alice@example.com';
const AGENT_SA = `system:serviceaccount:${ns}:agent`;
const ADMIN = 'agentwarden-e2e-admin';
const POD = 'agent-0';
const MAX_PENDING = 5;
let controller: RunningController | undefined;
let stream: HeldStream | undefined;
let receiver: Server | undefined;
const posts: unknown[] = [];
let distributionPort = 0;
let removeWebhooks: (() => Promise<void>) | undefined;

const policy = `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: support, namespace: ${ns}}
spec:
  podSelector: {matchLabels: {app: agent}}
  rules:
    - {name: refunds, action: RequireApproval, to: {hosts: [mcp.support.internal]}, mcp: {tools: [issue_refund]}}
    - {name: read-tickets, to: {hosts: [api.example.com]}, http: {methods: [GET]}}
    - {name: no-exports, action: Deny, to: {hosts: [export.example.com]}}
`;

/** A stream held with the pod's token, as its sidecar would: every snapshot it receives (ACKed). */
class HeldStream {
  readonly snapshots: Snapshot[] = [];
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<SidecarMessage, ControllerMessage>;

  constructor(token: string) {
    const Ctor = grpc.makeGenericClientConstructor(distributionService, 'PolicyDistribution');
    this.client = new Ctor(`127.0.0.1:${distributionPort}`, grpc.credentials.createInsecure());
    this.call = (this.client as unknown as { Stream: () => grpc.ClientDuplexStream<SidecarMessage, ControllerMessage> }).Stream();
    this.call.on('data', (message: ControllerMessage) => {
      if (message.kind.case !== 'snapshot' || message.kind.value.snapshot === undefined) return;
      this.snapshots.push(message.kind.value.snapshot);
      this.call.write(create(SidecarMessageSchema, { kind: { case: 'ack', value: { version: message.kind.value.snapshot.version, nonce: message.kind.value.nonce } } }));
    });
    this.call.on('error', () => undefined);
    this.call.write(create(SidecarMessageSchema, { kind: { case: 'hello', value: { token, namespace: ns, podName: POD, currentVersion: '', sidecarVersion: 'e2e' } } }));
  }

  latest(): Snapshot | undefined {
    return this.snapshots.at(-1);
  }

  send(message: SidecarMessage): void {
    this.call.write(message);
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

function held(): HeldStream {
  if (stream === undefined) throw new Error('no stream');
  return stream;
}

function refundOperation(amount: number): Operation {
  return create(OperationSchema, { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: '', mcpMethod: 'tools/call', mcpTool: 'issue_refund', mcpArguments: `{"amount":${amount}}` });
}

/** What the sidecar sends when the RequireApproval rule denied `operation`; the name as the deny response gave it. */
function approvalNeeded(operation: Operation): { readonly name: string; readonly message: SidecarMessage } {
  const name = approvalRequestName(POD, 'support', 'refunds', operationSpecOf(operation) as OperationSpec);
  return { name, message: create(SidecarMessageSchema, { kind: { case: 'approvalNeeded', value: { name, policy: 'support', rule: 'refunds', operation, decisionId: '4bf92f3577b34da6a3ce929d0e0e4736' } } }) };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://${controller?.metricsAddress ?? ''}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

interface AccessRequest { metadata: { name: string; uid: string }; spec: Record<string, unknown>; status?: Record<string, unknown> }

async function getRequest(name: string): Promise<AccessRequest | undefined> {
  const r = await kubectl(['get', 'agentaccessrequest', '-n', ns, name, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as AccessRequest) : undefined;
}

/** A status update (merge patch of the status subresource) as `user`, as `agentwarden approve|deny|review` writes it. */
function patchStatusAs(user: string, name: string, status: Record<string, unknown>): ReturnType<typeof kubectl> {
  return kubectl([`--as=${user}`, 'patch', 'agentaccessrequest', '-n', ns, name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

function breakGlass(name: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name, namespace: ns },
    spec: { podSelector: { matchLabels: { app: 'agent' } }, serviceAccount: 'agent', duration: '6s', justification: 'INC-4411: exports for the auditors',
      rules: [{ name: 'exports', to: { hosts: ['export.example.com'] } }], ...extra },
  });
}

beforeAll(async () => {
  for (const crd of ['agentpolicy.yaml', 'clusteragentpolicy.yaml', 'agentaccessrequest.yaml']) await kubectlOk(['apply', '-f', join(ROOT, 'crds', crd)]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io', 'crd/agentaccessrequests.agentwarden.io']);
  await kubectlOk(['create', 'namespace', ns]);
  await kubectlOk(['label', 'namespace', ns, `${SCOPE_LABEL}=${ns}`]);
  await kubectlOk(['create', 'serviceaccount', 'agent', '-n', ns]);
  // What the chart's agentwarden-approver ClusterRole grants, here as a Role; bound to the approver
  // and, to show that the webhook refuses it whatever RBAC says, to the agent's ServiceAccount.
  await kubectlOk(['create', 'role', 'approver', '-n', ns, '--verb=get,list,watch', '--resource=agentaccessrequests.agentwarden.io']);
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'approver-status', namespace: ns }, rules: [{ apiGroups: ['agentwarden.io'], resources: ['agentaccessrequests/status'], verbs: ['get', 'update', 'patch'] }] }));
  for (const role of ['approver', 'approver-status']) {
    await kubectlOk(['create', 'rolebinding', `${role}-user`, '-n', ns, `--role=${role}`, `--user=${APPROVER}`]);
    await kubectlOk(['create', 'rolebinding', `${role}-agent`, '-n', ns, `--role=${role}`, `--serviceaccount=${ns}:agent`]);
  }
  // The Slack-style receiver and the Secret that names it.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => { posts.push(JSON.parse(body)); res.end('ok'); });
  });
  await new Promise<void>((r) => { receiver?.listen(0, '127.0.0.1', () => { r(); }); });
  const address = receiver.address();
  await kubectlOk(['create', 'secret', 'generic', 'approvals-hook', '-n', ns, `--from-literal=url=http://127.0.0.1:${address !== null && typeof address === 'object' ? address.port : 0}/hook`]);
  await kubectlOk(['apply', '-f', '-'], policy);
  const uid = await createPod(ns, POD, 'agent', { app: 'agent' });

  distributionPort = await freePort();
  const webhookPort = await freePort();
  controller = await startController(readControllerConfig([
    '--kubeconfig', KUBECONFIG, '--distribution-listen', `127.0.0.1:${distributionPort}`, '--metrics-listen', '127.0.0.1:0', '--namespace', ns, '--identity', 'approvals-0', '--leader-elect', 'false',
    ...approvalWebhookFlags(webhookPort),
    '--max-grant-duration', '1h', '--max-pending-approvals-per-pod', String(MAX_PENDING), '--notify-webhook-secret', `${ns}/approvals-hook`, '--controller-username', ADMIN,
  ], {}), (level, msg, fields) => { logs.push(JSON.stringify({ level, msg, ...fields })); });
  removeWebhooks = await installApprovalWebhooks(CONFIG_NAME, webhookPort, ns, { [SCOPE_LABEL]: ns });
  const { policies, pods, accessRequests } = controller.informers;
  await waitFor('the controller\'s caches to sync and see the pod', () => ([policies, pods, accessRequests].every((i) => i.stats().synced) && pods.get(ns, POD) !== undefined ? true : undefined), 150_000);
  stream = new HeldStream(readFileSync(await boundToken(ns, 'agent', POD, uid), 'utf8'));
  await waitFor('the pod\'s snapshot with the RequireApproval rule', () => (held().latest()?.rules.some((r) => r.name === 'refunds') === true ? true : undefined), 120_000);
}, 240_000);

afterAll(async () => {
  stream?.close();
  await controller?.stop();
  receiver?.close();
  await removeWebhooks?.();
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('an ApprovalNeeded message on the pod\'s stream', () => {
  it('creates exactly one AgentAccessRequest for duplicates, with one Event on the pod and one POST to the webhook receiver', async () => {
    const { name, message } = approvalNeeded(refundOperation(120));
    for (let i = 0; i < 3; i++) held().send(message);
    const created = await waitFor('the request object', () => getRequest(name), 30_000, 100);
    expect(created.spec).toMatchObject({ pod: POD, serviceAccount: 'agent', duration: '15m', origin: { policy: 'support', rule: 'refunds' },
      operation: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 120 } } } });
    await waitFor('the summary', async () => ((await getRequest(name))?.status?.['summary'] === 'POST mcp.support.internal/mcp tools/call issue_refund' ? true : undefined), 30_000, 100);
    await waitFor('all three messages handled', async () => (await metric('agentwarden_approval_needed_total{outcome="duplicate"}') >= 2 ? true : undefined), 30_000, 100);
    await waitFor('the notification', async () => (await metric('agentwarden_approval_notifications_total{outcome="sent"}') >= 1 ? true : undefined), 30_000, 100);
    expect(posts).toEqual([{ text: expect.stringContaining(`agentwarden approve ${ns}/${name}`) as unknown, agentwarden: { request: name, namespace: ns, pod: POD, operation: 'POST mcp.support.internal/mcp tools/call issue_refund', approveCommand: `agentwarden approve ${ns}/${name}` } }]);
    expect(await metric('agentwarden_approval_needed_total{outcome="created"}')).toBe(1);
    const events = await waitFor('the ApprovalRequired Event', async () => {
      const list = JSON.parse(await kubectlOk(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${POD},reason=ApprovalRequired`, '-o', 'json'])) as { items: { message: string }[] };
      return list.items.length > 0 ? list.items : undefined;
    }, 30_000, 100);
    expect(events).toHaveLength(1);
    expect(events[0]?.message).toContain(`agentwarden approve ${ns}/${name}`);
  });

  it('creates nothing for a name that is not its pod\'s and operation\'s, and at most --max-pending-approvals-per-pod under a flood of distinct operations', async () => {
    const forged = approvalNeeded(refundOperation(1));
    if (forged.message.kind.case === 'approvalNeeded') forged.message.kind.value.name = 'someone-else-0123456789ab';
    held().send(forged.message);
    await waitFor('the forged name refused', async () => (await metric('agentwarden_approval_needed_total{outcome="name_mismatch"}') >= 1 ? true : undefined), 30_000, 100);
    expect(await getRequest('someone-else-0123456789ab')).toBeUndefined();

    for (let amount = 1000; amount < 1040; amount++) held().send(approvalNeeded(refundOperation(amount)).message);
    await waitFor('the flood handled', async () => (await metric('agentwarden_approval_needed_total{outcome="over_limit"}') >= 40 - MAX_PENDING + 1 ? true : undefined), 60_000, 100);
    const pending = JSON.parse(await kubectlOk(['get', 'agentaccessrequests', '-n', ns, '-l', `agentwarden.io/pod=${POD}`, '-o', 'json'])) as { items: AccessRequest[] };
    expect(pending.items.filter((r) => (r.status?.['state'] ?? 'Pending') === 'Pending').length).toBe(MAX_PENDING);
    // Room again once requests are decided: deny them all as the approver.
    for (const r of pending.items) if ((r.status?.['state'] ?? 'Pending') === 'Pending') await kubectlOk([`--as=${APPROVER}`, 'patch', 'agentaccessrequest', '-n', ns, r.metadata.name, '--subresource=status', '--type=merge', '-p', '{"status":{"state":"Denied","reason":"flood"}}']);
  });
});

describe('approving a request (the status subresource)', () => {
  it('is refused for the agent\'s own ServiceAccount by the webhook (403), though RBAC lets it update status', async () => {
    const { name, message } = approvalNeeded(refundOperation(120));
    held().send(message);
    // The earlier one of this name was denied: the controller deletes it and creates it anew.
    await waitFor('a pending request', async () => { const o = await getRequest(name); return o !== undefined && (o.status?.['state'] ?? 'Pending') === 'Pending' ? o : undefined; }, 30_000, 100);
    expect((await kubectl([`--as=${AGENT_SA}`, 'auth', 'can-i', 'patch', 'agentaccessrequests.agentwarden.io', '--subresource=status', '-n', ns])).stdout.trim()).toBe('yes');
    const r = await patchStatusAs(AGENT_SA, name, { state: 'Approved' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Error from server (Forbidden)');
    expect(r.stderr).toContain('admission webhook "agentaccessrequests-status.validate.agentwarden.io" denied the request');
    expect(r.stderr).toContain('an agent can never approve its own request');
    expect((await getRequest(name))?.status?.['state']).toBe('Pending');
  });

  it('as an approver stamps approvedBy and expiresAt = now + duration, whatever the client sent, and the grant reaches the pod\'s snapshot; at expiry it leaves the snapshot and the request is Expired', async () => {
    const { name } = approvalNeeded(refundOperation(120));
    const before = Date.now();
    const r = await patchStatusAs(APPROVER, name, { state: 'Approved', duration: '6s', approvedBy: 'mallory', expiresAt: '2099-01-01T00:00:00Z' });
    expect(r.stderr).toBe('');
    const approved = await getRequest(name);
    expect(approved?.status).toMatchObject({ state: 'Approved', approvedBy: APPROVER });
    const expiresAt = Date.parse(String(approved?.status?.['expiresAt']));
    // The server's clock, to the second (RFC 3339 without fractions).
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 6000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 6000);

    const granted = await waitFor('the grant in the pod\'s snapshot', () => held().latest()?.grants.find((g) => g.name === name), 30_000, 50);
    expect(granted).toMatchObject({ namespace: ns, uid: approved?.metadata.uid, kind: GrantKind.APPROVAL, expiresAtMs: BigInt(expiresAt), approvedBy: APPROVER, originRule: 'support/refunds' });
    expect(granted.operation).toMatchObject({ method: 'POST', host: 'mcp.support.internal', mcpTool: 'issue_refund', mcpArguments: '{"amount":120}' });

    await waitFor('the grant to leave the snapshot', () => (held().latest()?.grants.some((g) => g.name === name) === false ? true : undefined), 30_000, 50);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    const ended = await waitFor('the request Expired', async () => { const o = await getRequest(name); return o?.status?.['state'] === 'Expired' ? o : undefined; }, 30_000, 100);
    expect(ended.status?.['conditions']).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Expired', status: 'True' })]));
    // The pod's Events tell the story: approved, then expired.
    for (const reason of ['GrantApproved', 'GrantExpired']) {
      await waitFor(`the ${reason} Event`, async () => {
        const list = JSON.parse(await kubectlOk(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${POD},reason=${reason}`, '-o', 'json'])) as { items: { message: string }[] };
        return list.items.some((e) => e.message.includes(name)) ? true : undefined;
      }, 30_000, 100);
    }
  });

  it('ends an approval grant with uses: 1 when the sidecar reports its use (GrantUsed), recording status.used', async () => {
    await kubectlOk(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name: 'refund-once', namespace: ns },
      spec: { pod: POD, serviceAccount: 'agent', duration: '10m', uses: 1, operation: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 5 } } } },
    }));
    expect((await patchStatusAs(APPROVER, 'refund-once', { state: 'Approved' })).code).toBe(0);
    const grant = await waitFor('the grant in the snapshot', () => held().latest()?.grants.find((g) => g.name === 'refund-once'), 30_000, 50);
    expect(grant.uses).toBe(1);
    held().send(create(SidecarMessageSchema, { kind: { case: 'grantUsed', value: { name: 'refund-once', uid: grant.uid, used: 1 } } }));
    const ended = await waitFor('the request Expired at its uses', async () => { const o = await getRequest('refund-once'); return o?.status?.['state'] === 'Expired' ? o : undefined; }, 30_000, 100);
    expect(ended.status).toMatchObject({ used: 1, approvedBy: APPROVER });
    await waitFor('the grant to leave the snapshot', () => (held().latest()?.grants.some((g) => g.name === 'refund-once') === false ? true : undefined), 30_000, 50);
  });

  it('refuses approving an expired request', async () => {
    const { name } = approvalNeeded(refundOperation(120));
    const r = await patchStatusAs(APPROVER, name, { state: 'Approved' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`AgentAccessRequest ${ns}/${name}: the transition Expired → Approved is not allowed`);
  });

  it('recreates an ended request when the agent asks again', async () => {
    const { name, message } = approvalNeeded(refundOperation(120));
    const old = await getRequest(name);
    held().send(message);
    const fresh = await waitFor('a new request of the same name', async () => { const o = await getRequest(name); return o !== undefined && o.metadata.uid !== old?.metadata.uid ? o : undefined; }, 30_000, 100);
    expect(fresh.status?.['state'] ?? 'Pending').toBe('Pending');
  });
});

describe('a break-glass request', () => {
  it('is refused without justification, over the maximum duration, for an unknown pod, and with rules that do not compile', async () => {
    const noJustification = await kubectl(['create', '-f', '-'], breakGlass('bg-bad-1', { justification: undefined }));
    expect(noJustification.code).not.toBe(0);
    expect(noJustification.stderr).toContain('justification is required for a break-glass request');
    const tooLong = await kubectl(['create', '-f', '-'], breakGlass('bg-bad-2', { duration: '2h' }));
    expect(tooLong.stderr).toContain('spec.duration: 2h is above the maximum grant duration 1h');
    const unknownPod = await kubectl(['create', '-f', '-'], breakGlass('bg-bad-3', { podSelector: undefined, pod: 'no-such-pod' }));
    expect(unknownPod.stderr).toContain(`spec.pod: pod ${ns}/no-such-pod does not exist`);
    const badRule = await kubectl(['create', '-f', '-'], breakGlass('bg-bad-4', { rules: [{ name: 'exports', to: { hosts: ['export.example.com'] }, when: 'request.methd == "GET"' }] }));
    expect(badRule.code).not.toBe(0);
    expect(badRule.stderr).toContain('spec.rules[0].when');
    expect((await kubectl(['get', 'agentaccessrequests', '-n', ns, 'bg-bad-1', 'bg-bad-2', 'bg-bad-3', 'bg-bad-4'])).stdout).toBe('');
  });

  it('is refused by the CRD\'s own rules: both pod and podSelector, neither operation nor rules, a zero duration, a Deny rule, a changed spec', async () => {
    const both = await kubectl(['create', '--dry-run=server', '-f', '-'], breakGlass('bg-cel-1', { pod: POD }));
    expect(both.stderr).toContain('exactly one of spec.pod and spec.podSelector');
    const neither = await kubectl(['create', '--dry-run=server', '-f', '-'], breakGlass('bg-cel-2', { rules: undefined }));
    expect(neither.stderr).toContain('spec.operation is required when spec.rules is empty');
    const zero = await kubectl(['create', '--dry-run=server', '-f', '-'], breakGlass('bg-cel-3', { duration: '0s' }));
    expect(zero.stderr).toContain('duration must be above 0');
    const deny = await kubectl(['create', '--dry-run=server', '-f', '-'], breakGlass('bg-cel-4', { rules: [{ name: 'exports', action: 'Deny', to: { hosts: ['export.example.com'] } }] }));
    expect(deny.stderr).toContain('a break-glass grant only allows');
    await kubectlOk(['create', '-f', '-'], breakGlass('bg-cel-5'));
    const changed = await kubectl(['patch', 'agentaccessrequest', '-n', ns, 'bg-cel-5', '--type=merge', '-p', '{"spec":{"duration":"1h"}}']);
    expect(changed.stderr).toContain('spec is immutable');
  });

  it('once approved overrides the Deny rule in the pod\'s snapshot for its duration, then ends ReviewRequired until reviewed with notes', async () => {
    await kubectlOk(['create', '-f', '-'], breakGlass('bg-exports'));
    expect((await patchStatusAs(APPROVER, 'bg-exports', { state: 'Approved' })).code).toBe(0);
    const grant = await waitFor('the break-glass grant in the snapshot', () => held().latest()?.grants.find((g) => g.name === 'bg-exports'), 30_000, 50);
    expect(grant.kind).toBe(GrantKind.BREAK_GLASS);
    const snapshot = held().latest();
    const holder = snapshot?.policies[grant.policy ?? -1];
    expect(holder?.grant).toBe('bg-exports');
    expect(snapshot?.rules.some((r) => r.name === 'exports' && snapshot.policies[r.policy]?.grant === 'bg-exports')).toBe(true);

    await waitFor('the grant to leave the snapshot', () => (held().latest()?.grants.some((g) => g.name === 'bg-exports') === false ? true : undefined), 30_000, 50);
    await waitFor('ReviewRequired', async () => ((await getRequest('bg-exports'))?.status?.['state'] === 'ReviewRequired' ? true : undefined), 30_000, 100);
    const noNotes = await patchStatusAs(APPROVER, 'bg-exports', { state: 'Reviewed' });
    expect(noNotes.stderr).toContain('status.reviewNotes is required');
    expect((await patchStatusAs(APPROVER, 'bg-exports', { state: 'Reviewed', reviewNotes: 'exports checked with the auditors' })).code).toBe(0);
    expect((await getRequest('bg-exports'))?.status).toMatchObject({ state: 'Reviewed', reviewedBy: APPROVER, approvedBy: APPROVER });
  });

  it('shows AGENT, OPERATION, STATE, EXPIRES, APPROVED-BY and AGE in kubectl get', async () => {
    const out = await kubectlOk(['get', 'agentaccessrequest', '-n', ns, 'bg-exports']);
    expect(out.split('\n')[0]?.split(/\s+/).filter((c) => c !== '')).toEqual(['NAME', 'AGENT', 'OPERATION', 'STATE', 'EXPIRES', 'APPROVED-BY', 'AGE']);
    expect(out).toContain('Reviewed');
    expect(out).toContain('break-glass: rules exports');
  });
});
