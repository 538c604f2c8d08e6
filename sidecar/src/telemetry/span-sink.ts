// Where the tracer (tracing.ts) hands each decided span: span-batches.ts by
// default, sdk-spans.ts for OTLP http/json and the SDK's serializer.
import type { Attributes } from '@opentelemetry/api';
import type { DecisionSpanRecord } from './otlp-trace-proto.js';

/**
 * Which queue holds decided spans until export (AGENTWARDEN_SPAN_QUEUE):
 * `batches`, reused batch buffers (span-batches.ts, the default), or `sdk`, the
 * SDK's BatchSpanProcessor of ReadableSpans as before issue 20 (sdk-spans.ts;
 * `make bench-memory` runs the sidecar with each, side by side).
 */
export type SpanQueue = 'batches' | 'sdk';
export const SPAN_QUEUES: readonly SpanQueue[] = ['batches', 'sdk'];
export const DEFAULT_SPAN_QUEUE: SpanQueue = 'batches';

export function isSpanQueue(s: string): s is SpanQueue {
  return (SPAN_QUEUES as readonly string[]).includes(s);
}

/** A span sink: takes decided spans, sends them, reports each once (settle). */
export interface SpanSink {
  /** Takes the span (encodes it now: the record need not live on); throws if the span is lost. */
  add(span: DecisionSpanRecord): void;
  /** Sends what is queued; resolves once everything sent so far is settled. */
  flush(): Promise<void>;
  /** flush(), then the exporter's shutdown. */
  shutdown(): Promise<void>;
}

export interface SpanSinkOptions {
  readonly resource: Attributes;
  readonly maxQueue: number;
  readonly batchSize: number;
  readonly delayMs: number;
  /** Every span added is reported here once: exported, or dropped with the error. */
  readonly settle: (exported: number, dropped: number, error: Error | undefined) => void;
}

