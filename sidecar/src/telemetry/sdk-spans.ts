// Audit spans through the OpenTelemetry SDK's BatchSpanProcessor: each
// decision becomes a finished ReadableSpan (decision-span.ts) that the
// processor queues and exports in batches through the SDK's exporter. The
// path of OTLP http/json (the SDK's JSON serializer reads spans) and of
// AGENTWARDEN_OTLP_SERIALIZER=sdk (the SDK's protobuf serializer, the
// fallback); the default, protobuf with the sidecar's serializer, goes through
// span-batches.ts instead. Loaded only when one of those is configured.
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OtlpProtocol } from './protocol.js';
import type { OtlpSerializer } from './serializer.js';
import { DecisionSpan } from './decision-span.js';
import type { DecisionSpanRecord } from './otlp-trace-proto.js';
import { createOtlpExporter } from './exporter.js';
import type { SpanSink, SpanSinkOptions } from './span-sink.js';

export async function sdkSpanSink(protocol: OtlpProtocol, serializer: OtlpSerializer | undefined, options: SpanSinkOptions): Promise<SpanSink> {
  const inner = await createOtlpExporter(protocol, serializer);
  const resource = resourceFromAttributes(options.resource);
  // Every span given to the processor is reported here once: exported or dropped.
  const counting: SpanExporter = {
    export(spans: ReadableSpan[], done): void {
      try {
        inner.export(spans, (result) => {
          const ok = result.code === ExportResultCode.SUCCESS;
          options.settle(ok ? spans.length : 0, ok ? 0 : spans.length, ok ? undefined : result.error);
          done(result);
        });
      } catch (e: unknown) {
        const error = e instanceof Error ? e : new Error(String(e));
        options.settle(0, spans.length, error);
        done({ code: ExportResultCode.FAILED, error });
      }
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
  // The tracer never has more than maxQueue spans outstanding, so the
  // processor's own queue never drops on its own (uncounted).
  const processor = new BatchSpanProcessor(counting, {
    maxQueueSize: options.maxQueue,
    maxExportBatchSize: Math.min(options.batchSize, options.maxQueue),
    scheduledDelayMillis: options.delayMs,
  });
  return {
    add(d: DecisionSpanRecord): void {
      // The span encodes itself here; a full batch is sent from here, synchronously.
      processor.onEnd(new DecisionSpan({
        traceId: d.traceId, spanId: d.spanId, parentSpanId: d.parentSpanId, traceState: d.traceState,
        startMs: d.startMs, endMs: d.endMs, attributes: d.attributes, links: d.links, resource,
      }));
    },
    flush: () => processor.forceFlush().catch(() => undefined),
    shutdown: () => processor.shutdown().catch(() => undefined),
  };
}
