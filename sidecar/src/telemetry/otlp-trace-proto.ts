// ExportTraceServiceRequest protobuf bytes from ReadableSpans: the serializer
// the SDK's OTLP export delegates (http/protobuf and grpc) call with each batch.
//
// Why not the SDK's ProtobufTraceSerializer (@opentelemetry/otlp-transformer):
// the spans are serialized on the thread that answers Envoy. The SDK's sizes
// every batch in a first pass and allocates a Uint8Array per id; this one
// writes in one pass, ids straight from hex, and keeps the encoded KeyValues
// of repeated string attributes. `make bench-impls` (512-span batches of
// decision spans, 9 alternated rounds, one run on 2026-12-05): SDK 6.86 µs
// per span, this 1.87 µs (3.77×); as the sidecar runs it, 1.73 µs to encode a
// span when it is queued and 0.22 µs to send it in a batch (the SDK's batch
// span processor's queue; the default queue, span-batches.ts, writes each span
// with writeDecisionSpanFields straight into its batch, sent as it is). It writes the same
// bytes as the SDK's serializer, field for field and in the same order, which
// sidecar/test/otlp-trace-proto.test.ts checks over generated spans.
//
// Field numbers (opentelemetry/proto/collector/trace/v1/trace_service.proto,
// trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto):
//   ExportTraceServiceRequest  resource_spans=1
//   ResourceSpans  resource=1 scope_spans=2 schema_url=3
//   Resource       attributes=1 dropped_attributes_count=2
//   ScopeSpans     scope=1 spans=2 schema_url=3
//   InstrumentationScope  name=1 version=2 attributes=3 dropped_attributes_count=4
//   Span   trace_id=1 span_id=2 trace_state=3 parent_span_id=4 name=5 kind=6
//          start_time_unix_nano=7 end_time_unix_nano=8 attributes=9
//          dropped_attributes_count=10 events=11 dropped_events_count=12 links=13
//          dropped_links_count=14 status=15 flags=16
//   Event  time_unix_nano=1 name=2 attributes=3 dropped_attributes_count=4
//   Link   trace_id=1 span_id=2 trace_state=3 attributes=4 dropped_attributes_count=5 flags=6
//   Status message=2 code=3
//   KeyValue key=1 value=2      ArrayValue values=1      KeyValueList values=1
//   AnyValue string=1 bool=2 int=3 double=4 array=5 kvlist=6 bytes=7
//   ExportTraceServiceResponse partial_success=1 {rejected_spans=1 error_message=2}
import type { Attributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { IExportTraceServiceResponse, ISerializer } from '@opentelemetry/otlp-transformer';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireReader } from '../../../policy/src/wire-reader.js';
import { encoded, varintSize, WireWriter } from '../wire-writer.js';
import { writeAttributes } from './attribute-wire.js';
import { writeDecisionAttributes } from './decision-attributes-wire.js';
import { DecisionAttributes, SPAN_NAME, type SpanAttributes } from './attributes.js';

// W3C trace flags in the low byte; bit 8: "is_remote is known", bit 9: is_remote.
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;

export const traceProtoSerializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest(spans: ReadableSpan[]): Uint8Array {
    const w = new WireWriter(sizeHint(spans.length));
    for (const [resource, scopes] of group(spans)) {
      w.tag(1, WIRE_LEN);
      const rs = w.begin();
      writeResource(w, resource);
      for (const [scope, scopeSpans] of scopes) {
        w.tag(2, WIRE_LEN);
        const ss = w.begin();
        writeScope(w, scope);
        for (const span of scopeSpans) {
          w.tag(2, WIRE_LEN);
          writeSpan(w, span);
        }
        if (scope.schemaUrl) w.stringField(3, scope.schemaUrl);
        w.end(ss);
      }
      if (resource.schemaUrl) w.stringField(3, resource.schemaUrl);
      w.end(rs);
    }
    lastBytesPerSpan = spans.length === 0 ? lastBytesPerSpan : Math.ceil(w.pos / spans.length);
    return w.finish();
  },

  deserializeResponse(data: Uint8Array): IExportTraceServiceResponse {
    const r = new WireReader(data);
    const out: IExportTraceServiceResponse = {};
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === ((1 << 3) | WIRE_LEN)) {
        out.partialSuccess = partialSuccess(sub(r));
      } else {
        r.skipUnknown(tag, 0);
      }
    }
    return out;
  },
};

/**
 * A span that carries its own OTLP encoding: the serializer copies these bytes
 * instead of reading the span. DecisionSpan encodes itself when it is queued,
 * so that what waits for export is a few hundred bytes, not objects.
 */
export const ENCODED_SPAN: unique symbol = Symbol('agentwarden.otlpSpanBytes');

export interface EncodedSpan {
  /** The Span message's fields (without its tag and length), as writeSpanFields writes them. */
  readonly [ENCODED_SPAN]: Uint8Array;
}

/** Encoded spans are copied into slabs of this size: one allocation per ~100 spans, not one per span. */
const SLAB_SIZE = 64 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabUsed = 0;
let scratch: WireWriter | undefined;

/** The Span message of `span` (fields only, no tag or length), as serializeRequest writes it. */
export function encodeSpan(span: ReadableSpan): Uint8Array {
  scratch ??= new WireWriter(4096);
  scratch.reset();
  writeSpanFields(scratch, span);
  const bytes = scratch.finish();
  if (bytes.length > SLAB_SIZE / 4) return Buffer.from(bytes);
  if (slabUsed + bytes.length > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + bytes.length);
  out.set(bytes);
  slabUsed += bytes.length;
  return out;
}

/** The attributes (field 9) of an encoded Span message, as they were given to encodeSpan. */
export function decodeSpanAttributes(spanFields: Uint8Array): Attributes {
  const r = new WireReader(spanFields);
  const out: Record<string, unknown> = {};
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === ((9 << 3) | WIRE_LEN)) {
      readKeyValue(sub(r), out);
    } else {
      r.skipUnknown(tag, 0);
    }
  }
  return out as Attributes;
}

function readKeyValue(r: WireReader, into: Record<string, unknown>): void {
  let key = '';
  let value: unknown;
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === ((1 << 3) | WIRE_LEN)) key = r.string();
    else if (tag === ((2 << 3) | WIRE_LEN)) value = readAnyValue(sub(r));
    else r.skipUnknown(tag, 0);
  }
  // defineProperty, so that a key like "__proto__" is an attribute like any other.
  Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
}

function readAnyValue(r: WireReader): unknown {
  let value: unknown;
  while (r.pos < r.len) {
    const tag = r.tag();
    switch (tag) {
      case (1 << 3) | WIRE_LEN: value = r.string(); break;
      case (2 << 3) | WIRE_VARINT: value = r.uint32() !== 0; break;
      case (3 << 3) | WIRE_VARINT: value = Number(r.int64()); break;
      case (4 << 3) | WIRE_FIXED64: {
        value = Buffer.from(r.buf.buffer, r.buf.byteOffset, r.buf.byteLength).readDoubleLE(r.pos);
        r.skipUnknown(tag, 0);
        break;
      }
      case (5 << 3) | WIRE_LEN: {
        const items: unknown[] = [];
        const array = sub(r);
        while (array.pos < array.len) {
          const itemTag = array.tag();
          if (itemTag === ((1 << 3) | WIRE_LEN)) items.push(readAnyValue(sub(array)));
          else array.skipUnknown(itemTag, 0);
        }
        value = items;
        break;
      }
      case (6 << 3) | WIRE_LEN: {
        const record: Record<string, unknown> = {};
        const list = sub(r);
        while (list.pos < list.len) {
          const kvTag = list.tag();
          if (kvTag === ((1 << 3) | WIRE_LEN)) readKeyValue(sub(list), record);
          else list.skipUnknown(kvTag, 0);
        }
        value = record;
        break;
      }
      case (7 << 3) | WIRE_LEN: value = Uint8Array.from(r.bytes()); break;
      default: r.skipUnknown(tag, 0);
    }
  }
  return value;
}

/** A reader over the length-delimited field at the cursor (the cursor moves past it). */
function sub(r: WireReader): WireReader {
  const start = r.lengthDelimited();
  return new WireReader(r.buf.subarray(start, r.pos));
}

function partialSuccess(r: WireReader): NonNullable<IExportTraceServiceResponse['partialSuccess']> {
  const out: NonNullable<IExportTraceServiceResponse['partialSuccess']> = {};
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === ((1 << 3) | WIRE_VARINT)) out.rejectedSpans = Number(r.int64());
    else if (tag === ((2 << 3) | WIRE_LEN)) out.errorMessage = r.string();
    else r.skipUnknown(tag, 0);
  }
  return out;
}

/** Bytes per span of the last batch: the next batch's buffer is sized from it (grown if short). */
let lastBytesPerSpan = 640;

function sizeHint(spans: number): number {
  return Math.max(1024, Math.ceil(spans * lastBytesPerSpan * 1.125));
}

/** Spans by resource, then by instrumentation scope, by identity and in order of appearance (as the SDK groups them). */
function group(spans: readonly ReadableSpan[]): Map<Resource, Map<InstrumentationScope, ReadableSpan[]>> {
  const out = new Map<Resource, Map<InstrumentationScope, ReadableSpan[]>>();
  for (const span of spans) {
    let scopes = out.get(span.resource);
    if (scopes === undefined) {
      scopes = new Map();
      out.set(span.resource, scopes);
    }
    const list = scopes.get(span.instrumentationScope);
    if (list === undefined) scopes.set(span.instrumentationScope, [span]);
    else list.push(span);
  }
  return out;
}

function writeResource(w: WireWriter, resource: Resource): void {
  w.tag(1, WIRE_LEN);
  const at = w.begin();
  writeAttributes(w, resource.attributes, 1);
  w.tag(2, WIRE_VARINT);
  w.varint(0);
  w.end(at);
}

function writeScope(w: WireWriter, scope: InstrumentationScope & { readonly attributes?: Attributes; readonly droppedAttributesCount?: number }): void {
  w.tag(1, WIRE_LEN);
  const at = w.begin();
  w.tag(1, WIRE_LEN);
  w.string(scope.name);
  if (scope.version) w.stringField(2, scope.version);
  if (scope.attributes) writeAttributes(w, scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    w.tag(4, WIRE_VARINT);
    w.varint(scope.droppedAttributesCount);
  }
  w.end(at);
}

/** A Span message, length first: the span's own encoding when it carries one (ENCODED_SPAN). */
function writeSpan(w: WireWriter, span: ReadableSpan): void {
  const own = (span as Partial<EncodedSpan>)[ENCODED_SPAN];
  if (own !== undefined) {
    w.bytes(own);
    return;
  }
  const at = w.begin();
  writeSpanFields(w, span);
  w.end(at);
}

/**
 * What a decision span is written from (the tracer's pending decision): the
 * fields of a DecisionSpan without the ReadableSpan around them.
 */
export interface DecisionSpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  /** The caller's span (from traceparent), or undefined for a root span. */
  readonly parentSpanId: string | undefined;
  /** The caller's tracestate header; only with a parent. */
  readonly traceState: string | undefined;
  /** ms since the epoch (fractional). */
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: SpanAttributes;
  /** Spans this decision links to (trace and span id, hex); absent or empty: none. */
  readonly links?: readonly { readonly traceId: string; readonly spanId: string }[] | undefined;
}

/** Every decision is audited, whatever the caller's sampling flag says (W3C sampled). */
const DECISION_SAMPLED = 1;

/** Fields every decision span has the same, encoded once. name=5 and kind=6: SpanKind.INTERNAL (0 in the API) is 1 in OTLP. */
const DECISION_NAME_AND_KIND = encoded((w) => {
  w.stringField(5, SPAN_NAME);
  w.tag(6, WIRE_VARINT);
  w.varint(1);
});
/** dropped_attributes_count=10, dropped_events_count=12: 0, as the SDK writes them. */
const DECISION_DROPPED_COUNTS = encoded((w) => {
  w.tag(10, WIRE_VARINT);
  w.varint(0);
  w.tag(12, WIRE_VARINT);
  w.varint(0);
});
/** dropped_links_count=14: 0; status=15 UNSET: a message holding code=0 only. */
const DECISION_LINKS_DROPPED_AND_STATUS = encoded((w) => {
  w.tag(14, WIRE_VARINT);
  w.varint(0);
  w.tag(15, WIRE_LEN);
  const status = w.begin();
  w.tag(3, WIRE_VARINT);
  w.varint(0);
  w.end(status);
});

/**
 * The Span message of a decision, fields only (no tag or length), written
 * straight from the record: the same bytes writeSpanFields writes for a
 * DecisionSpan of the same fields (sidecar/test/span-batches.test.ts checks
 * it), without building the span, its context, its times or its links as
 * objects first.
 */
export function writeDecisionSpanFields(w: WireWriter, d: DecisionSpanRecord): void {
  w.tag(1, WIRE_LEN);
  w.hexBytes(d.traceId);
  w.tag(2, WIRE_LEN);
  w.hexBytes(d.spanId);
  if (d.traceState) w.stringField(3, d.traceState);
  if (d.parentSpanId) {
    w.tag(4, WIRE_LEN);
    w.hexBytes(d.parentSpanId);
  }
  w.raw(DECISION_NAME_AND_KIND);
  w.tag(7, WIRE_FIXED64);
  writeMs(w, d.startMs);
  w.tag(8, WIRE_FIXED64);
  writeMs(w, d.endMs);
  if (d.attributes instanceof DecisionAttributes) writeDecisionAttributes(w, 9, d.attributes);
  else writeAttributes(w, d.attributes, 9);
  w.raw(DECISION_DROPPED_COUNTS);
  const links = d.links;
  if (links !== undefined) {
    for (const link of links) {
      w.tag(13, WIRE_LEN);
      const at = w.begin();
      w.tag(1, WIRE_LEN);
      w.hexBytes(link.traceId);
      w.tag(2, WIRE_LEN);
      w.hexBytes(link.spanId);
      w.tag(5, WIRE_VARINT);
      w.varint(0);
      w.tag(6, WIRE_FIXED32);
      w.fixed32(spanFlags(DECISION_SAMPLED, undefined));
      w.end(at);
    }
  }
  w.raw(DECISION_LINKS_DROPPED_AND_STATUS);
  w.tag(16, WIRE_FIXED32);
  w.fixed32(spanFlags(DECISION_SAMPLED, d.parentSpanId === undefined ? undefined : true));
}

/**
 * The bytes of an ExportTraceServiceRequest around its spans, for one resource
 * and one instrumentation scope: a ResourceSpans holding the Resource, then
 * one ScopeSpans holding the scope, then the Span messages (field 2 of
 * ScopeSpans, tag and length included). serializeRequest writes the same
 * bytes for spans that share the resource and scope.
 */
export class RequestFraming {
  /** The Resource field of ResourceSpans (tag, length, message). */
  private readonly resource: Uint8Array;
  /** The InstrumentationScope field of ScopeSpans (tag, length, message). */
  private readonly scope: Uint8Array;
  /** Bytes before the spans, at most: what a buffer leaves free at its start for prefix(). */
  readonly maxPrefix: number;

  constructor(resourceAttributes: Attributes, scope: InstrumentationScope) {
    const r = new WireWriter(256);
    writeResource(r, { attributes: resourceAttributes } as Resource);
    this.resource = Uint8Array.from(r.finish());
    const s = new WireWriter(64);
    writeScope(s, scope);
    this.scope = Uint8Array.from(s.finish());
    // Three tags of one byte and three lengths of at most 5 bytes.
    this.maxPrefix = this.resource.length + this.scope.length + 3 + 15;
  }

  /**
   * Writes the request's bytes before the spans into buf, ending at `end` (where
   * the spans start), for spans taking `spansLength` bytes; returns where the
   * request starts.
   */
  prefix(buf: Uint8Array, end: number, spansLength: number): number {
    const scopeSpans = this.scope.length + spansLength;
    const resourceSpans = this.resource.length + 1 + varintSize(scopeSpans) + scopeSpans;
    const start = end - (1 + varintSize(resourceSpans) + this.resource.length + 1 + varintSize(scopeSpans) + this.scope.length);
    let p = start;
    buf[p++] = (1 << 3) | WIRE_LEN;
    p = putVarint(buf, p, resourceSpans);
    buf.set(this.resource, p);
    p += this.resource.length;
    buf[p++] = (2 << 3) | WIRE_LEN;
    p = putVarint(buf, p, scopeSpans);
    buf.set(this.scope, p);
    return start;
  }
}

function putVarint(buf: Uint8Array, at: number, value: number): number {
  let p = at;
  let v = value;
  while (v > 0x7f) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p++] = v;
  return p;
}

/** ms since the epoch (fractional) as fixed64 nanoseconds, rounded as a DecisionSpan's HrTime rounds them. */
function writeMs(w: WireWriter, ms: number): void {
  const seconds = Math.floor(ms / 1000);
  writeSecondsNanos(w, seconds, Math.round((ms - seconds * 1000) * 1e6));
}

/** trace_id=1, span_id=2 and trace_state=3: the first fields of a Span and of a Link alike. */
function writeContext(w: WireWriter, ctx: SpanContext): void {
  w.tag(1, WIRE_LEN);
  w.hexBytes(ctx.traceId);
  w.tag(2, WIRE_LEN);
  w.hexBytes(ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) w.stringField(3, traceState);
}

function writeSpanFields(w: WireWriter, span: ReadableSpan): void {
  const ctx = span.spanContext();
  writeContext(w, ctx);
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, WIRE_LEN);
    w.hexBytes(parent.spanId);
  }
  w.tag(5, WIRE_LEN);
  w.string(span.name);
  // The API's kinds start at INTERNAL=0; OTLP's at UNSPECIFIED=0.
  const kind = span.kind == null ? 0 : span.kind + 1;
  if (kind !== 0) {
    w.tag(6, WIRE_VARINT);
    w.varint(kind);
  }
  w.tag(7, WIRE_FIXED64);
  writeHrTime(w, span.startTime);
  w.tag(8, WIRE_FIXED64);
  writeHrTime(w, span.endTime);
  if (span.attributes) writeAttributes(w, span.attributes, 9);
  w.tag(10, WIRE_VARINT);
  w.varint(span.droppedAttributesCount);
  for (const event of span.events) {
    w.tag(11, WIRE_LEN);
    writeEvent(w, event);
  }
  w.tag(12, WIRE_VARINT);
  w.varint(span.droppedEventsCount);
  for (const link of span.links) {
    w.tag(13, WIRE_LEN);
    writeLink(w, link);
  }
  w.tag(14, WIRE_VARINT);
  w.varint(span.droppedLinksCount);
  w.tag(15, WIRE_LEN);
  const status = w.begin();
  if (span.status.message) w.stringField(2, span.status.message);
  w.tag(3, WIRE_VARINT);
  w.varint(span.status.code);
  w.end(status);
  w.tag(16, WIRE_FIXED32);
  w.fixed32(spanFlags(ctx.traceFlags, parent?.isRemote));
}

function writeEvent(w: WireWriter, event: TimedEvent): void {
  const at = w.begin();
  w.tag(1, WIRE_FIXED64);
  writeHrTime(w, event.time);
  w.tag(2, WIRE_LEN);
  w.string(event.name);
  if (event.attributes) writeAttributes(w, event.attributes, 3);
  w.tag(4, WIRE_VARINT);
  w.varint(event.droppedAttributesCount || 0);
  w.end(at);
}

function writeLink(w: WireWriter, link: Link): void {
  const at = w.begin();
  writeContext(w, link.context);
  if (link.attributes) writeAttributes(w, link.attributes, 4);
  w.tag(5, WIRE_VARINT);
  w.varint(link.droppedAttributesCount || 0);
  w.tag(6, WIRE_FIXED32);
  w.fixed32(spanFlags(link.context.traceFlags, link.context.isRemote));
  w.end(at);
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | FLAGS_HAS_IS_REMOTE | (isRemote ? FLAGS_IS_REMOTE : 0);
}

/** Nanoseconds since the epoch as fixed64, exact: seconds × 10^9 does not fit a double's 53 bits. */
function writeHrTime(w: WireWriter, t: HrTime): void {
  writeSecondsNanos(w, t[0], t[1]);
}

function writeSecondsNanos(w: WireWriter, seconds: number, nanos: number): void {
  // seconds = hi16 × 2^16 + lo16; each part × 10^9 stays below 2^53.
  const fromLo = (seconds & 0xffff) * 1e9;
  const fromHi = ((seconds / 0x10000) >>> 0) * 1e9;
  const low = (fromLo >>> 0) + (((fromHi & 0xffff) * 0x10000) >>> 0) + nanos;
  const high = Math.floor(fromLo / 0x100000000) + ((fromHi / 0x10000) >>> 0) + Math.floor(low / 0x100000000);
  w.fixed64(low, high);
}
