// The agent's MCP client (official SDK) against the MCP server (official SDK) on loopback.
import { runMcpClient } from '../agent/mcp-client.js';
import { startHttpUpstream } from '../upstreams/http-upstream.js';
import { startMcpServer, type RunningMcpServer } from '../upstreams/mcp-server.js';

const LOOPBACK = { host: '127.0.0.1', port: 0 };

describe('mcp-server with mcp-client', () => {
  let server: RunningMcpServer;
  beforeEach(async () => {
    server = await startMcpServer({ listen: [LOOPBACK] });
  });
  afterEach(() => server.close());

  test('records each JSON-RPC message with its HTTP method, Authorization and session id', async () => {
    const run = await runMcpClient({
      url: `http://127.0.0.1:${server.address.port}/mcp`,
      headers: { Authorization: 'Bearer agent-token' },
      calls: [
        { name: 'issue_refund', arguments: { order: 'o-1', amount: 25, currency: 'EUR' } },
        { name: 'search_tickets', arguments: { query: 'late' } },
      ],
    });
    expect(run.steps.map((s) => [s.step, s.ok])).toEqual([
      ['connect', true],
      ['listTools', true],
      ['callTool', true],
      ['callTool', true],
      ['terminateSession', true],
    ]);
    const listed = run.steps[1] as { result: { tools: { name: string }[] } };
    expect(listed.result.tools.map((t) => t.name)).toEqual(['search_tickets', 'create_ticket', 'issue_refund', 'delete_customer', 'web_fetch']);
    expect(run.steps[2]).toMatchObject({ tool: 'issue_refund', result: { content: [{ type: 'text', text: 'issue_refund: done {"order":"o-1","amount":25,"currency":"EUR"}' }] } });

    const sessionId = run.sessionId;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const seen = server.received.map((r) => [r.httpMethod, r.message?.method ?? null, r.sessionId === sessionId ? 'session' : r.sessionId]);
    expect(seen).toContainEqual(['POST', 'initialize', null]);
    expect(seen).toContainEqual(['GET', null, 'session']);
    expect(seen).toContainEqual(['DELETE', null, 'session']);
    const calls = server.received.filter((r) => r.message?.method === 'tools/call');
    expect(calls.map((r) => [r.message?.tool, r.message?.arguments, r.authorization, r.sessionId])).toEqual([
      ['issue_refund', { order: 'o-1', amount: 25, currency: 'EUR' }, 'Bearer agent-token', sessionId],
      ['search_tickets', { query: 'late' }, 'Bearer agent-token', sessionId],
    ]);
  });

  test('answers 404 to a request in an unknown session', async () => {
    const response = await fetch(`http://127.0.0.1:${server.address.port}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'no-such-session' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(response.status).toBe(404);
    expect(server.received[0]).toMatchObject({ httpMethod: 'POST', sessionId: 'no-such-session', message: { id: 1, method: 'tools/list' } });
  });
});

describe('mcp-client', () => {
  test('names a refused HTTP answer StreamableHTTPError with the status as code, and runs no later step', async () => {
    const upstream = await startHttpUpstream({ listen: [LOOPBACK], statusByPrefix: [{ prefix: '/', status: 403 }] });
    try {
      const run = await runMcpClient({ url: `http://127.0.0.1:${upstream.address.port}/mcp`, calls: [{ name: 'search_tickets' }] });
      expect(run.steps).toHaveLength(1);
      expect(run.steps[0]).toMatchObject({ step: 'connect', ok: false, error: { class: 'StreamableHTTPError', code: 403 } });
    } finally {
      await upstream.close();
    }
  });
});
