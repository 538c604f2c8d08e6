// Approvals and break-glass through the real data plane (issue 15's Must-show,
// and issue 14's "a platform Deny is not overridden by a break-glass grant"):
// the official MCP SDK client in an injected pod (iptables capture), the real
// Envoy and sidecar, the controller with its AgentAccessRequest webhooks on the
// local API server, and the CLI run as a person. A RequireApproval call is
// denied with the request's name, the request object appears, the agent's own
// identity cannot approve it, a person approves with `agentwarden approve`, the
// same call passes and another is still denied; a break-glass grant overrides
// a namespaced Deny (every decision it allows names it) but not the platform's
// ClusterAgentPolicy Deny; with the controller stopped, the sidecar ends both
// grants at expiresAt by its own clock; a restarted controller marks the
// break-glass request ReviewRequired, and `agentwarden review` closes it.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startDnsServer, type RunningDnsServer } from '../dns/dns-server.js';
import { startMcpServer, type RunningMcpServer } from '../upstreams/mcp-server.js';
import { KUBECONFIG, kubectl, kubectlOk, tempFile, uniqueNamespace, waitFor } from '../../test/cluster.js';
import { freePort } from '../../test/controller-env.js';
import { approvalWebhookFlags, installApprovalWebhooks } from '../../test/approval-webhooks.js';
import { forwardTcp } from '../control-plane.js';
import { POD_NAME, startScenario, type Scenario } from '../scenario.js';
import { ROOT } from '../pod.js';
import { curl } from '../agent-commands.js';
import type { McpClientRun } from '../agent/mcp-client.js';
import { AGENT_POLICY_HEAD, credentialSecret } from '../manifests.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../../sidecar/test/otlp-receiver.js';

const TOKEN = 'refunds-token-51c0';
const APPROVER = 'alice@example.com';
const ns = uniqueNamespace('pod-approvals');
const PLATFORM = `platform-${ns}`;
const WEBHOOKS = `agentwarden-e2e-${ns}`;
const MCP_URL = 'http://mcp.example.com/mcp';
const REFUND = { order: 'O-7', amount: 250, currency: 'EUR' };

const manifests = `
${credentialSecret('payments', TOKEN)}${AGENT_POLICY_HEAD}    - name: mcp-session
      to: {hosts: [mcp.example.com]}
      http: {paths: ["/mcp"]}
      mcp: {methods: [initialize, notifications/initialized, tools/list]}
    - name: refunds
      action: RequireApproval
      to: {hosts: [mcp.example.com]}
      http: {paths: ["/mcp"]}
      mcp: {tools: [issue_refund]}
      credential: payments
    - name: no-deletes
      action: Deny
      to: {hosts: [mcp.example.com]}
      mcp: {tools: [delete_customer]}
  credentials:
    - {name: payments, secretRef: {name: payments, key: token}}
`;

// The platform team's guardrail: no agent of this namespace opens tickets.
const platformPolicy = `apiVersion: agentwarden.io/v1alpha1
kind: ClusterAgentPolicy
metadata: {name: ${PLATFORM}}
spec:
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ${ns}}}
  podSelector: {}
  rules:
    - {name: no-ticket-creation, action: Deny, to: {hosts: [mcp.example.com]}, mcp: {tools: [create_ticket]}}
`;

// What the on-call engineer asks for in the incident: deletes and ticket creation.
const breakGlassRules = `- {name: incident-deletes, to: {hosts: [mcp.example.com]}, http: {paths: ["/mcp"]}, mcp: {tools: [delete_customer]}}
- {name: incident-tickets, to: {hosts: [mcp.example.com]}, http: {paths: ["/mcp"]}, mcp: {tools: [create_ticket]}}
`;

let s: Scenario;
let dns: RunningDnsServer;
let mcp: RunningMcpServer;
let otlp: OtlpReceiver;
let webhookPort = 0;
let removeWebhooks: (() => Promise<void>) | undefined;
let approverKubeconfig = '';
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLIENT = join(ROOT, 'dist/e2e/pod/agent/mcp-client.js');
const CLI = join(ROOT, 'bin/agentwarden');

interface Run { readonly code: number; readonly stdout: string; readonly stderr: string }

/** The CLI as the approver (a kubeconfig impersonating alice, who holds the approver role in the namespace). */
function agentwarden(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(CLI, [...args, '--kubeconfig', approverKubeconfig], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function session(calls: readonly { name: string; arguments: Record<string, unknown> }[]): Promise<McpClientRun> {
  const r = await s.pod.agent([NODE, CLIENT, '--url', MCP_URL, '--calls', JSON.stringify(calls)], 60_000);
  return JSON.parse(r.stdout) as McpClientRun;
}

function toolStep(run: McpClientRun, tool: string): McpClientRun['steps'][number] | undefined {
  return run.steps.find((x) => x.step === 'callTool' && x.tool === tool);
}

/**
 * One tools/call as curl sends it through Envoy (no session: the decision is the
 * sidecar's, what the upstream then says does not matter here). Denied when the
 * sidecar answered with its JSON-RPC error.
 */
async function probe(tool: string, args: Record<string, unknown>): Promise<{ denied: boolean; body: string }> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: args } });
  const r = await curl(s.pod, ['-X', 'POST', MCP_URL, '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream', '--data-binary', body]);
  return { denied: r.status === 403 || r.body.includes('"code":-32001'), body: r.body };
}

/** Polls `probe` until its decision is `denied`; the milliseconds from `since` to the first such answer. */
async function untilDecision(tool: string, args: Record<string, unknown>, denied: boolean, since: number): Promise<number> {
  await waitFor(`${tool} to be ${denied ? 'denied' : 'allowed'}`, async () => ((await probe(tool, args)).denied === denied ? true : undefined), 60_000, 20);
  return Date.now() - since;
}

interface AccessRequestObject {
  metadata: { name: string };
  spec: { pod?: string; operation?: { method: string; host: string; path: string; mcp?: { tool: string; arguments: unknown } } };
  status?: { state?: string; approvedBy?: string; expiresAt?: string; reviewedBy?: string };
}

async function accessRequest(name: string): Promise<AccessRequestObject | undefined> {
  const r = await kubectl(['get', 'agentaccessrequest', '-n', ns, name, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as AccessRequestObject) : undefined;
}

function decisionSpans(): ReceivedSpan[] {
  return otlp.spans().filter((x) => x.span.name === 'agentwarden.decision');
}

beforeAll(async () => {
  for (const crd of ['agentaccessrequest.yaml', 'clusteragentpolicy.yaml']) await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', join(ROOT, 'crds', crd)]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentaccessrequests.agentwarden.io', 'crd/clusteragentpolicies.agentwarden.io']);
  await kubectlOk(['apply', '-f', '-'], platformPolicy);
  otlp = await startOtlpReceiver();
  const otlpPort = await freePort();
  webhookPort = await freePort();
  s = await startScenario({
    slot: 25,
    namespace: ns,
    manifests,
    inject: {
      sidecarEnv: [
        { name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', value: `http://10.254.25.1:${otlpPort}/v1/traces` },
        { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'http/json' },
        { name: 'OTEL_BSP_SCHEDULE_DELAY', value: '100' },
      ],
    },
    controller: { extraArgs: [...approvalWebhookFlags(webhookPort), '--controller-username', 'agentwarden-e2e-admin', '--max-grant-duration', '1h'] },
    servers: async (net) => {
      dns = await startDnsServer({ listen: [{ host: net.resolver, port: 53 }], hosts: { 'mcp.example.com': [net.hostIp(12)] } });
      mcp = await startMcpServer({ listen: [{ host: net.hostIp(12), port: 80 }] });
      const receiverPort = Number(new URL(otlp.url).port);
      const forward = await forwardTcp({ host: net.hostIp(1), port: otlpPort }, { host: '127.0.0.1', port: receiverPort });
      const closeForward = (): Promise<void> => new Promise((resolve) => { forward.close(() => { resolve(); }); });
      return [() => dns.close(), () => mcp.close(), closeForward];
    },
  });
  expect(s.network.hostIp(1)).toBe('10.254.25.1');
  removeWebhooks = await installApprovalWebhooks(WEBHOOKS, webhookPort, ns, { 'kubernetes.io/metadata.name': ns });
  // The approver: the chart's agentwarden-approver role (here as Roles of the namespace), plus create for break-glass.
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'approver', namespace: ns },
    rules: [
      { apiGroups: ['agentwarden.io'], resources: ['agentaccessrequests'], verbs: ['get', 'list', 'watch', 'create'] },
      { apiGroups: ['agentwarden.io'], resources: ['agentaccessrequests/status'], verbs: ['get', 'update', 'patch'] },
    ],
  }));
  await kubectlOk(['create', 'rolebinding', 'approver', '-n', ns, '--role=approver', `--user=${APPROVER}`]);
  const config = JSON.parse(await kubectlOk(['--kubeconfig', KUBECONFIG, 'config', 'view', '--raw', '--flatten', '-o', 'json'])) as { users: { user: Record<string, unknown> }[] };
  for (const u of config.users) u.user['as'] = APPROVER;
  approverKubeconfig = tempFile('approver.kubeconfig', JSON.stringify(config));
}, 240_000);

afterAll(async () => {
  await removeWebhooks?.();
  await s?.stop();
  await otlp?.close();
  await kubectl(['delete', 'clusteragentpolicy', PLATFORM, '--ignore-not-found']);
});

describe('a RequireApproval MCP call through the real Envoy', () => {
  let name = '';
  let approvedAt = 0;

  it('is denied as an McpError that names the AgentAccessRequest, which the controller creates with the operation', async () => {
    const run = await session([{ name: 'issue_refund', arguments: REFUND }]);
    const step = toolStep(run, 'issue_refund');
    expect(step).toMatchObject({ ok: false, error: { class: 'McpError' } });
    const error = step !== undefined && !step.ok ? step.error : undefined;
    expect(error?.message).toContain('approval required');
    const data = error?.data as { approvalRequest?: string; namespace?: string; retry?: string } | undefined;
    name = data?.approvalRequest ?? '';
    expect(data).toMatchObject({ namespace: ns, retry: expect.stringContaining(`agentwarden approve ${ns}/${name}`) as unknown });
    expect(name).toMatch(new RegExp(`^${POD_NAME}-[0-9a-f]{12}$`));
    const created = await waitFor('the AgentAccessRequest', () => accessRequest(name), 30_000, 100);
    expect(created.spec).toMatchObject({ pod: POD_NAME, operation: { method: 'POST', host: 'mcp.example.com', path: '/mcp', mcp: { tool: 'issue_refund', arguments: REFUND } } });
    expect(mcp.received.some((r) => r.message?.tool === 'issue_refund')).toBe(false);
  });

  it('cannot be approved by the agent\'s own ServiceAccount', async () => {
    const r = await kubectl([`--as=system:serviceaccount:${ns}:agent`, 'patch', 'agentaccessrequest', '-n', ns, name, '--subresource=status', '--type=merge', '-p', '{"status":{"state":"Approved"}}']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden|denied the request/i);
    expect((await accessRequest(name))?.status?.state ?? 'Pending').toBe('Pending');
  });

  it('is allowed once a person approves it with the CLI, with the rule\'s credential; another refund is still denied', async () => {
    const r = await agentwarden(['approve', `${ns}/${name}`, '--for', '12s', '--reason', 'customer called']);
    expect(r).toMatchObject({ code: 0 });
    approvedAt = Date.now();
    const stamped = await accessRequest(name);
    expect(stamped?.status).toMatchObject({ state: 'Approved', approvedBy: APPROVER });
    const latency = await untilDecision('issue_refund', REFUND, false, approvedAt);
    console.log(`approval to the first allowed call: ${latency} ms`);
    expect(latency).toBeLessThan(10_000); // safety net; the figure is printed above
    const run = await session([{ name: 'issue_refund', arguments: REFUND }, { name: 'issue_refund', arguments: { ...REFUND, amount: 9000 } }]);
    expect(run.steps.filter((x) => x.step === 'callTool').map((x) => x.ok)).toEqual([true, false]);
    const arrived = mcp.received.filter((x) => x.message?.tool === 'issue_refund' && x.sessionId !== null);
    expect(arrived.map((x) => (x.message?.arguments as { amount: number }).amount)).toEqual([250]);
    expect(arrived[0]?.authorization).toBe(`Bearer ${TOKEN}`);
    await waitFor('the span of the allowed refund', () => decisionSpans().find((x) => x.attributes['agentwarden.grant'] === name), 30_000, 100);
    const span = decisionSpans().find((x) => x.attributes['agentwarden.grant'] === name);
    expect(span?.attributes).toMatchObject({ 'agentwarden.decision': 'allow', 'agentwarden.grant.kind': 'approval', 'gen_ai.tool.name': 'issue_refund' });
  });

  describe('break-glass', () => {
    const grantName = `incident-${ns}`.slice(0, 60);
    let grantedAt = 0;

    it('overrides the namespace\'s Deny rule for its duration, and every decision it allows names it', async () => {
      const rules = tempFile('incident-rules.yaml', breakGlassRules);
      const r = await agentwarden(['grant', '--pod', POD_NAME, '-n', ns, '--service-account', 'agent', '--rule-file', rules, '--for', '15s', '--justification', 'INC-2207: duplicate customers', '--name', grantName]);
      expect(r).toMatchObject({ code: 0 });
      grantedAt = Date.now();
      const latency = await untilDecision('delete_customer', { id: 'C-17' }, false, grantedAt);
      console.log(`break-glass grant to the first allowed call: ${latency} ms`);
      const run = await session([{ name: 'delete_customer', arguments: { id: 'C-18' } }]);
      expect(toolStep(run, 'delete_customer')).toMatchObject({ ok: true });
      await waitFor('the break-glass spans', () => (decisionSpans().filter((x) => x.attributes['gen_ai.tool.name'] === 'delete_customer' && x.attributes['agentwarden.decision'] === 'allow').length >= 2 ? true : undefined), 30_000, 100);
      const allowedDeletes = decisionSpans().filter((x) => x.attributes['gen_ai.tool.name'] === 'delete_customer' && x.attributes['agentwarden.decision'] === 'allow');
      for (const span of allowedDeletes) {
        expect(span.attributes).toMatchObject({ 'agentwarden.grant': grantName, 'agentwarden.grant.kind': 'break-glass', 'agentwarden.rule': 'incident-deletes' });
        expect(String(span.attributes['agentwarden.overridden.rule'])).toContain('no-deletes');
        expect(String(span.attributes['gen_ai.tool.call.arguments'])).toMatch(/"id":"C-1[78]"/);
      }
    });

    it('does not override the platform\'s ClusterAgentPolicy Deny', async () => {
      const denied = await probe('create_ticket', { subject: 'dup', body: 'x' });
      expect(denied.denied).toBe(true);
      expect(denied.body).toContain('no-ticket-creation');
      await waitFor('the platform deny span', () => decisionSpans().find((x) => x.attributes['gen_ai.tool.name'] === 'create_ticket'), 30_000, 100);
      const span = decisionSpans().find((x) => x.attributes['gen_ai.tool.name'] === 'create_ticket');
      expect(span?.attributes).toMatchObject({ 'agentwarden.decision': 'deny', 'agentwarden.rule': 'no-ticket-creation', 'agentwarden.policy': PLATFORM });
      expect(span?.attributes['agentwarden.grant']).toBeUndefined();
    });

    it('ends at expiresAt by the sidecar\'s own clock with the controller stopped, for both grants', async () => {
      await s.controller.stop();
      const approval = Date.parse((await accessRequest(name))?.status?.expiresAt ?? '');
      const breakGlass = Date.parse((await accessRequest(grantName))?.status?.expiresAt ?? '');
      expect(Number.isFinite(approval) && Number.isFinite(breakGlass)).toBe(true);
      await untilDecision('issue_refund', REFUND, true, 0);
      const refundLate = Date.now() - approval;
      await untilDecision('delete_customer', { id: 'C-17' }, true, 0);
      const deleteLate = Date.now() - breakGlass;
      console.log(`denied again after expiresAt: approval +${refundLate} ms, break-glass +${deleteLate} ms`);
      // expiresAt is stamped to the second; the sidecar never honours a grant past it.
      expect(refundLate).toBeGreaterThan(-1000);
      expect(deleteLate).toBeGreaterThan(-1000);
      expect(refundLate).toBeLessThan(5_000); // safety net; the figures are printed above
      expect(deleteLate).toBeLessThan(5_000);
    });

    it('leaves the break-glass request ReviewRequired (a restarted controller marks it) until a person reviews it', async () => {
      await s.restartController();
      const ended = await waitFor('ReviewRequired', async () => ((await accessRequest(grantName))?.status?.state === 'ReviewRequired' ? true : undefined), 60_000, 200);
      expect(ended).toBe(true);
      expect((await waitFor('Expired', async () => ((await accessRequest(name))?.status?.state === 'Expired' ? true : undefined), 60_000, 200))).toBe(true);
      const r = await agentwarden(['review', `${ns}/${grantName}`, '--notes', 'deletes matched the incident ticket']);
      expect(r).toMatchObject({ code: 0 });
      expect((await accessRequest(grantName))?.status).toMatchObject({ state: 'Reviewed', reviewedBy: APPROVER });
    });
  });
});
