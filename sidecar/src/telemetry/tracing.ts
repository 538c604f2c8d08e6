// Audit spans. The decision path builds a plain span record (ids, W3C parent,
// the attributes of DESIGN.md) and queues it; an export worker thread
// (export-worker.ts) turns records into OpenTelemetry ReadableSpans and
// exports them with the SDK's batch span processor and the OTLP exporter that
// OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names (the exporters read the other
// OTEL_EXPORTER_OTLP_* variables themselves). Nothing of the export runs on
// the thread that answers Envoy. What is handed over is bounded by the queue
// size; spans beyond it, and spans whose export fails, are dropped and counted.
import { Worker } from 'node:worker_threads';
import type { Attributes } from '@opentelemetry/api';
import type { OtlpProtocol } from '../config.js';
import type { ExportWorkerData, FromWorker, ToWorker } from './export-worker.js';
import { IdSource, parseTraceparent, type SpanRecord } from './span-record.js';

export interface SpanCounters {
  /** Spans exported and acknowledged by the collector. */
  exported: number;
  /** Spans dropped: queue full, export failed, or export off after a worker failure. */
  dropped: number;
}

export interface AuditTracer {
  readonly counters: SpanCounters;
  /** Records one finished decision span parented on `traceparent`; returns its trace id (the decision id). */
  record(attributes: Attributes, traceparent: string | undefined, tracestate: string | undefined, startMs: number): string;
  /** Resolves once everything recorded so far has been exported or dropped. */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface AuditTracerOptions {
  /** Undefined: export off (decision ids are still trace ids). */
  readonly protocol: OtlpProtocol | undefined;
  readonly resource: Attributes;
  /** Spans handed over and not yet exported, at most. */
  readonly maxQueue: number;
  /** Batch export delay of the worker's batch span processor, ms. */
  readonly delayMs: number;
  /** The environment of the export worker (the OTLP exporter reads OTEL_EXPORTER_OTLP_* there). */
  readonly env: Readonly<Record<string, string>>;
  readonly onWorkerError?: (error: Error) => void;
}

/** Records are handed to the worker in batches of this size, or after HANDOVER_MS. */
const HANDOVER_BATCH = 256;
const HANDOVER_MS = 20;
/** How long shutdown waits for the last export (the OTLP exporter retries for about 10 s). */
const SHUTDOWN_TIMEOUT_MS = 15_000;

export function createAuditTracer(options: AuditTracerOptions): AuditTracer {
  const counters: SpanCounters = { exported: 0, dropped: 0 };
  const ids = new IdSource();
  const now = (): number => performance.timeOrigin + performance.now();
  let worker: Worker | undefined;
  let pending: SpanRecord[] = [];
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let nextFlushId = 0;
  const flushWaiters = new Map<number, () => void>();
  let closed: (() => void) | undefined;

  if (options.protocol !== undefined) {
    const data: ExportWorkerData = { protocol: options.protocol, resource: options.resource, maxQueue: options.maxQueue, delayMs: options.delayMs };
    worker = new Worker(new URL('./export-worker.js', import.meta.url), {
      workerData: data, name: 'agentwarden-span-export', env: { ...options.env },
      // The worker holds at most maxQueue spans; small generations keep the sidecar's RSS small.
      // Measured (h2load -c4 -m16, OTLP http/protobuf to a local sink): the worker's
      // heap is 16 MB idle (an empty Node worker alone is 11 MB, 7 MB of it in use)
      // and 24-26 MB under load; a record is ~700 bytes cloned and ~1 KB on the
      // worker's heap, so a full 2048-span queue is ~2 MB. Smaller limits (young
      // 3-4 MB, old 32 MB) and smaller batches (export 128, handover 64) moved
      // peak RSS by less than run-to-run noise (±7 MB), so these stay.
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 },
    });
    worker.unref();
    worker.on('message', (msg: FromWorker) => {
      switch (msg.type) {
        case 'done':
          counters.exported += msg.exported;
          counters.dropped += msg.dropped;
          inFlight -= msg.exported + msg.dropped;
          break;
        case 'flushed':
          flushWaiters.get(msg.id)?.();
          flushWaiters.delete(msg.id);
          break;
        case 'closed':
          closed?.();
          break;
      }
    });
    worker.on('error', (e: Error) => {
      // Export is lost, decisions are not: count what was handed over as dropped and stop exporting.
      counters.dropped += inFlight + pending.length;
      inFlight = 0;
      pending = [];
      worker = undefined;
      for (const w of flushWaiters.values()) w();
      flushWaiters.clear();
      closed?.();
      options.onWorkerError?.(e);
    });
  }

  const post = (msg: ToWorker): void => {
    worker?.postMessage(msg);
  };
  const handOver = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending.length === 0 || worker === undefined) return;
    inFlight += pending.length;
    post({ type: 'spans', spans: pending });
    pending = [];
  };

  return {
    counters,
    record(attributes, traceparent, tracestate, startMs): string {
      const parent = parseTraceparent(traceparent);
      const traceId = parent?.traceId ?? ids.traceId();
      if (worker === undefined) return traceId;
      if (inFlight + pending.length >= options.maxQueue) {
        counters.dropped++;
        return traceId;
      }
      pending.push({
        traceId,
        spanId: ids.spanId(),
        parentSpanId: parent?.spanId ?? '',
        // Every decision is audited, whatever the caller's sampling flag says.
        traceFlags: 1,
        traceState: parent === undefined ? undefined : tracestate,
        startMs,
        endMs: now(),
        attributes,
      });
      if (pending.length >= HANDOVER_BATCH) handOver();
      else if (timer === undefined) {
        timer = setTimeout(handOver, HANDOVER_MS);
        timer.unref();
      }
      return traceId;
    },
    forceFlush(): Promise<void> {
      handOver();
      if (worker === undefined) return Promise.resolve();
      const id = nextFlushId++;
      return new Promise((resolve) => {
        flushWaiters.set(id, resolve);
        post({ type: 'flush', id });
      });
    },
    async shutdown(): Promise<void> {
      handOver();
      const w = worker;
      if (w === undefined) return;
      await new Promise<void>((resolve) => {
        const timeout = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS);
        closed = () => { clearTimeout(timeout); resolve(); };
        post({ type: 'shutdown' });
      });
      // Whatever the worker could not report before closing is lost.
      counters.dropped += inFlight;
      inFlight = 0;
      worker = undefined;
      await w.terminate();
    },
  };
}
