// The demo agent's MCP session, run inside the pod as the agent's UID: the
// official SDK client (StreamableHTTPClientTransport) connects, lists the
// tools, calls each tool given and ends the session. Like an agent
// instrumented with OpenTelemetry, it sends each HTTP request with a W3C
// traceparent of its own span (a new trace per request), so the sidecar's
// decision span is that span's child. Prints one JSON line: every SDK step's
// outcome and every HTTP exchange under it (its trace, the JSON-RPC message,
// the status and the x-agentwarden-* answer headers). Exits 0 whatever happened.
//
//   node dist/demo/agent/mcp-session.js --url http://mcp.support.internal/mcp --calls '[{"name":"x","arguments":{}}]'
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describeError, printResult, runProgram, type ErrorDescription } from '../../e2e/pod/agent/result.js';
import type { ToolCall } from '../calls.js';

export interface McpExchange {
  /** The SDK step during which the request was sent (connect, listTools, callTool, terminateSession). */
  readonly step: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly httpMethod: string;
  /** The JSON-RPC message of a POST: id (null for a notification), method, tool. */
  readonly rpc: { readonly id: string | number | null; readonly method: string; readonly tool: string | null } | null;
  status: number;
  decision: string | null;
  decisionId: string | null;
  rule: string | null;
  /** A transport failure (no response). */
  failure: string | null;
}

export interface McpStepResult {
  readonly step: string;
  readonly tool?: string;
  /** callTool: the index of the call in --calls. */
  readonly call?: number;
  readonly arguments?: unknown;
  readonly ok: boolean;
  readonly error?: ErrorDescription;
}

export interface McpSessionRun {
  readonly sessionId: string | null;
  readonly steps: readonly McpStepResult[];
  readonly exchanges: readonly McpExchange[];
}

const TIMEOUT_MS = 10_000;
/** How long the answers to requests still open (the GET stream) are awaited at the end. */
const SETTLE_MS = 2_000;

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

function readRpc(body: unknown): McpExchange['rpc'] {
  if (typeof body !== 'string') return null;
  try {
    const m = JSON.parse(body) as { id?: string | number; method?: string; params?: { name?: unknown } };
    if (typeof m.method !== 'string') return null;
    return { id: m.id ?? null, method: m.method, tool: m.method === 'tools/call' && typeof m.params?.name === 'string' ? m.params.name : null };
  } catch {
    return null;
  }
}

/** A fetch that sends a traceparent of a new agent span with each request and records the exchange. */
function tracingFetch(exchanges: McpExchange[], pending: Promise<unknown>[], currentStep: () => number): typeof fetch {
  return (input, init) => {
    const traceId = hex(16);
    const spanId = hex(8);
    const headers = new Headers(init?.headers);
    headers.set('traceparent', `00-${traceId}-${spanId}-01`);
    const exchange: McpExchange = {
      step: currentStep(), traceId, spanId, httpMethod: init?.method ?? 'GET', rpc: readRpc(init?.body),
      status: 0, decision: null, decisionId: null, rule: null, failure: null,
    };
    exchanges.push(exchange);
    const response = fetch(input, { ...init, headers });
    pending.push(response.then((r) => {
      exchange.status = r.status;
      exchange.decision = r.headers.get('x-agentwarden-decision');
      exchange.decisionId = r.headers.get('x-agentwarden-decision-id');
      exchange.rule = r.headers.get('x-agentwarden-rule');
    }, (e: unknown) => {
      exchange.failure = describeError(e).message;
    }));
    return response;
  };
}

export async function runMcpSession(url: string, calls: readonly ToolCall[]): Promise<McpSessionRun> {
  const exchanges: McpExchange[] = [];
  const pending: Promise<unknown>[] = [];
  const steps: McpStepResult[] = [];
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: tracingFetch(exchanges, pending, () => steps.length) });
  const client = new Client({ name: 'support-agent', version: '1.4.2' });
  const step = async (result: Omit<McpStepResult, 'ok' | 'error'>, action: () => Promise<unknown>): Promise<boolean> => {
    try {
      await action();
      steps.push({ ...result, ok: true });
      return true;
    } catch (error: unknown) {
      steps.push({ ...result, ok: false, error: describeError(error) });
      return false;
    }
  };
  let sessionId: string | null = null;
  try {
    if (await step({ step: 'connect' }, async () => { await client.connect(transport, { timeout: TIMEOUT_MS }); sessionId = transport.sessionId ?? null; })) {
      await step({ step: 'listTools' }, () => client.listTools(undefined, { timeout: TIMEOUT_MS }));
      for (const [index, call] of calls.entries()) {
        const args: Record<string, unknown> = { ...call.arguments };
        if (call.fill !== undefined) args[call.fill.key] = 'x'.repeat(call.fill.bytes);
        await step({ step: 'callTool', tool: call.name, call: index, arguments: call.arguments }, () => client.callTool({ name: call.name, arguments: args }, undefined, { timeout: TIMEOUT_MS }));
      }
      await step({ step: 'terminateSession' }, () => transport.terminateSession());
    }
  } finally {
    await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, SETTLE_MS))]);
    await client.close().catch(() => undefined);
  }
  return { sessionId, steps, exchanges };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string' }, calls: { type: 'string' } } });
  if (values.url === undefined || values.calls === undefined) throw new Error('--url and --calls are required');
  printResult(await runMcpSession(values.url, JSON.parse(values.calls) as ToolCall[]));
}

if (import.meta.main) runProgram(main);
