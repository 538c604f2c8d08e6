// Decision spans read back from Jaeger's query API (GET /api/traces/<trace id>,
// its JSON): every `agentwarden.decision` span of the trace with its
// attributes (DESIGN.md, "Audit"). Pure: the fetch is in jaeger.ts.

export const DECISION_SPAN = 'agentwarden.decision';

/** One recorded decision, as its span says. */
export interface DecisionRecord {
  readonly traceId: string;
  readonly spanId: string;
  /** The caller's span the decision continues (CHILD_OF), when the request carried a traceparent. */
  readonly parentSpanId: string | null;
  /** Start of the span, ms since the epoch. */
  readonly startMs: number;
  readonly decision: string;
  readonly mode: string;
  readonly policy: string;
  readonly rule: string;
  readonly reason: string;
  /** The snapshot (content hash) the sidecar decided with. */
  readonly policyVersion: string;
  readonly audit: string | null;
  readonly namespace: string;
  readonly pod: string;
  readonly method: string;
  readonly host: string;
  readonly port: string;
  readonly path: string;
  readonly mcpMethod: string | null;
  readonly tool: string | null;
  readonly grant: string | null;
  readonly grantKind: string | null;
  readonly overriddenRule: string | null;
  readonly approvalRequest: string | null;
  readonly sessionId: string | null;
  readonly taints: readonly string[];
  readonly taintsAdded: readonly string[];
  readonly anomaly: string | null;
  /** Span links (FOLLOWS_FROM): the decisions that added the session taints this decision turned on. */
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
}

interface JaegerTag { readonly key: string; readonly type?: string; readonly value: unknown }
interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly startTime?: number;
  readonly references?: readonly { readonly refType: string; readonly traceID?: string; readonly spanID: string }[];
  readonly tags?: readonly JaegerTag[];
}

/** The trace's decision spans; [] when the answer holds no trace or no decision span. */
export function decisionsOfJaegerTrace(body: unknown): DecisionRecord[] {
  const data = isRecord(body) && Array.isArray(body['data']) ? (body['data'] as unknown[]) : [];
  const spans = data.flatMap((t) => (isRecord(t) && Array.isArray(t['spans']) ? (t['spans'] as JaegerSpan[]) : []));
  return spans.filter((s) => s.operationName === DECISION_SPAN).map(toRecord).sort((a, b) => a.startMs - b.startMs);
}

/** How many spans the answer holds (for "the trace has N spans, none a decision"). */
export function spanCount(body: unknown): number {
  const data = isRecord(body) && Array.isArray(body['data']) ? (body['data'] as unknown[]) : [];
  return data.reduce<number>((n, t) => n + (isRecord(t) && Array.isArray(t['spans']) ? t['spans'].length : 0), 0);
}

function toRecord(s: JaegerSpan): DecisionRecord {
  const raw = (key: string): unknown => s.tags?.find((t) => t.key === key)?.value;
  const tag = (key: string): string | null => {
    const v = raw(key);
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
  };
  // Jaeger carries an array attribute as its JSON text.
  const list = (key: string): string[] => {
    const v = raw(key);
    if (Array.isArray(v)) return v.map(String);
    if (typeof v !== 'string' || v === '') return [];
    try {
      const parsed: unknown = JSON.parse(v);
      return Array.isArray(parsed) ? parsed.map(String) : [v];
    } catch {
      return [v];
    }
  };
  return {
    traceId: s.traceID.padStart(32, '0'),
    spanId: s.spanID.padStart(16, '0'),
    parentSpanId: s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID.padStart(16, '0') ?? null,
    startMs: Math.floor((s.startTime ?? 0) / 1000),
    decision: tag('agentwarden.decision') ?? '',
    mode: tag('agentwarden.mode') ?? '',
    policy: tag('agentwarden.policy') ?? '',
    rule: tag('agentwarden.rule') ?? '',
    reason: tag('agentwarden.reason') ?? '',
    policyVersion: tag('agentwarden.policy_version') ?? '',
    audit: tag('agentwarden.audit.decision'),
    namespace: tag('k8s.namespace.name') ?? '',
    pod: tag('k8s.pod.name') ?? '',
    method: tag('http.request.method') ?? '',
    host: tag('server.address') ?? '',
    port: tag('server.port') ?? '',
    path: tag('url.path') ?? '',
    mcpMethod: tag('mcp.method.name'),
    tool: tag('gen_ai.tool.name'),
    grant: tag('agentwarden.grant'),
    grantKind: tag('agentwarden.grant.kind'),
    overriddenRule: tag('agentwarden.overridden.rule'),
    approvalRequest: tag('agentwarden.approval.request'),
    sessionId: tag('agentwarden.session.id'),
    taints: list('agentwarden.session.taints'),
    taintsAdded: list('agentwarden.session.taints.added'),
    anomaly: tag('agentwarden.anomaly'),
    links: (s.references ?? []).filter((r) => r.refType === 'FOLLOWS_FROM').map((r) => ({ traceId: (r.traceID ?? '').padStart(32, '0'), spanId: r.spanID.padStart(16, '0') })),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
