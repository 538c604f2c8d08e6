// Audit spans. Each decision is recorded as one span: its ids are chosen
// before the decision (begin), its attributes after (end).
//
// Nothing of the export runs before the answer to Envoy: end() only queues
// the pending decision here; the spans are encoded from a setImmediate
// callback, which runs after the I/O callbacks that wrote the answers. There
// each span is written, as OTLP protobuf, straight into the filling batch
// buffer (span-batches.ts: long-lived buffers used again batch after batch,
// so that a decided span leaves no object behind to reach V8's old
// generation), and a full batch is handed to the batch exporter (exporter.ts:
// the sidecar's OTLP/HTTP transport, or the SDK's grpc export delegate). OTLP http/json and AGENTWARDEN_OTLP_SERIALIZER=sdk go through
// the SDK's BatchSpanProcessor instead (sdk-spans.ts, loaded only then).
//
// Until 2026-11-29 the export ran in a worker thread with the SDK's own
// serializer, at the cost of a second V8 isolate in every sidecar. Until
// 2026-12-06 every span was a ReadableSpan queued in the SDK's
// BatchSpanProcessor (promoted to the old generation under load: issue 20).
//
// What is queued is bounded by the queue size; spans beyond it, and spans
// whose export fails, are dropped and counted.
import type { Attributes } from '@opentelemetry/api';
import type { OtlpProtocol } from './protocol.js';
import type { DecisionSpanRecord } from './otlp-trace-proto.js';
import { IdSource, parseTraceparent } from './trace-context.js';
import type { OtlpSerializer } from './serializer.js';
import type { SpanQueue, SpanSink, SpanSinkOptions } from './span-sink.js';
import type { OtlpTransport } from './transport.js';
import type { OtlpHttpOptions } from './otlp-http-options.js';
import type { SpanRef } from './decision-span.js';
import type { SpanAttributes } from './attributes.js';

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
  end(trace: DecisionTrace, attributes: SpanAttributes, links: readonly SpanRef[] | undefined): string;
  /** Resolves once everything recorded so far has been exported or dropped. */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface AuditTracerOptions {
  /** Undefined: export off (decision ids are still trace ids). */
  readonly protocol: OtlpProtocol | undefined;
  /** The protobuf serializer (grpc, http/protobuf). Default 'sidecar' (otlp-trace-proto.ts); 'sdk' is the fallback. */
  readonly serializer?: OtlpSerializer;
  /** Where decided spans wait for export. Default 'batches' (span-batches.ts); 'sdk': the SDK's BatchSpanProcessor. */
  readonly queue?: SpanQueue;
  /** What sends the default queue's http/protobuf batches. Default 'sidecar' (otlp-http-transport.ts); 'sdk': the SDK's export delegate. */
  readonly transport?: OtlpTransport;
  /** The sidecar's http/protobuf transport's options (config.ts); default: from OTEL_EXPORTER_OTLP_* in process.env. */
  readonly otlpHttp?: OtlpHttpOptions;
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

  // Recorded and not yet reported by the sink: at most maxQueue.
  let outstanding = 0;
  let finished = false;
  const sinkOptions: SpanSinkOptions = {
    resource: options.resource, maxQueue: options.maxQueue, batchSize: options.batchSize, delayMs: options.delayMs,
    settle(exported, dropped, error): void {
      if (finished) return;
      counters.exported += exported;
      counters.dropped += dropped;
      outstanding -= exported + dropped;
      if (dropped > 0) options.onExportFailure?.(error, dropped);
    },
  };
  const protocol = options.protocol;
  const sink = protocol === 'http/json' || options.serializer === 'sdk' || options.queue === 'sdk'
    ? await (await import('./sdk-spans.js')).sdkSpanSink(protocol, options.serializer, sinkOptions)
    : await batchSink(protocol, options, sinkOptions);

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
        sink.add(fields);
      } catch (e: unknown) {
        // The span did not reach the sink: it is lost.
        sinkOptions.settle(0, 1, e instanceof Error ? e : new Error(String(e)));
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
        ? new PendingDecision(ids.traceId(), ids.spanId(), undefined, undefined, startMs)
        : new PendingDecision(parent.traceId, ids.spanId(), parent.spanId, tracestate, startMs);
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
      await sink.flush();
    },
    async shutdown(): Promise<void> {
      if (finished) return;
      handOver();
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        sink.shutdown(),
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

/** The default sink: spans encoded into reused batch buffers, sent by the batch exporter (exporter.ts). */
async function batchSink(protocol: 'grpc' | 'http/protobuf', tracer: AuditTracerOptions, options: SpanSinkOptions): Promise<SpanSink> {
  const [{ createBatchExporter }, { SpanBatches }, { DECISION_SCOPE }] = await Promise.all([
    import('./exporter.js'), import('./span-batches.js'), import('./attributes.js'),
  ]);
  const exporter = await createBatchExporter(protocol, tracer.transport, tracer.otlpHttp);
  const batches = new SpanBatches({
    resource: options.resource, scope: DECISION_SCOPE, batchSize: Math.min(options.batchSize, options.maxQueue), delayMs: options.delayMs,
    spareBuffers: Math.ceil(options.maxQueue / Math.min(options.batchSize, options.maxQueue)) + 1,
    send: exporter.send,
    settle: options.settle,
  });
  return {
    add: (span) => { batches.add(span); },
    flush: () => batches.flush(),
    async shutdown(): Promise<void> {
      await batches.flush();
      await exporter.shutdown().catch(() => undefined);
    },
  };
}

const NO_ATTRIBUTES: Attributes = Object.freeze({});

/**
 * One decision span from begin() until it is encoded: its ids (what a taint's
 * origin keeps), then what end() adds. One object per decision, as before
 * sessions: a decision without a session allocates nothing more.
 */
class PendingDecision implements DecisionTrace, DecisionSpanRecord {
  endMs = 0;
  attributes: SpanAttributes = NO_ATTRIBUTES;
  links: readonly SpanRef[] | undefined = undefined;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly parentSpanId: string | undefined,
    readonly traceState: string | undefined,
    readonly startMs: number,
  ) {}

  /** Drops what only the encoding needed. */
  release(): void {
    this.attributes = NO_ATTRIBUTES;
    this.links = undefined;
  }
}
