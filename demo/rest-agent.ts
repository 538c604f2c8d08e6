// The agent's REST calls: curl as the agent's UID inside the pod, each with a
// traceparent of its own span. The agent speaks plain HTTP to api.zendesk.com;
// the pod's Envoy originates the TLS (agentwarden.io/tls-origination).
import { randomBytes } from 'node:crypto';
import { curl, header } from '../e2e/pod/agent-commands.js';
import type { RunningPod } from '../e2e/pod/pod.js';
import type { HttpReceived } from '../e2e/pod/upstreams/http-recording.js';
import type { RestCall } from './calls.js';
import type { Observed, Receipt } from './observed.js';
import { MCP_HOST, type Upstreams } from './support-pod.js';

const CURL_TIMEOUT_SECONDS = 10;

export async function runRestCall(pod: RunningPod, call: RestCall, attackerIp: string): Promise<Observed> {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  const url = new URL(call.url);
  const target = call.connectTo === 'attacker' ? `http://${attackerIp}${rawPath(call.url)}` : call.url;
  const args = [
    '-D', '-', '--path-as-is', '-X', call.method, '-H', `traceparent: 00-${traceId}-${spanId}-01`,
    ...(call.connectTo === 'attacker' ? ['-H', `Host: ${url.host}`] : []),
    ...(call.json === undefined ? [] : ['-H', 'content-type: application/json', '--data-binary', JSON.stringify(call.json)]),
    target,
  ];
  const r = await curl(pod, args, CURL_TIMEOUT_SECONDS);
  const headers = lastHeaderBlock(r.body);
  const failure = r.status === 0 ? `no response: ${r.stderr.replace(/^curl: \(\d+\)\s*/, '').trim()}` : undefined;
  return {
    call: `${call.method} ${url.host}${rawPath(call.url)}`,
    ...noteOf(call, failure),
    ...(call.json === undefined ? {} : { input: call.json }),
    ...(call.connectTo === 'attacker' ? { steeredTo: attackerIp } : {}),
    traceId, spanId, agentGot: failure === undefined ? String(r.status) : 'no response',
    decision: headers.get('x-agentwarden-decision') ?? null,
    decisionId: headers.get('x-agentwarden-decision-id') ?? null,
    receipts: (u, token) => receiptsOf(u, token, traceId, attackerIp, url.host),
  };
}

function noteOf(call: RestCall, failure: string | undefined): { note?: string } {
  const parts = [call.note, call.json === undefined ? undefined : `body ${JSON.stringify(call.json)}`, failure].filter((p) => p !== undefined);
  return parts.length === 0 ? {} : { note: parts.join('; ') };
}

/** The path and query exactly as written in the URL (new URL() would resolve `..`). */
function rawPath(url: string): string {
  return url.replace(/^https?:\/\/[^/]+/, '');
}

/** Response headers from `curl -D -` output (the last block, after any 1xx). */
function lastHeaderBlock(out: string): Map<string, string> {
  const headers = new Map<string, string>();
  let rest = out;
  let block = '';
  while (rest.startsWith('HTTP/')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    block = rest.slice(0, end);
    rest = rest.slice(end + 4);
  }
  for (const line of block.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** The requests that carried this trace, at every upstream; at the MCP server, any JSON-RPC message outside a session but initialize. */
function receiptsOf(u: Upstreams, token: string, traceId: string, attackerIp: string, host: string): Receipt[] {
  const http: [string, readonly HttpReceived[]][] = [
    ['api.zendesk.com', u.zendesk.received], ['billing.internal', u.billing.received], ['eu.crm.internal', u.crm.received], ['hooks.slack.com', u.slack.received],
    ['elsewhere', u.elsewhere.received], [attackerIp, u.attacker.received],
  ];
  const out: Receipt[] = [];
  for (const [where, received] of http) {
    for (const e of received) {
      if (header(e, 'traceparent')?.includes(traceId) !== true) continue;
      out.push({ where: where === 'elsewhere' ? (e.host ?? where) : where, status: e.status, credential: header(e, 'authorization') === `Bearer ${token}` });
    }
  }
  for (const e of host === MCP_HOST ? u.mcp.received : []) {
    if (e.sessionId === null && e.message?.method !== 'initialize') out.push({ where: MCP_HOST, status: null, credential: e.authorization === `Bearer ${token}` });
  }
  return out;
}
