// The decisions table: one entry per request the agent made, joining what the
// agent got, the decision as Jaeger recorded it (rule, why), what the upstream
// received, and the agent's trace; then the trace check.
import { explain, type ExplainContext } from './explain.js';
import { difference } from './difference.js';
import type { DecisionSpan } from './jaeger.js';
import type { Observed, Receipt } from './observed.js';
import type { RuleBook } from './rule-book.js';
import type { Upstreams } from './support-pod.js';

export interface Row {
  readonly observed: Observed;
  /** The decision span Jaeger holds for the agent's trace; undefined when none (no decision, or not arrived). */
  readonly span: DecisionSpan | undefined;
  /** How many decision spans the agent's trace holds (one per request). */
  readonly spansInTrace: number;
  readonly receipts: readonly Receipt[];
}

export function buildRows(observed: readonly Observed[], spans: ReadonlyMap<string, readonly DecisionSpan[]>, upstreams: Upstreams, token: string): Row[] {
  return observed.map((o) => {
    const inTrace = spans.get(o.traceId) ?? [];
    return { observed: o, span: inTrace[0], spansInTrace: inTrace.length, receipts: o.receipts(upstreams, token) };
  });
}

const COLUMNS = [
  { title: 'agent call', width: 56 },
  { title: 'agent got', width: 25 },
  { title: 'decision', width: 8 },
  { title: 'rule', width: 32 },
  { title: 'upstream got', width: 0 },
] as const;

function line(values: readonly string[]): string {
  return values.map((v, i) => {
    const width = COLUMNS[i]?.width ?? 0;
    return width === 0 ? v : v.length > width ? `${v.slice(0, width - 1)}…` : v.padEnd(width);
  }).join('  ').trimEnd();
}

/** "200, credential", "received, no credential", "nothing"; another host's receipts and the steered-to address are named. */
export function upstreamGot(o: Observed, receipts: readonly Receipt[]): string {
  const parts = receipts.map((r) => {
    const where = r.where === null || o.call.includes(` ${r.where}`) ? '' : `${r.where}: `;
    return `${where}${r.status === null ? 'received' : String(r.status)}, ${r.credential ? 'credential' : 'no credential'}`;
  });
  if (o.steeredTo !== undefined && !receipts.some((r) => r.where === o.steeredTo)) parts.push(`${o.steeredTo}: nothing`);
  return parts.length === 0 ? 'nothing' : parts.join('; ');
}

function why(r: Row, book: RuleBook, now: Date): string {
  if (r.span !== undefined) {
    const ctx: ExplainContext = { book, now, credentialArrived: r.receipts.some((x) => x.credential) };
    return explain(r.span, ctx);
  }
  return r.observed.decision === null ? 'Envoy answered without asking the sidecar: no decision was made' : 'its decision span did not reach Jaeger';
}

const LEGEND = [
  'agent got: what curl or the MCP SDK client received; decision and rule: the sidecar\'s, read back from Jaeger;',
  'upstream got: what the service itself received (its status, and whether the Zendesk credential came with it);',
  'trace: the agent\'s own trace id, sent as traceparent; the decision span is a child of the agent\'s span, and the id is the decision id',
  '(x-agentwarden-decision-id) that `agentwarden explain <id>` explains; "vs the same call above": what differs from the last row of that call.',
];

export function printRows(rows: readonly Row[], book: RuleBook, now: Date, legend = true): void {
  if (legend) console.log(`\n${LEGEND.join('\n')}`);
  console.log(`\n${line(COLUMNS.map((c) => c.title))}`);
  const above = new Map<string, Row>();
  for (const r of rows) {
    const o = r.observed;
    const decision = (r.span?.decision ?? o.decision ?? '-').toUpperCase();
    const previous = above.get(o.call);
    above.set(o.call, r);
    console.log(line([o.call, o.agentGot, decision, r.span?.rule ?? '-', upstreamGot(o, r.receipts)]));
    if (o.note !== undefined) console.log(`    ${o.note}`);
    const grant = r.span?.grant ?? null;
    const asks = r.span?.approvalRequest ?? null;
    if (grant !== null) console.log(`    grant ${grant} (${r.span?.grantKind ?? 'approval'}), as the decision span records it (agentwarden.grant)`);
    if (asks !== null) console.log(`    asks for AgentAccessRequest ${asks} (agentwarden.approval.request)`);
    console.log(`    why: ${why(r, book, now)}`);
    if (previous !== undefined && decidedOtherwise(previous, r)) {
      console.log(`    vs the same call above (${(previous.span?.decision ?? previous.observed.decision ?? '-').toUpperCase()}, rule ${previous.span?.rule ?? '-'}): ${difference(previous.observed.input, o.input)}`);
    }
    console.log(`    trace ${o.traceId}`);
  }
  const allowed = rows.filter((r) => r.span?.decision === 'allow').length;
  const denied = rows.filter((r) => r.span?.decision === 'deny').length;
  const undecided = rows.length - allowed - denied;
  console.log(`\n${rows.length} agent calls: ${allowed} allowed, ${denied} denied${undecided === 0 ? '' : `, ${undecided} without a decision in Jaeger`}`);
}

/** Whether two rows of the same call came out differently (decision or rule). */
function decidedOtherwise(a: Row, b: Row): boolean {
  return (a.span?.decision ?? a.observed.decision) !== (b.span?.decision ?? b.observed.decision) || a.span?.rule !== b.span?.rule;
}

/** Prints whether Jaeger holds each decision, as a child of the agent's span; true when it does for every decided call. */
export function printTraceCheck(rows: readonly Row[], jaeger: string): boolean {
  const decided = rows.filter((r) => r.observed.decisionId !== null);
  const parented = decided.filter((r) => r.span !== undefined && r.spansInTrace === 1 && r.span.parentSpanId === r.observed.spanId && r.observed.decisionId === r.observed.traceId);
  const missing = decided.filter((r) => !parented.includes(r));
  if (missing.length === 0) {
    console.log(`\nJaeger has all ${decided.length} decision traces, each decision a child of the agent's span (checked one by one through ${jaeger}/api/traces/<trace id>).`);
  } else {
    console.log(`\nJaeger has ${parented.length} of ${decided.length} decision traces as children of the agent's span; not: ${missing.map((r) => r.observed.traceId).join(', ')}`);
  }
  console.log(`Look one up: curl -s ${jaeger}/api/traces/${decided[0]?.observed.traceId ?? '<trace id>'}`);
  console.log('(The locally built Jaeger serves its query API, not the UI; point a full Jaeger or Grafana Tempo at the same OTLP endpoint to browse.)');
  return missing.length === 0;
}
