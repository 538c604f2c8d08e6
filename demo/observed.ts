// One agent call as the demo saw it from the agent's side: what was sent, with
// which trace, and what came back. The upstream's side and the audit record
// are looked up afterwards by the call's trace id (upstream-view.ts, jaeger.ts).
import type { RunningMcpServer } from '../e2e/pod/upstreams/mcp-server.js';
import type { Upstreams } from './support-pod.js';

export interface Observed {
  /** "GET api.zendesk.com/api/v2/tickets/4711", "MCP tools/call issue_refund {...}". */
  readonly call: string;
  /** A line under the call when the call alone does not say what it is. */
  readonly note?: string;
  /** What the request carried that a rule may read: the REST call's JSON body, the MCP tool's arguments. */
  readonly input?: unknown;
  /** The agent's span that the request carried (traceparent). */
  readonly traceId: string;
  readonly spanId: string;
  /** What the agent got back: "200", "403", "McpError -32001 (HTTP 200)", "no response: ...". */
  readonly agentGot: string;
  /** x-agentwarden-decision as the agent received it: allow | deny | null (no decision was made). */
  readonly decision: string | null;
  /** x-agentwarden-decision-id as the agent received it (the decision's trace id). */
  readonly decisionId: string | null;
  /** An address the agent aimed the request at, whose upstream should get nothing (the steering attempt). */
  readonly steeredTo?: string;
  /** What the upstreams received of this call. */
  readonly receipts: (u: Upstreams, token: string) => readonly Receipt[];
}

/** One request an upstream received. */
export interface Receipt {
  /** The upstream, named as the agent knows it (a host name, or the attacker's IP); null: the host the call names. */
  readonly where: string | null;
  /** The status it answered (null: the MCP server does not record it). */
  readonly status: number | null;
  /** Whether the Zendesk token came with it. */
  readonly credential: boolean;
}

export type McpReceived = RunningMcpServer['received'][number];
