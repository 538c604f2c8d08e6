// How the CLI shows an AgentAccessRequest (pure): who it is for, what it asks,
// where it stands; one line for approve/deny/review/grant, columns for `requests`.
import { operationSummary, type OperationSpec } from '../../../policy/src/index.js';
import type { AccessRequestObject } from './kube.js';
import { stateOf } from './status-patch.js';

/** spec.pod, or the selector's labels ("app=support-agent,tier in (a,b)"). */
export function agentOf(o: AccessRequestObject): string {
  const pod = o.spec['pod'];
  if (typeof pod === 'string' && pod !== '') return pod;
  const selector = o.spec['podSelector'];
  if (typeof selector !== 'object' || selector === null) return '';
  const s = selector as { matchLabels?: Record<string, unknown>; matchExpressions?: { key?: unknown; operator?: unknown; values?: unknown }[] };
  const labels = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${String(v)}`);
  const expressions = (s.matchExpressions ?? []).map((e) => {
    const values = Array.isArray(e.values) ? ` (${e.values.map(String).join(',')})` : '';
    return `${String(e.key)} ${String(e.operator).toLowerCase()}${values}`;
  });
  return [...labels, ...expressions].join(',');
}

/** status.summary, else what the spec asks: the operation, or "break-glass: rules a, b". */
export function operationOf(o: AccessRequestObject): string {
  const summary = o.status?.['summary'];
  if (typeof summary === 'string' && summary !== '') return summary;
  const rules = o.spec['rules'];
  if (Array.isArray(rules) && rules.length > 0) return `break-glass: rules ${rules.map(ruleName).join(', ')}`;
  const op = o.spec['operation'];
  if (typeof op !== 'object' || op === null) return '';
  const spec = op as Partial<OperationSpec>;
  return operationSummary({ method: spec.method ?? '', host: spec.host ?? '', port: spec.port ?? 0, path: spec.path ?? '', query: spec.query ?? '', ...(spec.mcp === undefined ? {} : { mcp: spec.mcp }) });
}

function ruleName(rule: unknown): string {
  const name = typeof rule === 'object' && rule !== null ? (rule as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name : '?';
}

function text(o: AccessRequestObject, field: string): string {
  const v = o.status?.[field];
  return typeof v === 'string' ? v : '';
}

/** "support/name is Approved (POST mcp.support.internal/mcp tools/call issue_refund) by alice until 2026-…". */
export function describeRequest(o: AccessRequestObject): string {
  const state = stateOf(o);
  const by = text(o, state === 'Denied' ? 'deniedBy' : state === 'Reviewed' ? 'reviewedBy' : 'approvedBy');
  const until = state === 'Approved' ? text(o, 'expiresAt') : '';
  return `${o.metadata.namespace}/${o.metadata.name} is ${state} (${operationOf(o)})${by === '' ? '' : ` by ${by}`}${until === '' ? '' : ` until ${until}`}`;
}
