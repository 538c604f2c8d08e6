// Where the tracer (tracing.ts) hands each decided span: span-batches.ts by
// default, sdk-spans.ts for OTLP http/json and the SDK's serializer.
import type { Attributes } from '@opentelemetry/api';
import type { DecisionSpanRecord } from './otlp-trace-proto.js';

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

