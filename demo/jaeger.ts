// The audit trail as an auditor reads it: each decision span looked up in
// Jaeger by its trace id (/api/traces/<id>), with the agent's span it is a
// child of. The spans are read as `agentwarden explain` reads them.
import { decisionsOfJaegerTrace, type DecisionRecord } from '../cli/src/explain/trace.js';

/** A decision span as `agentwarden explain` reads it (cli/src/explain/trace.ts). */
export type DecisionSpan = DecisionRecord;

const POLL_MS = 200;

/** The decision spans of one trace; empty while Jaeger does not have it yet. */
export async function decisionSpans(jaeger: string, traceId: string): Promise<DecisionSpan[]> {
  const res = await fetch(`${jaeger}/api/traces/${traceId}`);
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`Jaeger ${jaeger}/api/traces/${traceId}: HTTP ${res.status}`);
  return decisionsOfJaegerTrace(await res.json());
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
