// One finished decision as an OpenTelemetry ReadableSpan: what the SDK's batch
// span processor queues and its OTLP exporters serialize. A class rather than
// an object literal per span, so the span context is not a closure per decision.
import { SpanKind, SpanStatusCode, type Attributes, type HrTime, type Link, type SpanContext, type SpanStatus, type TraceState } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { SPAN_NAME } from './attributes.js';

const SCOPE: InstrumentationScope = { name: 'agentwarden-sidecar', version: '0.1.0' };
const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };
// Every decision is audited, whatever the caller's sampling flag says.
const SAMPLED = 1;

export interface DecisionSpanFields {
  readonly traceId: string;
  readonly spanId: string;
  /** The caller's span (from traceparent), or undefined for a root span. */
  readonly parentSpanId: string | undefined;
  /** The caller's tracestate header; only with a parent. */
  readonly traceState: string | undefined;
  /** ms since the epoch (fractional). */
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Attributes;
  readonly resource: Resource;
}

export class DecisionSpan implements ReadableSpan {
  readonly name = SPAN_NAME;
  readonly kind = SpanKind.INTERNAL;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly status = UNSET;
  readonly attributes: Attributes;
  readonly links = NO_LINKS;
  readonly events = NO_EVENTS;
  readonly ended = true;
  readonly resource: Resource;
  readonly instrumentationScope = SCOPE;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  private readonly context: SpanContext;

  constructor(f: DecisionSpanFields) {
    const traceState = f.traceState === undefined ? undefined : new ReadOnlyTraceState(f.traceState);
    this.context = { traceId: f.traceId, spanId: f.spanId, traceFlags: SAMPLED, ...(traceState === undefined ? {} : { traceState }) };
    this.parentSpanContext = f.parentSpanId === undefined ? undefined : { traceId: f.traceId, spanId: f.parentSpanId, traceFlags: SAMPLED, isRemote: true };
    this.startTime = hrTime(f.startMs);
    this.endTime = hrTime(f.endMs);
    this.duration = hrTime(Math.max(0, f.endMs - f.startMs));
    this.attributes = f.attributes;
    this.resource = f.resource;
  }

  spanContext(): SpanContext {
    return this.context;
  }
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
