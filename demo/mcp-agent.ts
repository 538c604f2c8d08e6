// The agent's MCP session: demo/agent/mcp-session.js (the official SDK client)
// run as the agent's UID inside the pod; each HTTP request it made becomes a row.
import { join } from 'node:path';
import type { RunningPod } from '../e2e/pod/pod.js';
import { ROOT } from '../e2e/pod/pod.js';
import type { McpExchange, McpSessionRun, McpStepResult } from './agent/mcp-session.js';
import type { ToolCall } from './calls.js';
import type { McpReceived, Observed, Receipt } from './observed.js';
import { WEB_MCP_HOST, type Upstreams } from './support-pod.js';

const NODE = join(ROOT, 'node_modules/.bin/node');
const PROGRAM = join(ROOT, 'dist/demo/agent/mcp-session.js');
const SESSION_TIMEOUT_MS = 60_000;

export async function runMcpSession(pod: RunningPod, url: string, calls: readonly ToolCall[]): Promise<{ rows: Observed[]; run: McpSessionRun }> {
  const r = await pod.agent([NODE, PROGRAM, '--url', url, '--calls', JSON.stringify(calls)], SESSION_TIMEOUT_MS);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let run: McpSessionRun;
  try {
    run = JSON.parse(line) as McpSessionRun;
  } catch (e: unknown) {
    throw new Error(`the agent's MCP session printed no result (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`, { cause: e });
  }
  const server = new URL(url).hostname === WEB_MCP_HOST ? (u: Upstreams) => u.web : (u: Upstreams) => u.mcp;
  const rows = run.exchanges.map((x) => observe(x, run, calls, server));
  return { rows, run };
}

function observe(x: McpExchange, run: McpSessionRun, calls: readonly ToolCall[], server: (u: Upstreams) => { readonly received: readonly McpReceived[] }): Observed {
  const step = run.steps[x.step];
  const main = step !== undefined && isStepRequest(x, step) ? step : undefined;
  const failed = main?.ok === false ? main.error : undefined;
  const agentGot = x.failure !== null ? 'no response' : failed !== undefined ? `${x.status} → ${failed.class}` : String(x.status);
  const fill = main?.call === undefined ? undefined : calls[main.call]?.fill;
  const notes = [
    main?.arguments === undefined ? undefined : `arguments ${JSON.stringify(main.arguments)}`,
    fill === undefined ? undefined : `${fill.key} is ${(fill.bytes / 1024 / 1024).toFixed(1)} MB, more than Envoy buffers for the decision (1 MiB)`,
    x.failure === null ? undefined : `no response: ${x.failure}`,
    failed === undefined ? undefined : `the SDK raised ${failed.class}: ${failed.message}`,
  ].filter((n) => n !== undefined);
  return {
    call: describe(x),
    ...(notes.length === 0 ? {} : { note: notes.join('; ') }),
    // The filled argument as the difference line shows it: its size, not its 1.2 MB.
    ...(main?.arguments === undefined ? {} : { input: fill === undefined ? main.arguments : { ...main.arguments, [fill.key]: `<${fill.bytes} characters>` } }),
    traceId: x.traceId, spanId: x.spanId, agentGot,
    decision: x.decision, decisionId: x.decisionId,
    receipts: (u, token) => server(u).received.filter((e) => sameRequest(x, e, run.sessionId)).map((e): Receipt => ({ where: null, status: null, credential: e.authorization === `Bearer ${token}` })),
  };
}

/** Whether `x` is the request that decides its step's outcome (not, say, the GET stream opened during connect). */
function isStepRequest(x: McpExchange, step: McpStepResult): boolean {
  if (step.step === 'terminateSession') return x.httpMethod === 'DELETE';
  if (step.step === 'listTools') return x.rpc?.method === 'tools/list';
  if (step.step === 'callTool') return x.rpc?.method === 'tools/call';
  return x.rpc?.method === 'initialize';
}

function describe(x: McpExchange): string {
  if (x.rpc === null) return `MCP ${x.httpMethod} /mcp (${x.httpMethod === 'GET' ? 'the session\'s event stream' : x.httpMethod === 'DELETE' ? 'end the session' : 'no JSON-RPC'})`;
  return x.rpc.tool === null ? `MCP ${x.rpc.method}` : `MCP ${x.rpc.method} ${x.rpc.tool}`;
}

function sameRequest(x: McpExchange, e: McpReceived, sessionId: string | null): boolean {
  if (e.httpMethod !== x.httpMethod) return false;
  if (x.rpc === null) return e.message === null && e.sessionId === sessionId;
  return e.message?.method === x.rpc.method && e.message.id === x.rpc.id && (x.rpc.method === 'initialize' || e.sessionId === sessionId);
}
