// agentwarden approve | deny | review | grant | requests, run in-process
// through accessCommand with a real kubeconfig and @kubernetes/client-node
// against a local server speaking the Kubernetes API's shape
// (fake-kube-api.ts), whose status hook plays the webhooks: it refuses the
// agent's own ServiceAccount and stamps who and when.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accessCommand, type AccessCommand } from '../src/access/main.js';
import { FakeKubeApi } from './fake-kube-api.js';

const BIN = fileURLToPath(new URL('../../../bin/agentwarden', import.meta.url));
const NOW = Date.parse('2026-12-05T12:00:00Z');

let api: FakeKubeApi;
let dir = '';
let kubeconfig = '';

beforeAll(async () => {
  api = await FakeKubeApi.start();
  dir = mkdtempSync(join(tmpdir(), 'agentwarden-access-'));
  kubeconfig = api.writeKubeconfig(dir);
  api.statusHook = (user, old, next) => {
    const s = next.status ?? {};
    if (user.startsWith('system:serviceaccount:support:')) return `${user} may not decide AgentAccessRequest support/${String(old.metadata['name'])}: a ServiceAccount of the request's namespace`;
    if (s['state'] === 'Approved') {
      const minutes = s['duration'] === '15m' ? 15 : 60;
      Object.assign(s, { approvedBy: user, approvedAt: '2026-12-05T12:00:00Z', expiresAt: new Date(Date.parse('2026-12-05T12:00:00Z') + minutes * 60_000).toISOString().replace('.000', '') });
    }
    if (s['state'] === 'Denied') s['deniedBy'] = user;
    if (s['state'] === 'Reviewed') s['reviewedBy'] = user;
    return undefined;
  };
});

afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

const REFUND_OPERATION = { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: '', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 120 } } };

function request(name: string, namespace: string, state: string | undefined, extra: Record<string, unknown> = {}): Parameters<FakeKubeApi['put']>[0] {
  return {
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest',
    metadata: { name, namespace, creationTimestamp: '2026-12-05T11:55:00Z' },
    spec: { pod: 'support-agent-7d9f8', serviceAccount: 'support-agent', operation: REFUND_OPERATION, duration: '1h', origin: { policy: 'support', rule: 'refunds', decisionId: 'd1' } },
    status: { ...(state === undefined ? {} : { state }), summary: 'POST mcp.support.internal/mcp tools/call issue_refund', ...extra },
  };
}

beforeEach(() => {
  api.objects.clear();
  api.requests.length = 0;
  api.put(request('refund-pending', 'support', undefined));
  api.put(request('refund-approved', 'support', 'Approved', { approvedBy: 'bob', expiresAt: '2026-12-05T12:14:00Z' }));
  api.put(request('refund-expired', 'support', 'Expired'));
  api.put(request('refund-other', 'billing', 'Pending'));
  api.put({
    ...request('break-glass-support-agent-a1b2c3', 'support', 'ReviewRequired'),
    spec: { podSelector: { matchLabels: { app: 'support-agent' } }, serviceAccount: 'support-agent', rules: [{ name: 'delete-spam', to: { hosts: ['mcp.support.internal'] } }], duration: '1h', justification: 'incident 4711' },
    status: { state: 'ReviewRequired', approvedBy: 'carol' },
  });
});

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function run(command: AccessCommand, ...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await accessCommand(command, [...argv, '--kubeconfig', kubeconfig], { out: (s) => out.push(s), err: (s) => err.push(s), nowMs: NOW });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const patches = (): typeof api.requests => api.requests.filter((r) => r.method === 'PATCH');

describe('agentwarden approve', () => {
  it('writes state, duration and reason as a merge patch of the status subresource, guarded by resourceVersion, and prints who approved until when', async () => {
    const rv = api.objects.get('support/refund-pending')?.metadata['resourceVersion'];
    const r = await run('approve', 'support/refund-pending', '--for', '15m', '--reason', 'customer called');
    expect(r).toEqual({ code: 0, err: '', out: 'agentwarden approve: support/refund-pending is Approved (POST mcp.support.internal/mcp tools/call issue_refund) by alice until 2026-12-05T12:15:00Z' });
    expect(patches()).toEqual([expect.objectContaining({
      path: '/apis/agentwarden.io/v1alpha1/namespaces/support/agentaccessrequests/refund-pending/status',
      contentType: 'application/merge-patch+json',
      authorization: 'Bearer alice-token',
      body: { metadata: { resourceVersion: rv }, status: { state: 'Approved', duration: '15m', reason: 'customer called' } },
    })]);
  });

  it('takes a bare name in the context\'s namespace, or in -n\'s', async () => {
    expect((await run('approve', 'refund-pending')).code).toBe(0);
    expect((await run('approve', 'refund-other', '-n', 'billing')).code).toBe(0);
    expect(patches().map((p) => p.path)).toEqual([
      '/apis/agentwarden.io/v1alpha1/namespaces/support/agentaccessrequests/refund-pending/status',
      '/apis/agentwarden.io/v1alpha1/namespaces/billing/agentaccessrequests/refund-other/status',
    ]);
  });

  it('names an unknown request and exits 2', async () => {
    const r = await run('approve', 'support/no-such-request');
    expect(r.code).toBe(2);
    expect(r.err).toContain('no AgentAccessRequest support/no-such-request');
    expect(patches()).toEqual([]);
  });

  it('prints the webhook\'s refusal of the agent\'s own ServiceAccount and exits 1', async () => {
    const r = await run('approve', 'support/refund-pending', '--context', 'agent');
    expect(r.code).toBe(1);
    expect(r.err).toBe('agentwarden approve: refused (HTTP 403): admission webhook "status.agentaccessrequests.agentwarden.io" denied the request: system:serviceaccount:support:support-agent may not decide AgentAccessRequest support/refund-pending: a ServiceAccount of the request\'s namespace');
    expect(api.objects.get('support/refund-pending')?.status?.['state']).toBeUndefined();
  });

  it('refuses an expired request before writing, naming it and the transition', async () => {
    const r = await run('approve', 'support/refund-expired');
    expect(r.code).toBe(2);
    expect(r.err).toContain('AgentAccessRequest support/refund-expired is Expired: approve moves it from Pending to Approved only');
    expect(patches()).toEqual([]);
  });

  it.each([['0s'], ['soon'], ['-5m']])('refuses --for %s, which is no duration greater than zero', async (d) => {
    const r = await run('approve', 'support/refund-pending', `--for=${d}`);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--for: "${d}" is not a duration greater than zero`);
  });

  it('refuses an unknown context, naming those the kubeconfig has', async () => {
    const r = await run('approve', 'support/refund-pending', '--context', 'prod');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--context: no context "prod" in the kubeconfig (it has: alice, agent)');
  });
});

describe('agentwarden deny', () => {
  it('revokes an approved grant with a reason and prints who denied it', async () => {
    const r = await run('deny', 'support/refund-approved', '--reason', 'wrong customer');
    expect(r).toMatchObject({ code: 0, out: 'agentwarden deny: support/refund-approved is Denied (POST mcp.support.internal/mcp tools/call issue_refund) by alice' });
    expect(patches()[0]?.body).toMatchObject({ status: { state: 'Denied', reason: 'wrong customer' } });
  });

  it('does not take --for: an unknown option, as its --help lists none', async () => {
    const r = await run('deny', 'support/refund-pending', '--for', '1h');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^agentwarden deny: Unknown option '--for'.*\(agentwarden deny --help lists the flags\)$/);
  });
});

describe('agentwarden review', () => {
  it('closes the review of an ended break-glass grant with the notes', async () => {
    const r = await run('review', 'support/break-glass-support-agent-a1b2c3', '--notes', 'deleted 14 spam accounts; rule fixed in PR 231');
    expect(r).toMatchObject({ code: 0, out: 'agentwarden review: support/break-glass-support-agent-a1b2c3 is Reviewed (break-glass: rules delete-spam) by alice' });
    expect(patches()[0]?.body).toMatchObject({ status: { state: 'Reviewed', reviewNotes: 'deleted 14 spam accounts; rule fixed in PR 231' } });
  });

  it('requires --notes', async () => {
    expect(await run('review', 'support/break-glass-support-agent-a1b2c3')).toMatchObject({ code: 2, err: 'agentwarden review: --notes is required' });
  });

  it('refuses a request that is not awaiting review', async () => {
    const r = await run('review', 'support/refund-approved', '--notes', 'x');
    expect(r.code).toBe(2);
    expect(r.err).toContain('is Approved: review moves it from ReviewRequired to Reviewed only');
  });
});

describe('agentwarden grant', () => {
  const rules = (text: string): string => {
    const file = join(dir, `rules-${Math.random().toString(16).slice(2)}.yaml`);
    writeFileSync(file, text);
    return file;
  };
  const RULES = 'rules:\n  - name: delete-spam\n    to: {hosts: [mcp.support.internal]}\n    mcp: {tools: [delete_customer]}\n';

  it('creates the break-glass AgentAccessRequest, then approves it through the status subresource', async () => {
    const r = await run('grant', '--pod', 'support-agent-7d9f8', '-n', 'support', '--service-account', 'support-agent', '--rule-file', rules(RULES), '--for', '1h', '--justification', 'incident 4711: spam flood', '--name', 'bg-4711');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe([
      'agentwarden grant: created AgentAccessRequest support/bg-4711',
      'agentwarden grant: support/bg-4711 is Approved (break-glass: rules delete-spam) by alice until 2026-12-05T13:00:00Z',
      'when it ends it needs a review: agentwarden review support/bg-4711 --notes "…"',
    ].join('\n'));
    const [create, approve] = api.requests.filter((q) => q.method !== 'GET');
    expect(create).toMatchObject({
      method: 'POST', path: '/apis/agentwarden.io/v1alpha1/namespaces/support/agentaccessrequests',
      body: {
        apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name: 'bg-4711', namespace: 'support' },
        spec: { pod: 'support-agent-7d9f8', serviceAccount: 'support-agent', duration: '1h', justification: 'incident 4711: spam flood', rules: [{ name: 'delete-spam', to: { hosts: ['mcp.support.internal'] }, mcp: { tools: ['delete_customer'] } }] },
      },
    });
    expect(approve).toMatchObject({ method: 'PATCH', contentType: 'application/merge-patch+json', body: { status: { state: 'Approved' } } });
  });

  it('grants a workload by --selector, with a generated name', async () => {
    const r = await run('grant', '--selector', 'app=support-agent,team=care', '--service-account', 'support-agent', '--rule-file', rules(RULES), '--for', '30m', '--justification', 'incident');
    expect(r.code).toBe(0);
    const created = api.requests.find((q) => q.method === 'POST')?.body as { metadata: { name: string }; spec: Record<string, unknown> };
    expect(created.metadata.name).toMatch(/^break-glass-support-agent-[0-9a-f]{6}$/);
    expect(created.spec['podSelector']).toEqual({ matchLabels: { app: 'support-agent', team: 'care' } });
  });

  it.each([
    [['--service-account', 'sa', '--for', '1h', '--justification', 'j'], 'give exactly one of --pod <name> and --selector'],
    [['--pod', 'p', '--selector', 'a=b', '--service-account', 'sa', '--for', '1h', '--justification', 'j'], 'give exactly one of --pod <name> and --selector'],
    [['--pod', 'p', '--for', '1h', '--justification', 'j'], '--service-account is required'],
    [['--pod', 'p', '--service-account', 'sa', '--justification', 'j'], '--for is required'],
    [['--pod', 'p', '--service-account', 'sa', '--for', '1h'], '--justification is required'],
  ])('refuses %j before creating anything', async (argv, message) => {
    const r = await run('grant', ...argv, '--rule-file', rules(RULES));
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(api.requests.filter((q) => q.method === 'POST')).toEqual([]);
  });

  it('refuses a rule file with a Deny rule, naming the file and the field', async () => {
    const file = rules('- name: nope\n  action: Deny\n  to: {hosts: [x.example]}\n');
    const r = await run('grant', '--pod', 'p', '--service-account', 'sa', '--rule-file', file, '--for', '1h', '--justification', 'j');
    expect(r.code).toBe(2);
    expect(r.err).toContain(file);
    expect(r.err).toContain('spec.rules[0].action');
    expect(api.requests.filter((q) => q.method === 'POST')).toEqual([]);
  });

  it('says the request was created when the approval is refused, and how to approve it', async () => {
    const r = await run('grant', '--pod', 'p', '--service-account', 'sa', '--rule-file', rules(RULES), '--for', '1h', '--justification', 'j', '--name', 'bg-agent', '--context', 'agent', '-n', 'support');
    expect(r.code).toBe(1);
    expect(r.out).toBe('agentwarden grant: created AgentAccessRequest support/bg-agent');
    expect(r.err).toContain('created support/bg-agent but could not approve it: admission webhook');
    expect(r.err).toContain('agentwarden approve support/bg-agent');
  });
});

describe('agentwarden requests', () => {
  it('lists the pending, active and awaiting-review requests of the context\'s namespace as a table', async () => {
    const r = await run('requests');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').map((l) => l.split(/\s{3,}/))).toEqual([
      ['NAMESPACE', 'NAME', 'AGENT', 'OPERATION', 'STATE', 'EXPIRES', 'APPROVED-BY', 'AGE'],
      ['support', 'break-glass-support-agent-a1b2c3', 'app=support-agent', 'break-glass: rules delete-spam', 'ReviewRequired', '<none>', 'carol', '5m'],
      ['support', 'refund-approved', 'support-agent-7d9f8', 'POST mcp.support.internal/mcp tools/call issue_refund', 'Approved', 'in 14m', 'bob', '5m'],
      ['support', 'refund-pending', 'support-agent-7d9f8', 'POST mcp.support.internal/mcp tools/call issue_refund', 'Pending', '<none>', '<none>', '5m'],
    ]);
  });

  it('lists every namespace with -A and the states asked for with --state', async () => {
    const r = await run('requests', '-A', '--state', 'pending,expired');
    expect(r.out.split('\n').slice(1).map((l) => l.split(/\s{3,}/).slice(0, 2))).toEqual([['billing', 'refund-other'], ['support', 'refund-expired'], ['support', 'refund-pending']]);
  });

  it('says so when there is nothing to list', async () => {
    expect((await run('requests', '-n', 'empty')).out).toBe('No AgentAccessRequests Pending, Approved, ReviewRequired in namespace empty.');
  });

  it('refuses an unknown state, listing the states', async () => {
    expect(await run('requests', '--state', 'granted')).toMatchObject({ code: 2, err: 'agentwarden requests: --state: "granted" is not one of Pending, Approved, Denied, Expired, ReviewRequired, Reviewed or all' });
  });
});

/** bin/agentwarden as a user runs it; asynchronous, so that the API server in this process answers. */
function agentwarden(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, [...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (status) => { resolve({ status, stdout, stderr }); });
  });
}

describe('bin/agentwarden', () => {
  it('finds the kubeconfig through KUBECONFIG, as kubectl does', async () => {
    const r = await agentwarden(['requests', '--state', 'all', '-n', 'billing'], { ...process.env, KUBECONFIG: kubeconfig });
    expect({ code: r.status, err: r.stderr }).toEqual({ code: 0, err: '' });
    expect(r.stdout).toContain('refund-other');
  });

  it('says the API server cannot be reached and exits 1', async () => {
    // A port that was just free: nothing listens there.
    const gone = await FakeKubeApi.start();
    const server = gone.url;
    await gone.close();
    const file = join(dir, 'unreachable');
    writeFileSync(file, `apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: x, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: x, user: u}}]\n`);
    const r = await agentwarden(['approve', 'support/x', '--kubeconfig', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`agentwarden approve: cannot reach the API server ${server}: `);
    expect(r.stderr).toContain('ECONNREFUSED');
  });
});
