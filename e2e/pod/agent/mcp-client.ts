// The agent's MCP client: the official SDK's Client over StreamableHTTPClientTransport.
// Connects (initialize), lists the tools, calls each tool given, then ends the session (DELETE),
// and prints one JSON line with every step's outcome. Exits 0 whatever happened.
//
//   node dist/e2e/pod/agent/mcp-client.js --url http://mcp.example/mcp
//        [--header 'Authorization: Bearer t' ...] [--calls '[{"name":"search_tickets","arguments":{"query":"x"}}]']
//        [--timeout-ms 10000] [--no-terminate]
//
// stdout: {"url":...,"sessionId":...,"steps":[{"step":"connect","ok":true,"result":{...}},
//   {"step":"listTools","ok":true,"result":{"tools":[...]}},{"step":"callTool","tool":"x","ok":false,
//   "error":{"class":"McpError","code":-32603,"message":...}},{"step":"terminateSession","ok":true}]}
// After a failed connect no other step runs.
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describeError, parseHeader, positiveInt, printResult, runProgram, type ErrorDescription } from './result.js';

export interface ToolCall {
  readonly name: string;
  readonly arguments?: Record<string, unknown>;
}

export type McpStep =
  | { readonly step: string; readonly tool?: string; readonly ok: true; readonly result?: unknown }
  | { readonly step: string; readonly tool?: string; readonly ok: false; readonly error: ErrorDescription };

export interface McpClientRun {
  readonly url: string;
  /** The mcp-session-id the server assigned at initialize (null if none). */
  readonly sessionId: string | null;
  readonly steps: readonly McpStep[];
}

export interface McpClientOptions {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly calls?: readonly ToolCall[];
  readonly timeoutMs?: number;
  /** Send the DELETE that ends the session at the end (default true). */
  readonly terminate?: boolean;
}

export const DEFAULT_MCP_TIMEOUT_MS = 10_000;

export async function runMcpClient(options: McpClientOptions): Promise<McpClientRun> {
  const timeout = options.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS;
  const transport = new StreamableHTTPClientTransport(new URL(options.url), { requestInit: { headers: { ...options.headers } } });
  const client = new Client({ name: 'agentwarden-e2e-agent', version: '1.0.0' });
  const steps: McpStep[] = [];
  let sessionId: string | null = null;
  const step = async (name: string, action: () => Promise<unknown>, tool?: string): Promise<boolean> => {
    const named = tool === undefined ? { step: name } : { step: name, tool };
    try {
      const result = await action();
      steps.push(result === undefined ? { ...named, ok: true } : { ...named, ok: true, result });
      return true;
    } catch (error: unknown) {
      steps.push({ ...named, ok: false, error: describeError(error) });
      return false;
    }
  };
  try {
    const connected = await step('connect', async () => {
      await client.connect(transport, { timeout });
      sessionId = transport.sessionId ?? null;
      return { serverVersion: client.getServerVersion() ?? null, protocolVersion: transport.protocolVersion ?? null };
    });
    if (connected) {
      await step('listTools', () => client.listTools(undefined, { timeout }));
      for (const call of options.calls ?? []) {
        await step('callTool', () => client.callTool({ name: call.name, arguments: call.arguments ?? {} }, undefined, { timeout }), call.name);
      }
      if (options.terminate ?? true) await step('terminateSession', () => transport.terminateSession());
    }
    return { url: options.url, sessionId, steps };
  } finally {
    await client.close().catch(() => undefined);
  }
}

export function parseCalls(text: string | undefined): ToolCall[] {
  if (text === undefined) return [];
  const calls: unknown = JSON.parse(text);
  const valid = Array.isArray(calls) && calls.every((c) => typeof c === 'object' && c !== null && typeof (c as ToolCall).name === 'string');
  if (!valid) throw new Error(`--calls: want a JSON array of {"name":...,"arguments":{...}}, got ${text}`);
  return calls as ToolCall[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      header: { type: 'string', multiple: true },
      calls: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'no-terminate': { type: 'boolean' },
    },
  });
  if (values.url === undefined) throw new Error('--url is required');
  printResult(
    await runMcpClient({
      url: values.url,
      headers: Object.fromEntries((values.header ?? []).map(parseHeader)),
      calls: parseCalls(values.calls),
      timeoutMs: positiveInt(values['timeout-ms'], '--timeout-ms', DEFAULT_MCP_TIMEOUT_MS),
      terminate: values['no-terminate'] !== true,
    }),
  );
}

if (import.meta.main) runProgram(main);
