// The audit span queue: decision spans encoded straight into long-lived,
// reused batch buffers, each buffer one ExportTraceServiceRequest in the
// making.
//
// Why not the SDK's BatchSpanProcessor: it queues one span object per
// decision until its batch is sent (up to OTEL_BSP_SCHEDULE_DELAY, 1 s by
// default). Under load those objects outlive a young-generation GC or two and
// are promoted: `make bench-memory` traced 19-22 full GCs per 100,000
// decisions to them (issue 20), and keeping bytes instead of attribute
// objects per span did not change that. Here a decision's objects (its
// PendingDecision and attributes) live only until the tick after the answer,
// when writeDecisionSpanFields writes them into the filling batch; what waits
// for export is bytes in a buffer that is used again once its batch is
// acknowledged. `make bench-memory` prints the sidecar's GCs and CPU per
// request beside the span export; `make soak` holds it for ten minutes.
//
// The send is not here: a sealed batch goes to the batch exporter
// (exporter.ts: the sidecar's OTLP/HTTP transport, otlp-http-transport.ts,
// with the SDK's contract for endpoint, headers, timeout, compression,
// retries and certificates from OTEL_EXPORTER_OTLP_*; for grpc the SDK's
// export delegate, whose serializer hands back the batch's bytes).
//
// Semantics kept from the BatchSpanProcessor: a batch is sent when it holds
// batchSize spans or delayMs after its first span; at most maxQueue spans are
// recorded and not yet settled (the tracer drops and counts the rest); every
// span is settled once, exported or dropped (export failed); flush() sends
// the filling batch and waits for every batch in flight.
import type { Attributes } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { WireWriter } from '../wire-writer.js';
import { WIRE_LEN } from '../../../policy/src/wire-reader.js';
import { RequestFraming, writeDecisionSpanFields, type DecisionSpanRecord } from './otlp-trace-proto.js';

/** One export request's worth of encoded spans: what the export delegate is given (its "internal representation"). */
export interface SealedBatch {
  /** Spans in the request. */
  readonly spans: number;
  /** The ExportTraceServiceRequest bytes (a view of the batch's buffer, valid until the batch is settled). */
  readonly request: Uint8Array;
}

/** Sends one sealed batch; calls done once, with whether the collector accepted it. */
export type BatchSend = (batch: SealedBatch, done: (ok: boolean, error: Error | undefined) => void) => void;

export interface SpanBatchOptions {
  readonly resource: Attributes;
  readonly scope: InstrumentationScope;
  /** Spans per export request, at most. */
  readonly batchSize: number;
  /** A batch is sent this long after its first span at the latest, ms. */
  readonly delayMs: number;
  readonly send: BatchSend;
  /** Every span is reported here once: exported, or dropped (export failed) with the error. */
  readonly settle: (exported: number, dropped: number, error: Error | undefined) => void;
  /**
   * Idle buffers kept for reuse, at most (default 2). The tracer keeps as many
   * as its queue bound can fill (maxQueue / batchSize + 1): under load they
   * are all used again instead of being allocated and freed batch after batch.
   */
  readonly spareBuffers?: number;
}

/**
 * Bytes a decision span takes, a little more than most (the bench mix's spans
 * average about 620): a batch buffer is sized from it once, so that it seldom
 * grows (growing copies it into a new one and frees the old).
 */
const SPAN_BYTES_HINT = 768;
const NO_BYTES = new Uint8Array(0);

class Batch implements SealedBatch {
  spans = 0;
  request: Uint8Array = NO_BYTES;
  readonly w: WireWriter;

  constructor(readonly room: number, bytes: number) {
    this.w = new WireWriter(room + bytes);
    this.w.pos = room;
  }

  reset(): void {
    this.spans = 0;
    this.request = NO_BYTES;
    this.w.reset();
    this.w.pos = this.room;
  }
}

export interface SpanBatchStats {
  /** Batch buffers allocated since start. */
  readonly buffersAllocated: number;
  /** Batches started in a buffer used before. */
  readonly buffersReused: number;
  /** Batches sent and not yet settled. */
  readonly inFlight: number;
}

export class SpanBatches {
  private readonly framing: RequestFraming;
  private filling: Batch | undefined;
  private readonly spare: Batch[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private idle: (() => void)[] = [];
  private allocated = 0;
  private reused = 0;

  constructor(private readonly options: SpanBatchOptions) {
    this.framing = new RequestFraming(options.resource, options.scope);
  }

  get stats(): SpanBatchStats {
    return { buffersAllocated: this.allocated, buffersReused: this.reused, inFlight: this.inFlight };
  }

  /** Writes the span into the filling batch; sends the batch when it is full. Throws only if encoding does (the span is then not in the batch). */
  add(span: DecisionSpanRecord): void {
    const batch = this.filling ?? this.start();
    const w = batch.w;
    const mark = w.pos;
    try {
      w.tag(2, WIRE_LEN);
      const at = w.begin();
      writeDecisionSpanFields(w, span);
      w.end(at);
    } catch (e: unknown) {
      w.pos = mark;
      throw e;
    }
    batch.spans++;
    if (batch.spans >= this.options.batchSize) this.sendFilling();
  }

  /** Sends the filling batch now (if any) and resolves once every batch sent has been settled. */
  flush(): Promise<void> {
    this.sendFilling();
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private start(): Batch {
    let batch = this.spare.pop();
    if (batch === undefined) {
      batch = new Batch(this.framing.maxPrefix, Math.min(this.options.batchSize, 1024) * SPAN_BYTES_HINT);
      this.allocated++;
    } else {
      this.reused++;
    }
    this.filling = batch;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sendFilling();
    }, this.options.delayMs);
    this.timer.unref();
    return batch;
  }

  private sendFilling(): void {
    const batch = this.filling;
    if (batch === undefined) return;
    this.filling = undefined;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const bytes = batch.w.finish();
    const start = this.framing.prefix(bytes, batch.room, bytes.length - batch.room);
    batch.request = bytes.subarray(start);
    this.inFlight++;
    let settled = false;
    const done = (ok: boolean, error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      const spans = batch.spans;
      // A batch the collector acknowledged has been written out whole: its buffer is free.
      // After a failure (a timeout among them) the transport may still hold it: it is left to the GC.
      if (ok && this.spare.length < (this.options.spareBuffers ?? 2)) {
        batch.reset();
        this.spare.push(batch);
      }
      this.options.settle(ok ? spans : 0, ok ? 0 : spans, error);
      if (this.inFlight === 0 && this.idle.length > 0) {
        const waiting = this.idle;
        this.idle = [];
        for (const resolve of waiting) resolve();
      }
    };
    try {
      this.options.send(batch, done);
    } catch (e: unknown) {
      done(false, e instanceof Error ? e : new Error(String(e)));
    }
  }
}
