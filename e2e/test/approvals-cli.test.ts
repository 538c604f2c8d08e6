// agentwarden approve | deny | review | grant | requests against the real API
// server of the local control plane (issue 15): the AgentAccessRequest CRD and
// its status subresource, the CLI run as a user runs it (bin/agentwarden with
// the admin kubeconfig, and with an agent ServiceAccount's token that RBAC
// refuses). No controller here: no webhook stamps who and when
// (approvals-controller.test.ts covers that); what is checked is what the CLI
// writes and how it reports what the server says.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { KUBECONFIG, ROOT, kubectlOk, tempFile, uniqueNamespace } from './cluster.js';

const ns = uniqueNamespace('approvals-cli');
const BIN = join(ROOT, 'bin/agentwarden');

interface Run { readonly code: number | null; readonly stdout: string; readonly stderr: string }

function agentwarden(args: readonly string[], kubeconfig = KUBECONFIG): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, [...args, '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code) => { resolve({ code, stdout, stderr }); });
  });
}

async function status(name: string): Promise<Record<string, unknown>> {
  const o = JSON.parse(await kubectlOk(['get', 'agentaccessrequest', '-n', ns, name, '-o', 'json'])) as { status?: Record<string, unknown> };
  return o.status ?? {};
}

function approvalRequest(name: string): string {
  return JSON.stringify({
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name, namespace: ns },
    spec: {
      pod: 'agent-0', serviceAccount: 'agent', duration: '1h',
      operation: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: '', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 120 } } },
      origin: { policy: 'support', rule: 'refunds', decisionId: 'd1' },
    },
  });
}

beforeAll(async () => {
  await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentaccessrequest.yaml')]);
  await kubectlOk(['wait', '--for=condition=Established', 'crd/agentaccessrequests.agentwarden.io', '--timeout=60s']);
  await kubectlOk(['create', 'namespace', ns]);
  await kubectlOk(['create', 'serviceaccount', 'agent', '-n', ns]);
  for (const name of ['refund-a', 'refund-b']) await kubectlOk(['create', '-f', '-'], approvalRequest(name));
});

describe('agentwarden approve, deny and requests on the real API server', () => {
  it('approves through the status subresource with the duration and reason asked for', async () => {
    const r = await agentwarden(['approve', `${ns}/refund-a`, '--for', '15m', '--reason', 'customer called']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`agentwarden approve: ${ns}/refund-a is Approved (POST mcp.support.internal/mcp tools/call issue_refund)`);
    expect(await status('refund-a')).toMatchObject({ state: 'Approved', duration: '15m', reason: 'customer called' });
  });

  it('lists the requests of the namespace as a table', async () => {
    const r = await agentwarden(['requests', '-n', ns]);
    const rows = r.stdout.trim().split('\n').map((l) => l.split(/\s{3,}/));
    expect(rows[0]).toEqual(['NAMESPACE', 'NAME', 'AGENT', 'OPERATION', 'STATE', 'EXPIRES', 'APPROVED-BY', 'AGE']);
    expect(rows.slice(1).map((row) => [row[1], row[2], row[4]])).toEqual([['refund-a', 'agent-0', 'Approved'], ['refund-b', 'agent-0', 'Pending']]);
  });

  it('revokes an approved request with deny', async () => {
    const r = await agentwarden(['deny', `${ns}/refund-a`, '--reason', 'wrong order']);
    expect(r.code).toBe(0);
    expect(await status('refund-a')).toMatchObject({ state: 'Denied', reason: 'wrong order' });
  });

  it('names a request that does not exist and exits 2', async () => {
    const r = await agentwarden(['approve', `${ns}/no-such-request`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no AgentAccessRequest ${ns}/no-such-request`);
  });

  it('prints the API server\'s refusal of the agent\'s own token and exits 1', async () => {
    const token = (await kubectlOk(['create', 'token', 'agent', '-n', ns, '--duration=10m'])).trim();
    const server = (await kubectlOk(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim();
    const ca = join(ROOT, '.cache/e2e/pki/ca.crt');
    const kubeconfig = tempFile('agent-kubeconfig', [
      'apiVersion: v1', 'kind: Config', 'current-context: agent',
      `clusters: [{name: local, cluster: {server: "${server}", certificate-authority: "${ca}"}}]`,
      `users: [{name: agent, user: {token: "${token}"}}]`,
      `contexts: [{name: agent, context: {cluster: local, user: agent, namespace: ${ns}}}]`, '',
    ].join('\n'));
    const r = await agentwarden(['approve', 'refund-b'], kubeconfig);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`agentwarden approve: refused (HTTP 403): agentaccessrequests.agentwarden.io "refund-b" is forbidden: User "system:serviceaccount:${ns}:agent" cannot get resource "agentaccessrequests"`);
    expect((await status('refund-b'))['state']).toBeUndefined();
  });
});

describe('agentwarden grant and review on the real API server', () => {
  it('creates a break-glass request and approves it, then closes its review', async () => {
    const rules = tempFile('rules.yaml', '- name: exports\n  to: {hosts: [export.example.com]}\n');
    const r = await agentwarden(['grant', '--selector', 'app=agent', '-n', ns, '--service-account', 'agent', '--rule-file', rules, '--for', '1h', '--justification', 'incident 4711', '--name', 'bg-exports']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`agentwarden grant: created AgentAccessRequest ${ns}/bg-exports`);
    expect(await status('bg-exports')).toMatchObject({ state: 'Approved' });
    // What the controller does when the grant ends.
    await kubectlOk(['patch', 'agentaccessrequest', '-n', ns, 'bg-exports', '--subresource=status', '--type=merge', '-p', '{"status":{"state":"ReviewRequired"}}']);
    const review = await agentwarden(['review', `${ns}/bg-exports`, '--notes', 'exports checked with the auditors']);
    expect(review.code).toBe(0);
    expect(await status('bg-exports')).toMatchObject({ state: 'Reviewed', reviewNotes: 'exports checked with the auditors' });
  });
});
