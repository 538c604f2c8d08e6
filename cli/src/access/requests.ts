// `agentwarden requests [-n ns|-A] [--state …]`: the AgentAccessRequests as a
// table (NAMESPACE NAME AGENT OPERATION STATE EXPIRES APPROVED-BY AGE); by
// default those that need someone or are in force: Pending, Approved,
// ReviewRequired.
import { parseCommand } from '../../../common/flags.js';
import { InputError } from '../../../policy/io/manifests.js';
import { kubeTarget } from './flags.js';
import { REQUESTS_COMMAND } from './help.js';
import { DEFAULT_STATES, STATES } from './states.js';
import type { AccessRequestApi, AccessRequestObject, KubeTarget } from './kube.js';
import { stateOf } from './status-patch.js';
import { agentOf, operationOf } from './describe.js';

export interface RequestsIo {
  readonly connect: (target: KubeTarget) => AccessRequestApi;
  readonly out: (line: string) => void;
  readonly nowMs: number;
}

export { DEFAULT_STATES, STATES } from './states.js';
const HEADER = ['NAMESPACE', 'NAME', 'AGENT', 'OPERATION', 'STATE', 'EXPIRES', 'APPROVED-BY', 'AGE'] as const;

export async function runRequests(argv: readonly string[], io: RequestsIo): Promise<void> {
  const { values } = parseCommand(REQUESTS_COMMAND, argv);
  if (values['all-namespaces'] && values.namespace !== undefined) throw new InputError('agentwarden requests: give -n <ns> or -A, not both');
  const states = stateFilter(values.state);
  const api = io.connect(kubeTarget(values));
  const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? api.defaultNamespace);
  const items = (await api.list(namespace)).filter((o) => states.has(stateOf(o)));
  if (items.length === 0) {
    io.out(`No AgentAccessRequests ${[...states].join(', ')}${namespace === undefined ? '' : ` in namespace ${namespace}`}.`);
    return;
  }
  for (const line of requestsTable(items, io.nowMs)) io.out(line);
}

/** --state a,b (case-insensitive; "all" for every state); absent: DEFAULT_STATES. */
export function stateFilter(text: string | undefined): ReadonlySet<string> {
  if (text === undefined) return new Set(DEFAULT_STATES);
  const out = new Set<string>();
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    if (part.toLowerCase() === 'all') return new Set(STATES);
    const state = STATES.find((s) => s.toLowerCase() === part.toLowerCase());
    if (state === undefined) throw new InputError(`agentwarden requests: --state: "${part}" is not one of ${STATES.join(', ')} or all`);
    out.add(state);
  }
  if (out.size === 0) throw new InputError('agentwarden requests: --state: give one or more states');
  return out;
}

/** The table, header first, sorted by namespace then name, columns padded as kubectl pads them. */
export function requestsTable(items: readonly AccessRequestObject[], nowMs: number): string[] {
  const rows = [...items]
    .sort((a, b) => compare(a.metadata.namespace, b.metadata.namespace) || compare(a.metadata.name, b.metadata.name))
    .map((o) => [
      o.metadata.namespace, o.metadata.name, orNone(agentOf(o)), orNone(operationOf(o)), stateOf(o),
      expires(o.status?.['expiresAt'], nowMs), orNone(typeof o.status?.['approvedBy'] === 'string' ? o.status['approvedBy'] : ''),
      age(o.metadata.creationTimestamp, nowMs),
    ]);
  const table = [[...HEADER], ...rows];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  return table.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3))).join(''));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function orNone(s: string): string {
  return s === '' ? '<none>' : s;
}

/** "in 14m", "3m ago", or <none>. */
function expires(value: unknown, nowMs: number): string {
  if (typeof value !== 'string') return '<none>';
  const at = Date.parse(value);
  if (Number.isNaN(at)) return value;
  return at >= nowMs ? `in ${span(at - nowMs)}` : `${span(nowMs - at)} ago`;
}

function age(created: string | undefined, nowMs: number): string {
  const at = created === undefined ? Number.NaN : Date.parse(created);
  return Number.isNaN(at) ? '<unknown>' : span(Math.max(0, nowMs - at));
}

/** kubectl's short durations: 42s, 5m, 3h12m, 2d. */
export function span(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  return `${Math.floor(h / 24)}d`;
}
