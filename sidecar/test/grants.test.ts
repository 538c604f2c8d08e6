// Approvals and break-glass through a real sidecar (DESIGN.md "Approvals and
// break-glass"): a sidecar in controller mode, its snapshot compiled by the
// real compiler with AgentAccessRequest grants and pushed over the real
// distribution stream (fake-controller.ts), Checks over gRPC, audit spans
// exported to a real OTLP receiver.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckResponse } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { parse } from 'yaml';
import { approvalRequestName, compileSnapshot, parseAccessRequest, parseAgentPolicy } from '../../policy/src/index.js';
import { FakeController } from './fake-controller.js';
import { agentPolicy, denied, eventually, NAMESPACE, POD_NAME, SERVICE_ACCOUNT, startTestSidecar, stopSidecars, type TestSidecar } from './helpers.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const MCP = 'https://mcp.support.internal/mcp';
const POD = { namespace: NAMESPACE, name: POD_NAME, serviceAccount: SERVICE_ACCOUNT, labels: { app: 'support-agent', team: 'care' } };

const SUPPORT = agentPolicy('support', `
  podSelector: {matchLabels: {app: support-agent}}
  rules:
    - name: refunds
      action: RequireApproval
      to: {hosts: [mcp.support.internal]}
      mcp: {tools: [issue_refund]}
    - name: mcp-no-deletes
      action: Deny
      to: {hosts: [mcp.support.internal]}
      mcp: {tools: [delete_customer]}
`);

const APPROVED = { state: 'Approved', approvedBy: 'alice', approvedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString() };

const BREAK_GLASS = {
  apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest',
  metadata: { name: 'incident-4711', namespace: NAMESPACE, uid: 'uid-incident-4711' },
  spec: {
    pod: POD_NAME, serviceAccount: SERVICE_ACCOUNT, duration: '1h', justification: 'spam accounts flood the queue',
    rules: [{ name: 'delete-spam', to: { hosts: ['mcp.support.internal'] }, mcp: { tools: ['delete_customer'] } }],
  },
  status: APPROVED,
};

const REFUND_ARGS = { order: 'o-1', amount: 120 };
const REFUND_OP = { method: 'POST', host: 'mcp.support.internal', port: 443, path: '/mcp', query: '', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: REFUND_ARGS } };
const REFUND_NAME = approvalRequestName(POD_NAME, 'support', 'refunds', REFUND_OP);

const ONE_REFUND = {
  apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest',
  metadata: { name: REFUND_NAME, namespace: NAMESPACE, uid: 'uid-refund' },
  spec: { pod: POD_NAME, serviceAccount: SERVICE_ACCOUNT, duration: '15m', uses: 1, operation: REFUND_OP, origin: { policy: 'support', rule: 'refunds', decisionId: 'd-0' } },
  status: APPROVED,
};

let controller: FakeController;
let receiver: OtlpReceiver;
let sidecar: TestSidecar;
let tokenDir = '';

beforeAll(async () => {
  const policy = parseAgentPolicy(parse(SUPPORT), `${NAMESPACE}/support`, NAMESPACE);
  const grants = [parseAccessRequest(BREAK_GLASS, 'break-glass'), parseAccessRequest(ONE_REFUND, 'one-refund')];
  controller = await FakeController.start(compileSnapshot([policy], POD, { grants }));
  receiver = await startOtlpReceiver({ protocol: 'http/json' });
  tokenDir = mkdtempSync(join(tmpdir(), 'agentwarden-grants-'));
  const tokenFile = join(tokenDir, 'token');
  writeFileSync(tokenFile, 'header.payload.signature');
  sidecar = await startTestSidecar({
    policies: {},
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50' },
    exporterEnv: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url },
    config: { controller: controller.address, tokenFile, podFile: undefined, policyPaths: [], namespace: NAMESPACE, podName: POD_NAME },
  });
  await eventually('the snapshot from the controller', () => sidecar.running.state.snapshot);
}, 30_000);

afterAll(async () => {
  await stopSidecars();
  controller.stop();
  await receiver.close();
  rmSync(tokenDir, { recursive: true, force: true });
});

/** The decision id an allow gives the agent (x-agentwarden-decision-id). */
function decisionIdOf(response: CheckResponse): string {
  if (response.httpResponse.case !== 'okResponse') throw new Error(`expected an allow: ${response.status?.message ?? ''}`);
  return response.httpResponse.value.responseHeadersToAdd.find((h) => h.header?.key === 'x-agentwarden-decision-id')?.header?.value ?? '';
}

async function spanOf(decisionId: string): Promise<ReceivedSpan> {
  await sidecar.running.tracer.forceFlush();
  return eventually(`the span of decision ${decisionId}`, () => receiver.spans().find((s) => s.span.traceId === decisionId));
}

describe('a RequireApproval rule', () => {
  it('denies the call with the request to approve, tells the controller, and names the request in the span', async () => {
    const args = { order: 'o-2', amount: 900 };
    const d = denied(await sidecar.checkShort({ url: MCP, mcp: { tool: 'issue_refund', arguments: args, id: 9 } }));
    const name = approvalRequestName(POD_NAME, 'support', 'refunds', { ...REFUND_OP, mcp: { ...REFUND_OP.mcp, arguments: args } });
    const error = (d.body['error'] ?? {}) as { code?: number; data?: Record<string, unknown> };
    expect(error.code).toBe(-32001);
    expect(error.data).toMatchObject({ error: 'approval required', approvalRequest: name, namespace: NAMESPACE, retry: `a human approves with: agentwarden approve ${NAMESPACE}/${name}; then send the same request again` });
    await controller.until('approvalNeeded', 1);
    const m = controller.of('approvalNeeded').find((x) => x.kind.case === 'approvalNeeded' && x.kind.value.name === name);
    expect(m?.kind.value).toMatchObject({ policy: 'support', rule: 'refunds', operation: { mcpTool: 'issue_refund', mcpArguments: '{"amount":900,"order":"o-2"}' } });
    const span = await spanOf(String(error.data?.['decisionId']));
    expect(span.attributes).toMatchObject({ 'agentwarden.decision': 'deny', 'agentwarden.rule': 'refunds', 'agentwarden.approval.request': name });
  });
});

describe('an approval grant with uses: 1', () => {
  it('allows exactly the approved operation once, reports the use, and names the grant in the span', async () => {
    const allowed = await sidecar.checkShort({ url: MCP, mcp: { tool: 'issue_refund', arguments: REFUND_ARGS } });
    const decisionId = decisionIdOf(allowed);
    await controller.until('grantUsed', 1);
    expect(controller.of('grantUsed')[0]?.kind.value).toMatchObject({ name: REFUND_NAME, uid: 'uid-refund', used: 1 });
    const span = await spanOf(decisionId);
    expect(span.attributes).toMatchObject({ 'agentwarden.decision': 'allow', 'agentwarden.grant': REFUND_NAME, 'agentwarden.grant.kind': 'approval' });
    const again = denied(await sidecar.checkShort({ url: MCP, mcp: { tool: 'issue_refund', arguments: REFUND_ARGS } }));
    expect((again.body['error'] as { data?: Record<string, unknown> }).data?.['approvalRequest']).toBe(REFUND_NAME);
  });
});

describe('a break-glass grant', () => {
  it('overrides the Deny rule and records the decision in full, the secret-looking arguments redacted', async () => {
    const allowed = await sidecar.checkShort({ url: `${MCP}?dry_run=false&page=2`, mcp: { tool: 'delete_customer', arguments: { customer: 'c-17', apiToken: 's3cr3t' } } });
    const decisionId = decisionIdOf(allowed);
    const span = await spanOf(decisionId);
    expect(span.attributes).toMatchObject({
      'agentwarden.decision': 'allow', 'agentwarden.grant': 'incident-4711', 'agentwarden.grant.kind': 'break-glass',
      'agentwarden.overridden.rule': 'support/mcp-no-deletes',
      'gen_ai.tool.call.arguments': '{"apiToken":"[redacted]","customer":"c-17"}',
    });
    expect(JSON.parse(String(span.attributes['agentwarden.detail.query_keys']))).toEqual({ arrayValue: { values: [{ stringValue: 'dry_run' }, { stringValue: 'page' }] } });
    expect(receiver.payloads.some((p) => p.includes('s3cr3t'))).toBe(false);
  });
});

describe('/metrics', () => {
  it('counts ApprovalNeeded sent and dropped, and grant uses', async () => {
    const text = (await sidecar.admin('/metrics')).text;
    expect(text).toMatch(/^agentwarden_approval_needed_sent_total [1-9]/m);
    expect(text).toContain('agentwarden_approval_needed_dropped_total{reason="stream-down"} 0');
    expect(text).toContain('agentwarden_approval_needed_dropped_total{reason="rate-limit"} 0');
    expect(text).toMatch(/^agentwarden_grant_uses_total 1$/m);
    expect(text).toMatch(/^agentwarden_grant_used_sent_total 1$/m);
    expect(text).toMatch(/^agentwarden_grant_used_dropped_total 0$/m);
  });
});
