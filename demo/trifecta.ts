// The demo's lethal trifecta (DESIGN.md decision semantics point 12): private
// data, untrusted content and a way to send data out, refused per session. By
// now the agent has read tickets, which tainted its session `pii`
// (rule read-tickets). A post to Slack goes through: private data alone is
// not the trifecta. Then the agent fetches a web page with the web_fetch MCP
// tool (rule mcp-web-fetch taints the session `untrusted`), and the same kind
// of post is denied by no-exfil-after-pii-and-untrusted. The deny's decision
// span links to the decisions that added its taints; read back from Jaeger,
// they say "denied because of this earlier read".
import { MCP_URL, type RestCall, type ToolCall } from './calls.js';
import { decisionSpan, type DecisionSpan } from './jaeger.js';
import { runMcpSession } from './mcp-agent.js';
import type { Observed } from './observed.js';
import { runRestCall } from './rest-agent.js';
import { SLACK, WEB_MCP_HOST, type SupportPod } from './support-pod.js';
import type { Row } from './table.js';

const SLACK_URL = `http://${SLACK}/services/T0/B0/demo`;
const WEB_MCP_URL = MCP_URL.replace(/\/\/[^/]+/, `//${WEB_MCP_HOST}`);
const LINK_TIMEOUT_MS = 30_000;

export const POST_UPDATE: RestCall = { method: 'POST', url: SLACK_URL, json: { text: 'ticket 4711 answered' } };
export const WEB_FETCH: ToolCall = { name: 'web_fetch', arguments: { url: 'https://example.com/order-faq' } };
export const POST_DATA: RestCall = { method: 'POST', url: SLACK_URL, json: { text: 'customer C-17: Jane Doe, Hauptstr. 1, Berlin' } };

export interface Trifecta {
  /** The first post (allowed), the web_fetch call (allowed, taints untrusted), the second post (denied). */
  readonly rows: readonly Observed[];
  /** Whether the agent and the upstreams saw what they should: post delivered, page fetched, second post refused. */
  readonly ok: boolean;
}

export async function lethalTrifecta(pod: SupportPod): Promise<Trifecta> {
  const agent = pod.scenario.pod;
  const first = await runRestCall(agent, POST_UPDATE, pod.attackerIp);
  const { rows, run } = await runMcpSession(agent, WEB_MCP_URL, [WEB_FETCH]);
  const fetched = rows.find((r) => r.call === `MCP tools/call ${WEB_FETCH.name}`);
  if (fetched === undefined) throw new Error(`lethal trifecta: the agent's MCP session made no tools/call ${WEB_FETCH.name} (steps: ${JSON.stringify(run.steps)})`);
  const second = await runRestCall(agent, POST_DATA, pod.attackerIp);
  const delivered = (o: Observed): boolean => o.receipts(pod.upstreams, pod.token).length > 0;
  const ok = first.agentGot === '200' && delivered(first) && run.steps.every((s) => s.ok) && delivered(fetched) && second.agentGot === '403' && !delivered(second);
  return { rows: [first, fetched, second], ok };
}

/**
 * Prints, under the deny, the decisions its span links to (read back from
 * Jaeger by trace and span id) and what each added to the session; true when
 * the links name the web_fetch decision that added `untrusted`.
 */
export async function printLineage(rows: readonly Row[], jaeger: string): Promise<boolean> {
  const deny = rows.find((r) => r.span?.decision === 'deny' && r.span.links.length > 0);
  if (deny?.span === undefined) {
    console.log('\n(no denied decision with span links reached Jaeger: the lineage cannot be shown)');
    return false;
  }
  console.log(`\nThe deny's decision span (trace ${deny.span.traceId}) carries session taints ${JSON.stringify(deny.span.taints)} and links to the decisions that added them:`);
  const linked: DecisionSpan[] = [];
  for (const link of deny.span.links) {
    const span = await decisionSpan(jaeger, link.traceId, link.spanId, LINK_TIMEOUT_MS);
    if (span === undefined) {
      console.log(`  → trace ${link.traceId} span ${link.spanId}: not in Jaeger`);
      continue;
    }
    linked.push(span);
    console.log(`  → ${describe(span)}: rule ${span.rule} added ${JSON.stringify(span.taintsAdded)} (trace ${span.traceId})`);
  }
  console.log(`Look it up: curl -s ${jaeger}/api/traces/${deny.span.traceId} (its FOLLOWS_FROM references are the links)`);
  return linked.some((s) => s.tool === WEB_FETCH.name && s.taintsAdded.includes('untrusted'));
}

function describe(s: DecisionSpan): string {
  return s.tool !== null ? `MCP ${s.mcpMethod ?? 'tools/call'} ${s.tool} at ${s.host}` : `${s.method} ${s.host}${s.path}`;
}
