// One finished decision as an OpenTelemetry ReadableSpan: what the SDK's batch
// span processor queues and its OTLP exporters serialize. A class rather than
// an object literal per span, so the span context is not a closure per decision.
import { SpanKind, SpanStatusCode, type Attributes, type HrTime, type Link, type SpanContext, type SpanStatus, type TraceState } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { attributesOf, DECISION_SCOPE, SPAN_NAME } from './attributes.js';
import { decodeSpanAttributes, ENCODED_SPAN, encodeSpan, type DecisionSpanRecord, type EncodedSpan } from './otlp-trace-proto.js';

const SCOPE: InstrumentationScope = DECISION_SCOPE;
const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };
// Every decision is audited, whatever the caller's sampling flag says.
const SAMPLED = 1;

/** Another span this one links to (trace and span id, hex): the decision that added a taint. */
export interface SpanRef {
  readonly traceId: string;
  readonly spanId: string;
}

export interface DecisionSpanFields extends DecisionSpanRecord {
  readonly resource: Resource;
}

export class DecisionSpan implements ReadableSpan, EncodedSpan {
  readonly name = SPAN_NAME;
  readonly kind = SpanKind.INTERNAL;
  readonly status = UNSET;
  readonly links: Link[];
  readonly events = NO_EVENTS;
  readonly ended = true;
  readonly instrumentationScope = SCOPE;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly resource: Resource;
  /** The span's OTLP encoding, made here: the exporter sends these bytes. */
  readonly [ENCODED_SPAN]: Uint8Array;
  // Encoded when it is queued, so that sending a batch is a copy of bytes
  // (make bench-impls, one run on 2026-12-05: 0.22 µs per span, against
  // 1.73 µs to encode one) and serializing never holds the event loop for a
  // whole batch. The attributes are not kept beside the bytes: they are
  // decoded when read.
  // A queued span still lives until its batch is sent, long enough under load
  // to reach V8's old generation; keeping bytes instead of objects did not
  // change how many full GCs that causes (h2load -c4 -m16 with --trace-gc).
  // Hence the default queue since issue 20 (span-batches.ts): no span object,
  // each span written straight into a reused batch buffer; this class is the
  // span of AGENTWARDEN_SPAN_QUEUE=sdk, http/json and the SDK serializer
  // (`make bench-memory` prints the full GCs of both queues in one run).
  private readonly traceId: string;
  private readonly spanId: string;
  private readonly parentSpanId: string | undefined;
  private readonly traceState: string | undefined;
  private readonly startMs: number;
  private readonly endMs: number;
  /** Only while the constructor encodes the span. */
  private given: Attributes | undefined;

  constructor(f: DecisionSpanFields) {
    this.traceId = f.traceId;
    this.spanId = f.spanId;
    this.parentSpanId = f.parentSpanId;
    this.traceState = f.traceState;
    this.startMs = f.startMs;
    this.endMs = f.endMs;
    this.resource = f.resource;
    this.links = f.links === undefined || f.links.length === 0 ? NO_LINKS : f.links.map(link);
    this.given = attributesOf(f.attributes);
    this[ENCODED_SPAN] = encodeSpan(this);
    this.given = undefined;
  }

  get attributes(): Attributes {
    return this.given ?? decodeSpanAttributes(this[ENCODED_SPAN]);
  }

  spanContext(): SpanContext {
    return { traceId: this.traceId, spanId: this.spanId, traceFlags: SAMPLED, ...(this.traceState === undefined ? {} : { traceState: new ReadOnlyTraceState(this.traceState) }) };
  }

  get parentSpanContext(): SpanContext | undefined {
    return this.parentSpanId === undefined ? undefined : { traceId: this.traceId, spanId: this.parentSpanId, traceFlags: SAMPLED, isRemote: true };
  }

  get startTime(): HrTime {
    return hrTime(this.startMs);
  }

  get endTime(): HrTime {
    return hrTime(this.endMs);
  }

  get duration(): HrTime {
    return hrTime(Math.max(0, this.endMs - this.startMs));
  }
}

/** A link to one of the sidecar's own earlier decision spans (exported sampled, like every decision). */
function link(ref: SpanRef): Link {
  return { context: { traceId: ref.traceId, spanId: ref.spanId, traceFlags: SAMPLED } };
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** The caller's tracestate, passed through as received (W3C: list-members, comma separated). */
class ReadOnlyTraceState implements TraceState {
  constructor(private readonly value: string) {}

  get(key: string): string | undefined {
    for (const part of this.value.split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === key) return part.slice(eq + 1).trim();
    }
    return undefined;
  }

  set(): TraceState {
    throw new Error('a decision span\'s trace state is read-only');
  }

  unset(): TraceState {
    throw new Error('a decision span\'s trace state is read-only');
  }

  serialize(): string {
    return this.value;
  }
}
