// Audit spans through the OpenTelemetry JS SDK: a tracer provider with the
// sidecar's resource, a batch span processor with a bounded queue, and an OTLP
// exporter for the protocol OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names (the
// exporters read the other OTEL_EXPORTER_OTLP_* variables themselves). Spans
// that do not fit the queue, or whose export fails, are dropped and counted.
import { ROOT_CONTEXT, SpanKind, type Attributes, type Context, type Tracer } from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { OtlpProtocol } from '../config.js';

export interface SpanCounters {
  /** Spans handed to the exporter and acknowledged. */
  exported: number;
  /** Spans dropped: queue full, or export failed. */
  dropped: number;
}

/** Counts exported and failed spans of the wrapped exporter. */
class CountingExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter, private readonly counters: SpanCounters, private readonly done: (n: number) => void) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.counters.exported += spans.length;
      else this.counters.dropped += spans.length;
      this.done(spans.length);
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * Bounds the spans waiting for export. The SDK's batch processor also drops
 * beyond its queue, but does not expose the count; this one counts.
 */
class BoundedProcessor implements SpanProcessor {
  private pending = 0;
  readonly batch: BatchSpanProcessor;

  constructor(exporter: SpanExporter, private readonly maxQueue: number, delayMs: number, private readonly counters: SpanCounters) {
    const counting = new CountingExporter(exporter, counters, (n) => { this.pending -= n; });
    this.batch = new BatchSpanProcessor(counting, { maxQueueSize: maxQueue, maxExportBatchSize: Math.min(512, maxQueue), scheduledDelayMillis: delayMs });
  }

  onStart(span: Span, parentContext: Context): void {
    this.batch.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    if (this.pending >= this.maxQueue) {
      this.counters.dropped++;
      return;
    }
    this.pending++;
    this.batch.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.batch.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.batch.shutdown();
  }
}

export interface AuditTracer {
  readonly counters: SpanCounters;
  /** Records one finished decision span parented on `traceparent`; returns its trace id (the decision id). */
  record(attributes: Attributes, traceparent: string | undefined, tracestate: string | undefined, startMs: number): string;
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();
const getter = {
  keys: (carrier: Record<string, string>): string[] => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string): string | undefined => carrier[key],
};

export async function exporterFor(protocol: OtlpProtocol): Promise<SpanExporter> {
  switch (protocol) {
    case 'grpc': return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
    case 'http/json': return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    case 'http/protobuf': return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  }
}

export function createAuditTracer(exporter: SpanExporter | undefined, resource: Attributes, maxQueue: number, delayMs: number): AuditTracer {
  const counters: SpanCounters = { exported: 0, dropped: 0 };
  const processors = exporter === undefined ? [] : [new BoundedProcessor(exporter, maxQueue, delayMs, counters)];
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    // Every decision is audited, whatever the caller's sampling flag says.
    sampler: new AlwaysOnSampler(),
    spanProcessors: processors,
  });
  const tracer: Tracer = provider.getTracer('agentwarden-sidecar');
  return {
    counters,
    record(attributes, traceparent, tracestate, startMs): string {
      let ctx = ROOT_CONTEXT;
      if (traceparent !== undefined) {
        const carrier: Record<string, string> = { traceparent };
        if (tracestate !== undefined) carrier['tracestate'] = tracestate;
        ctx = propagator.extract(ROOT_CONTEXT, carrier, getter);
      }
      const span = tracer.startSpan('agentwarden.decision', { kind: SpanKind.INTERNAL, attributes, startTime: startMs }, ctx);
      const id = span.spanContext().traceId;
      span.end();
      return id;
    },
    // Export failures are counted as dropped spans by CountingExporter; they never reject here.
    shutdown: () => provider.shutdown().catch(() => undefined),
    forceFlush: () => provider.forceFlush().catch(() => undefined),
  };
}

