// Real MCP clients through the real Envoy (iptables capture): the official SDK
// client over Streamable HTTP against a server built with the official SDK.
// A whole session works with the rules a user would write (the session rule
// allows initialize, so its GET stream and DELETE need no rule of their own);
// the credential reaches only the call whose rule carries it; a denied
// tools/call reaches the agent's framework as an McpError with the reason,
// not as a transport failure.
import { join } from 'node:path';
import { startDnsServer, type RunningDnsServer } from '../dns/dns-server.js';
import { startMcpServer, type RunningMcpServer } from '../upstreams/mcp-server.js';
import { uniqueNamespace } from '../../test/cluster.js';
import { startScenario, type Scenario } from '../scenario.js';
import { ROOT } from '../pod.js';
import type { McpClientRun } from '../agent/mcp-client.js';
import { AGENT_POLICY_HEAD, credentialSecret } from '../manifests.js';

const TOKEN = 'mcp-sdk-token-8e21';

const manifests = `
${credentialSecret('helpdesk', TOKEN)}${AGENT_POLICY_HEAD}    - name: mcp-session
      to: {hosts: [mcp.example.com]}
      http: {paths: ["/mcp"]}
      mcp: {methods: [initialize, notifications/initialized, tools/list]}
    - name: search
      to: {hosts: [mcp.example.com]}
      http: {paths: ["/mcp"]}
      mcp: {tools: [search_tickets]}
      credential: helpdesk
    - name: no-deletes
      action: Deny
      to: {hosts: [mcp.example.com]}
      mcp: {tools: [delete_customer]}
  credentials:
    - {name: helpdesk, secretRef: {name: helpdesk, key: token}}
`;

let s: Scenario;
let dns: RunningDnsServer;
let mcp: RunningMcpServer;
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLIENT = join(ROOT, 'dist/e2e/pod/agent/mcp-client.js');

beforeAll(async () => {
  s = await startScenario({
    slot: 24,
    namespace: uniqueNamespace('pod-mcp'),
    manifests,
    servers: async (net) => {
      dns = await startDnsServer({ listen: [{ host: net.resolver, port: 53 }], hosts: { 'mcp.example.com': [net.hostIp(12)] } });
      mcp = await startMcpServer({ listen: [{ host: net.hostIp(12), port: 80 }] });
      return [() => dns.close(), () => mcp.close()];
    },
  });
}, 180_000);

afterAll(async () => {
  await s?.stop();
});

async function session(calls: readonly { name: string; arguments: Record<string, unknown> }[]): Promise<McpClientRun> {
  const r = await s.pod.agent([NODE, CLIENT, '--url', 'http://mcp.example.com/mcp', '--calls', JSON.stringify(calls)], 60_000);
  return JSON.parse(r.stdout) as McpClientRun;
}

describe('the official MCP SDK client through the real Envoy', () => {
  let run: McpClientRun;

  beforeAll(async () => {
    run = await session([
      { name: 'search_tickets', arguments: { query: 'printer' } },
      { name: 'delete_customer', arguments: { id: 'C-17' } },
      { name: 'issue_refund', arguments: { order: 'O-1', amount: 500, currency: 'EUR' } },
    ]);
  });

  it('initializes and lists tools under the session rule', () => {
    expect(run.steps.find((x) => x.step === 'connect')).toMatchObject({ ok: true });
    expect(run.steps.find((x) => x.step === 'listTools')).toMatchObject({ ok: true });
    expect(run.sessionId).not.toBeNull();
  });

  it('makes an allowed tools/call, and only that call carries the credential', async () => {
    expect(run.steps.find((x) => x.tool === 'search_tickets')).toMatchObject({ ok: true });
    const call = await mcp.recorder.waitFor((e) => e.message?.tool === 'search_tickets', 10_000);
    expect(call.authorization).toBe(`Bearer ${TOKEN}`);
    const others = mcp.received.filter((e) => e.message?.tool !== 'search_tickets');
    expect(others.length).toBeGreaterThan(0);
    for (const e of others) expect(e.authorization).toBeNull();
  });

  it.each([['delete_customer', 'denied by rule "no-deletes"'], ['issue_refund', 'no rule allows POST mcp.example.com/mcp (MCP tools/call issue_refund)']])('surfaces a denied tools/call (%s) as an McpError with the reason, not a transport failure', (tool, reason) => {
    const step = run.steps.find((x) => x.tool === tool);
    expect(step).toMatchObject({ ok: false, error: { class: 'McpError' } });
    const message = step !== undefined && !step.ok ? step.error.message : '';
    expect(message).toContain('denied by agentwarden');
    expect(message).toContain(reason);
    expect(mcp.received.filter((e) => e.message?.tool === tool)).toEqual([]);
  });

  it('ends the session with DELETE under the session rule, and the server sees it', async () => {
    expect(run.steps.find((x) => x.step === 'terminateSession')).toMatchObject({ ok: true });
    await mcp.recorder.waitFor((e) => e.httpMethod === 'DELETE' && e.sessionId === run.sessionId, 10_000);
  });
});
