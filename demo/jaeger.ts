// The audit trail as an auditor reads it: each decision span looked up in
// Jaeger by its trace id (/api/traces/<id>), with the agent's span it is a
// child of.

export interface DecisionSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** The span the decision continues (CHILD_OF): the agent's span from its traceparent. */
  readonly parentSpanId: string | null;
  readonly decision: string;
  readonly policy: string;
  readonly rule: string;
  readonly reason: string;
  /** What the Audit policies would have decided (allow | deny), when any governs the pod. */
  readonly audit: string | null;
  /** The request as the sidecar read it. */
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly mcpMethod: string | null;
  readonly tool: string | null;
  /** The grant that allowed the request (agentwarden.grant) and its kind (approval | break-glass). */
  readonly grant: string | null;
  readonly grantKind: string | null;
  /** The AgentAccessRequest a RequireApproval deny asks for (agentwarden.approval.request). */
  readonly approvalRequest: string | null;
  /** The session's taints before the request, and those this decision added (JSON arrays in the span). */
  readonly taints: readonly string[];
  readonly taintsAdded: readonly string[];
  /** Span links (FOLLOWS_FROM): the decisions that added the taints this decision turned on. */
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
}

interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly references?: readonly { readonly refType: string; readonly traceID: string; readonly spanID: string }[];
  readonly tags?: readonly { readonly key: string; readonly value: unknown }[];
}

const DECISION_SPAN = 'agentwarden.decision';
const POLL_MS = 200;

/** The decision spans of one trace; empty while Jaeger does not have it yet. */
export async function decisionSpans(jaeger: string, traceId: string): Promise<DecisionSpan[]> {
  const res = await fetch(`${jaeger}/api/traces/${traceId}`);
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`Jaeger ${jaeger}/api/traces/${traceId}: HTTP ${res.status}`);
  const body = (await res.json()) as { data?: { spans?: JaegerSpan[] }[] };
  return (body.data?.[0]?.spans ?? []).filter((s) => s.operationName === DECISION_SPAN).map(toDecision);
}

function toDecision(s: JaegerSpan): DecisionSpan {
  const tag = (key: string): string | null => {
    const v = s.tags?.find((t) => t.key === key)?.value;
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
  };
  return {
    traceId: s.traceID.padStart(32, '0'),
    spanId: s.spanID.padStart(16, '0'),
    parentSpanId: s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID.padStart(16, '0') ?? null,
    decision: tag('agentwarden.decision') ?? '',
    policy: tag('agentwarden.policy') ?? '',
    rule: tag('agentwarden.rule') ?? '',
    reason: tag('agentwarden.reason') ?? '',
    audit: tag('agentwarden.audit.decision'),
    method: tag('http.request.method') ?? '',
    host: tag('server.address') ?? '',
    path: tag('url.path') ?? '',
    mcpMethod: tag('mcp.method.name'),
    tool: tag('gen_ai.tool.name'),
    grant: tag('agentwarden.grant'),
    grantKind: tag('agentwarden.grant.kind'),
    approvalRequest: tag('agentwarden.approval.request'),
    taints: labels(tag('agentwarden.session.taints')),
    taintsAdded: labels(tag('agentwarden.session.taints.added')),
    links: (s.references ?? []).filter((r) => r.refType === 'FOLLOWS_FROM').map((r) => ({ traceId: r.traceID.padStart(32, '0'), spanId: r.spanID.padStart(16, '0') })),
  };
}

/** A string-array attribute as Jaeger shows it ('["pii","untrusted"]'); empty when absent or not an array. */
function labels(json: string | null): string[] {
  if (json === null) return [];
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The decision span `spanId` of trace `traceId`, once Jaeger has it (undefined after timeoutMs). */
export async function decisionSpan(jaeger: string, traceId: string, spanId: string, timeoutMs: number): Promise<DecisionSpan | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await decisionSpans(jaeger, traceId)).find((d) => d.spanId === spanId);
    if (found !== undefined || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Whether Jaeger's query API answers. */
export async function jaegerReachable(jaeger: string): Promise<boolean> {
  return fetch(`${jaeger}/api/services`).then((r) => r.ok, () => false);
}

/**
 * Waits until Jaeger holds a decision span for every trace id, checking each
 * trace by its id; resolves with what it found when timeoutMs passes.
 */
export async function collectDecisions(jaeger: string, traceIds: readonly string[], timeoutMs: number): Promise<Map<string, DecisionSpan[]>> {
  const found = new Map<string, DecisionSpan[]>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const id of traceIds) {
      if (found.has(id)) continue;
      const spans = await decisionSpans(jaeger, id);
      if (spans.length > 0) found.set(id, spans);
    }
    if (found.size === traceIds.length || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
