// The demo's approval round trip (DESIGN.md "Approvals and break-glass"): the
// agent asks for a refund over the example's automatic limit and its MCP SDK
// client gets an McpError naming an AgentAccessRequest; a human lists the
// requests and approves that one with the CLI, as they would type it; once the
// grant has reached the sidecar (its snapshot version changes, read from the
// sidecar's /readyz), the agent's same call goes through, and a refund of
// another amount is still denied. Each agent call is its own MCP session; the
// tools/call of each becomes a row of the decisions table.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../e2e/pod/pod.js';
import { kubectl, KUBECONFIG } from '../e2e/test/cluster.js';
import type { ToolCall } from './calls.js';
import { MCP_URL } from './calls.js';
import { runMcpSession } from './mcp-agent.js';
import type { Observed } from './observed.js';
import type { SupportPod } from './support-pod.js';

/** A refund over the example's 50 EUR: rule mcp-large-refunds asks a human. */
export const LARGE_REFUND: ToolCall = { name: 'issue_refund', arguments: { order: 'O-7', amount: 120, currency: 'EUR' } };
/** The same order, another amount: the approval does not cover it. */
export const OTHER_REFUND: ToolCall = { name: 'issue_refund', arguments: { order: 'O-7', amount: 130, currency: 'EUR' } };
export const APPROVAL_REASON = 'customer sent photos of the damaged parcel';

const WAIT_MS = 30_000;
const POLL_MS = 100;
const CLI = join(ROOT, 'bin/agentwarden');
/** The sidecar's admin port in the pod (the injector's default). */
const SIDECAR_ADMIN_PORT = 15021;

export interface RoundTrip {
  /** The tools/call rows: denied, approved and allowed, another amount denied. */
  readonly rows: readonly Observed[];
  /** Whether every step came out as a user expects. */
  readonly ok: boolean;
}

interface AgentCall {
  readonly row: Observed;
  /** The McpError's message, when the SDK raised one. */
  readonly error: string | undefined;
  /** The AgentAccessRequest the deny names (the McpError's data.approvalRequest). */
  readonly request: string | undefined;
  /** Whether the MCP server received the call. */
  readonly delivered: boolean;
}

async function agentCall(pod: SupportPod, call: ToolCall): Promise<AgentCall> {
  const { rows, run } = await runMcpSession(pod.scenario.pod, MCP_URL, [call]);
  const row = rows.find((r) => r.call === `MCP tools/call ${call.name}`);
  if (row === undefined) throw new Error(`approval round trip: the agent's MCP session made no tools/call ${call.name} (steps: ${JSON.stringify(run.steps)})`);
  const error = run.steps.find((s) => s.step === 'callTool')?.error;
  const data = error?.data;
  const request = typeof data === 'object' && data !== null && typeof (data as { approvalRequest?: unknown }).approvalRequest === 'string'
    ? (data as { approvalRequest: string }).approvalRequest : undefined;
  console.log(`agent: tools/call ${call.name} ${JSON.stringify(call.arguments)}`);
  const delivered = row.receipts(pod.upstreams, pod.token).length > 0;
  console.log(error === undefined ? `  → ${row.agentGot}, the tool's result; the MCP server ${delivered ? 'received the call' : 'received nothing'}` : `  → the SDK raised ${error.class}: ${error.message}`);
  if (request !== undefined) console.log(`    McpError data.approvalRequest: ${request}`);
  return { row, error: error?.message, request, delivered };
}

/** Runs the CLI as a person would, with the admin kubeconfig; prints the command and what it printed. */
function cli(shown: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  console.log(`\n$ ${shown}`);
  return new Promise((resolve) => {
    execFile(CLI, args, { env: { ...process.env, KUBECONFIG }, timeout: WAIT_MS }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`.trimEnd();
      if (out !== '') console.log(out);
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out });
    });
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`approval round trip: ${what} did not happen within ${WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The snapshot version the sidecar holds, from its /readyz ("ready: snapshot sha256:…"). */
async function sidecarVersion(pod: SupportPod): Promise<string | undefined> {
  const res = await fetch(`http://${pod.scenario.network.podIp}:${SIDECAR_ADMIN_PORT}/readyz`).catch(() => undefined);
  const text = res === undefined ? '' : await res.text();
  return /^ready: snapshot (\S+)/.exec(text)?.[1];
}

function short(version: string): string {
  return version.replace(/^sha256:/, '').slice(0, 12);
}

export async function approvalRoundTrip(pod: SupportPod, namespace: string): Promise<RoundTrip> {
  const first = await agentCall(pod, LARGE_REFUND);
  const name = first.request;
  if (name === undefined) {
    console.log('(the deny named no AgentAccessRequest: no approval to give)');
    return { rows: [first.row], ok: false };
  }
  await waitFor(`the controller's AgentAccessRequest ${namespace}/${name}`, async () => ((await kubectl(['get', 'agentaccessrequest', '-n', namespace, name])).code === 0 ? true : undefined));
  await cli(`agentwarden requests -n ${namespace}`, ['requests', '-n', namespace]);

  const before = await waitFor('the sidecar\'s snapshot version', () => sidecarVersion(pod));
  const approved = Date.now();
  const approve = await cli(`agentwarden approve ${namespace}/${name} --for 5m --reason "${APPROVAL_REASON}"`,
    ['approve', `${namespace}/${name}`, '--for', '5m', '--reason', APPROVAL_REASON]);
  if (approve.code !== 0) return { rows: [first.row], ok: false };
  const after = await waitFor('the grant reaching the sidecar (a new snapshot version)', async () => {
    const v = await sidecarVersion(pod);
    return v !== undefined && v !== before ? v : undefined;
  });
  console.log(`(the grant reached the sidecar ${((Date.now() - approved) / 1000).toFixed(1)} s after the command: its snapshot went from ${short(before)}… to ${short(after)}…)\n`);

  const retried = await agentCall(pod, LARGE_REFUND);
  const other = await agentCall(pod, OTHER_REFUND);
  const ok = !first.delivered && retried.error === undefined && retried.delivered && !other.delivered && other.request !== undefined && other.request !== name;
  return { rows: [first.row, retried.row, other.row], ok };
}

/**
 * AgentAccessRequests of earlier runs in `namespace`: deleted, since the same
 * refund from the same pod name gives the same request name. Quiet when the
 * CRD is not installed yet (a fresh cluster).
 */
export async function removeEarlierRequests(namespace: string): Promise<void> {
  await kubectl(['delete', 'agentaccessrequests', '--all', '-n', namespace, '--ignore-not-found']);
}
