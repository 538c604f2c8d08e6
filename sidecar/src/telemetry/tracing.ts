// Audit spans. Each decision becomes one finished ReadableSpan (decision-span.ts)
// that the OpenTelemetry SDK's batch span processor queues and exports in
// batches through the SDK's OTLP export delegate for the configured protocol
// (exporter.ts).
//
// Nothing of the export runs before the answer to Envoy: record() only builds
// the span and queues it here; the spans reach the processor from a
// setImmediate callback, which runs after the I/O callbacks that wrote the
// answers. There each span is encoded to OTLP protobuf (otlp-trace-proto.ts;
// 1.73 µs in the run of `make bench-impls` quoted there), and when a batch is
// full the processor sends it from there; sending a batch of encoded spans is
// a copy.
//
// Until 2026-11-29 the export ran in a worker thread with the SDK's own
// serializer, at the cost of a second V8 isolate in every sidecar. The SDK's
// serializer stays available (AGENTWARDEN_OTLP_SERIALIZER=sdk, exporter.ts);
// `make bench-impls` prints both serializers side by side.
//
// What is queued is bounded by the queue size; spans beyond it, and spans
// whose export fails, are dropped and counted.
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OtlpProtocol } from './protocol.js';
import { DecisionSpan, type DecisionSpanFields, type SpanRef } from './decision-span.js';
import { createOtlpExporter } from './exporter.js';
import { IdSource, parseTraceparent } from './trace-context.js';
import type { OtlpSerializer } from './serializer.js';

export interface SpanCounters {
  /** Spans exported and acknowledged by the collector. */
  exported: number;
  /** Spans dropped: queue full, export failed, or not exported by the end of shutdown. */
  dropped: number;
}

/**
 * A decision span's ids, chosen before the decision is made: the session
 * store keeps them as the origin of the taints the decision adds, and a later
 * decision's span links to them.
 */
export interface DecisionTrace {
  readonly traceId: string;
  readonly spanId: string;
}

export interface AuditTracer {
  readonly counters: SpanCounters;
  /**
   * The ids of the span of a decision about to be made: the trace of
   * `traceparent` (the span is a child of the caller's span) or a new trace,
   * and a new span id.
   */
  begin(traceparent: string | undefined, tracestate: string | undefined, startMs: number): DecisionTrace;
  /**
   * Records the decision span `begin` gave the ids of, finished now, with
   * links to `links` (none when undefined); returns its trace id (the decision id).
   */
  end(trace: DecisionTrace, attributes: Attributes, links: readonly SpanRef[] | undefined): string;
  /** Resolves once everything recorded so far has been exported or dropped. */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface AuditTracerOptions {
  /** Undefined: export off (decision ids are still trace ids). */
  readonly protocol: OtlpProtocol | undefined;
  /** The protobuf serializer (grpc, http/protobuf). Default 'sidecar' (otlp-trace-proto.ts); 'sdk' is the fallback. */
  readonly serializer?: OtlpSerializer;
  readonly resource: Attributes;
  /** Spans recorded and not yet exported, at most. */
  readonly maxQueue: number;
  /** Spans per export request, at most. */
  readonly batchSize: number;
  /** Batch export delay, ms. */
  readonly delayMs: number;
  /** Called when an export fails (its spans are counted as dropped). */
  readonly onExportFailure?: (error: Error | undefined, spans: number) => void;
}

/** How long shutdown waits for the last export (the OTLP exporters retry for about 10 s). */
const SHUTDOWN_TIMEOUT_MS = 15_000;

export async function createAuditTracer(options: AuditTracerOptions): Promise<AuditTracer> {
  const counters: SpanCounters = { exported: 0, dropped: 0 };
  const ids = new IdSource();
  const now = (): number => performance.timeOrigin + performance.now();
  if (options.protocol === undefined) {
    return {
      counters,
      begin: (traceparent) => ({ traceId: parseTraceparent(traceparent)?.traceId ?? ids.traceId(), spanId: ids.spanId() }),
      end: (trace) => trace.traceId,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }

  const inner = await createOtlpExporter(options.protocol, options.serializer);
  const resource: Resource = resourceFromAttributes(options.resource);
  // Recorded and not yet reported by the exporter; the processor's own queue
  // is never fuller than this, so it never drops on its own (uncounted).
  let outstanding = 0;
  let finished = false;
  const settle = (exported: number, dropped: number): void => {
    if (finished) return;
    counters.exported += exported;
    counters.dropped += dropped;
    outstanding -= exported + dropped;
  };
  // Every span given to the processor is reported here once: exported or dropped.
  const counting: SpanExporter = {
    export(spans: ReadableSpan[], done): void {
      try {
        inner.export(spans, (result) => {
          const ok = result.code === ExportResultCode.SUCCESS;
          settle(ok ? spans.length : 0, ok ? 0 : spans.length);
          if (!ok) options.onExportFailure?.(result.error, spans.length);
          done(result);
        });
      } catch (e: unknown) {
        const error = e instanceof Error ? e : new Error(String(e));
        settle(0, spans.length);
        options.onExportFailure?.(error, spans.length);
        done({ code: ExportResultCode.FAILED, error });
      }
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
  const processor = new BatchSpanProcessor(counting, {
    maxQueueSize: options.maxQueue,
    maxExportBatchSize: Math.min(options.batchSize, options.maxQueue),
    scheduledDelayMillis: options.delayMs,
  });

  let pending: PendingDecision[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const handOver = (): void => {
    if (scheduled !== undefined) {
      clearImmediate(scheduled);
      scheduled = undefined;
    }
    const spans = pending;
    pending = [];
    for (const fields of spans) {
      try {
        // The span encodes itself here; a full batch is sent from here, synchronously.
        processor.onEnd(new DecisionSpan(fields));
      } catch (e: unknown) {
        // onEnd threw before the span reached the exporter: it is lost.
        settle(0, 1);
        options.onExportFailure?.(e instanceof Error ? e : new Error(String(e)), 1);
      }
      // The ids may live on as a taint's origin; what else the span held need not.
      fields.release();
    }
  };

  return {
    counters,
    begin(traceparent, tracestate, startMs): DecisionTrace {
      const parent = parseTraceparent(traceparent);
      return parent === undefined
        ? new PendingDecision(ids.traceId(), ids.spanId(), undefined, undefined, startMs, resource)
        : new PendingDecision(parent.traceId, ids.spanId(), parent.spanId, tracestate, startMs, resource);
    },
    end(trace, attributes, links): string {
      if (!(trace instanceof PendingDecision)) throw new Error('audit span: end() of ids this tracer did not begin');
      if (finished || outstanding >= options.maxQueue) {
        counters.dropped++;
        return trace.traceId;
      }
      outstanding++;
      trace.endMs = now();
      trace.attributes = attributes;
      trace.links = links;
      pending.push(trace);
      scheduled ??= setImmediate(handOver);
      return trace.traceId;
    },
    async forceFlush(): Promise<void> {
      handOver();
      await processor.forceFlush().catch(() => undefined);
    },
    async shutdown(): Promise<void> {
      if (finished) return;
      handOver();
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        processor.shutdown().catch(() => undefined),
        new Promise<void>((resolve) => { timeout = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS); }),
      ]);
      clearTimeout(timeout);
      // Whatever the exporter has not reported by now is lost.
      counters.dropped += outstanding;
      outstanding = 0;
      finished = true;
    },
  };
}

const NO_ATTRIBUTES: Attributes = Object.freeze({});

/**
 * One decision span from begin() until it is encoded: its ids (what a taint's
 * origin keeps), then what end() adds. One object per decision, as before
 * sessions: a decision without a session allocates nothing more.
 */
class PendingDecision implements DecisionTrace, DecisionSpanFields {
  endMs = 0;
  attributes: Attributes = NO_ATTRIBUTES;
  links: readonly SpanRef[] | undefined = undefined;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly parentSpanId: string | undefined,
    readonly traceState: string | undefined,
    readonly startMs: number,
    readonly resource: Resource,
  ) {}

  /** Drops what only the encoding needed. */
  release(): void {
    this.attributes = NO_ATTRIBUTES;
    this.links = undefined;
  }
}
