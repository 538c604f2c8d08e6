// An MCP server made with the official SDK (McpServer + StreamableHTTPServerTransport, stateful:
// one session per initialize, mcp-session-id, the GET SSE stream, DELETE to end a session) with
// four ticketing tools. Before the SDK sees a request, every JSON-RPC message in it is recorded
// with the HTTP method, the Authorization header and the session id that came with it; a GET or
// DELETE is recorded as one entry without a message.
//
//   node dist/e2e/pod/upstreams/mcp-server.js --listen 10.0.0.3:8080 [--listen ...]
//
// stdout: {"ready":true,"kind":"mcp","listen":[...],"path":"/mcp"}, then one McpReceived per line.
// The endpoint is any path: Envoy's decision, not this server, is what a test checks.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { closeOnSignal, listenFlags, printLine, runMain } from './cli.js';
import { headerValue } from './http-recording.js';
import { formatAddress, listenAll, type ListenAddress } from './listen.js';
import { Recorder } from './recorder.js';
import { runningServer, type RunningServer } from './running.js';

/** The largest POST body read; a larger one is answered 413 and recorded as such. */
export const MAX_MCP_BODY = 4 * 1024 * 1024;

export interface McpReceived {
  readonly seq: number;
  readonly time: string;
  readonly httpMethod: string;
  readonly target: string;
  readonly host: string | null;
  readonly authorization: string | null;
  /** The mcp-session-id header of the request (null on initialize). */
  readonly sessionId: string | null;
  /** The JSON-RPC message; null for GET/DELETE, and for a body that is not JSON (error says why). */
  readonly message: {
    readonly id: string | number | null;
    readonly method: string | null;
    readonly tool: string | null;
    readonly arguments: unknown;
  } | null;
  readonly error: string | null;
}

export interface McpServerOptions {
  readonly listen: readonly ListenAddress[];
  readonly onReceived?: (received: McpReceived) => void;
}

export type RunningMcpServer = RunningServer<McpReceived>;

export async function startMcpServer(options: McpServerOptions): Promise<RunningMcpServer> {
  const recorder = new Recorder<McpReceived>(options.onReceived);
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let seq = 0;
  const record = (req: IncomingMessage, message: McpReceived['message'], error: string | null): void => {
    recorder.add({
      seq: ++seq,
      time: new Date().toISOString(),
      httpMethod: req.method ?? '',
      target: req.url ?? '',
      host: req.headers.host ?? null,
      authorization: req.headers.authorization ?? null,
      sessionId: headerValue(req.headers['mcp-session-id']),
      message,
      error,
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readBody(req);
      if (read === 'too-large') {
        record(req, null, `body over ${MAX_MCP_BODY} bytes`);
        return jsonRpcError(res, 413, -32600, 'request body too large');
      }
      try {
        body = JSON.parse(read.toString('utf8'));
      } catch (error: unknown) {
        record(req, null, `body is not JSON: ${String(error)}`);
        return jsonRpcError(res, 400, -32700, 'parse error');
      }
      for (const message of Array.isArray(body) ? body : [body]) record(req, describe(message), null);
    } else {
      record(req, null, null);
    }

    const sessionId = headerValue(req.headers['mcp-session-id']);
    let transport = sessionId === null ? undefined : sessions.get(sessionId);
    if (transport === undefined) {
      if (sessionId !== null) return jsonRpcError(res, 404, -32001, `session not found: ${sessionId}`);
      if (req.method !== 'POST' || !isInitializeRequest(body)) return jsonRpcError(res, 400, -32000, 'no mcp-session-id and not an initialize request');
      transport = newSession(sessions);
    }
    await transport.handleRequest(req, res, body);
  };

  const listening = await listenAll(
    () =>
      createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
          if (!res.headersSent) jsonRpcError(res, 500, -32603, `mcp-server: ${String(error)}`);
          else res.destroy();
        });
      }),
    options.listen,
  );
  const running = runningServer(listening, recorder);
  return {
    ...running,
    get received() {
      return recorder.received;
    },
    close: async () => {
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      await running.close();
    },
  };
}

function newSession(sessions: Map<string, StreamableHTTPServerTransport>): StreamableHTTPServerTransport {
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: randomUUID,
    onsessioninitialized: (id) => {
      sessions.set(id, transport);
    },
    onsessionclosed: (id) => {
      sessions.delete(id);
    },
  });
  transport.onclose = () => {
    if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
  };
  void ticketServer().connect(transport);
  return transport;
}

/** One McpServer per session: the SDK binds a server to one transport. */
function ticketServer(): McpServer {
  const server = new McpServer({ name: 'agentwarden-e2e-tickets', version: '1.0.0' });
  const answer = (tool: string) => (args: Record<string, unknown>) => ({
    content: [{ type: 'text' as const, text: `${tool}: done ${JSON.stringify(args)}` }],
  });
  server.registerTool('search_tickets', { description: 'Search support tickets', inputSchema: { query: z.string() } }, answer('search_tickets'));
  server.registerTool('create_ticket', { description: 'Open a support ticket', inputSchema: { subject: z.string(), body: z.string() } }, answer('create_ticket'));
  server.registerTool(
    'issue_refund',
    { description: 'Refund an order', inputSchema: { order: z.string(), amount: z.number(), currency: z.string() } },
    answer('issue_refund'),
  );
  server.registerTool('delete_customer', { description: 'Delete a customer', inputSchema: { id: z.string() } }, answer('delete_customer'));
  server.registerTool('web_fetch', { description: 'Fetch a web page (untrusted content)', inputSchema: { url: z.string() } }, answer('web_fetch'));
  return server;
}

function describe(message: unknown): McpReceived['message'] {
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
  const params = (typeof m.params === 'object' && m.params !== null ? m.params : {}) as Record<string, unknown>;
  const id = typeof m.id === 'string' || typeof m.id === 'number' ? m.id : null;
  const method = typeof m.method === 'string' ? m.method : null;
  const isCall = method === 'tools/call';
  return {
    id,
    method,
    tool: isCall && typeof params.name === 'string' ? params.name : null,
    arguments: isCall ? (params.arguments ?? null) : null,
  };
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length <= MAX_MCP_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(length > MAX_MCP_BODY ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { listen: { type: 'string', multiple: true } } });
  const running = await startMcpServer({ listen: listenFlags(values.listen), onReceived: printLine });
  closeOnSignal(running.close);
  printLine({ ready: true, kind: 'mcp', listen: running.addresses.map(formatAddress), path: '/mcp' });
}

if (import.meta.main) runMain(main);
