// A decision span keeps its OTLP encoding instead of its attribute objects
// (decision-span.ts): what it answers through the ReadableSpan interface must
// be what it was given, and what the serializer sends for it must be what the
// SDK's serializer writes when it reads the span through that interface.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Attributes } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DecisionSpan } from '../src/telemetry/decision-span.js';
import { ENCODED_SPAN, traceProtoSerializer } from '../src/telemetry/otlp-trace-proto.js';

const hex = (bytes: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));

const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ minLength: 200, maxLength: 600 }));

/** Attribute values as the API allows them: primitives and homogeneous arrays of them. */
const attributeValue = fc.oneof(
  text,
  fc.boolean(),
  fc.integer(),
  fc.integer({ min: -(2 ** 52), max: 2 ** 52 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  fc.array(text, { maxLength: 4 }),
  fc.array(fc.integer(), { maxLength: 4 }),
  fc.array(fc.boolean(), { maxLength: 4 }),
);

// Keys from a small set, so that the serializer's cache of encoded values is hit as well as missed.
const attributes: fc.Arbitrary<Attributes> = fc.dictionary(
  fc.oneof(fc.constantFrom('agentwarden.decision', 'agentwarden.rule', 'url.path', 'server.port', '__proto__', 'constructor'), fc.string({ minLength: 1, maxLength: 20 })),
  attributeValue,
  { maxKeys: 14 },
);

const resource = resourceFromAttributes({ 'service.name': 'agentwarden-sidecar', 'k8s.pod.name': 'agent-1' });

const fields = fc.record({
  traceId: hex(16),
  spanId: hex(8),
  parentSpanId: fc.option(hex(8), { nil: undefined }),
  traceState: fc.option(fc.constantFrom('vendor=a', 'a=1,b=2', 'congo=t61rcWkgMzE'), { nil: undefined }),
  startMs: fc.double({ min: 1.5e12, max: 2.5e12, noNaN: true }),
  durationMs: fc.double({ min: 0, max: 5000, noNaN: true }),
  attributes,
  links: fc.option(fc.array(fc.record({ traceId: hex(16), spanId: hex(8) }), { maxLength: 8 }), { nil: undefined }),
});

describe('DecisionSpan', () => {
  it('answers the attributes, ids, times and links it was given', () => {
    fc.assert(fc.property(fields, (f) => {
      const span = new DecisionSpan({ ...f, endMs: f.startMs + f.durationMs, resource });
      expect(span.attributes).toEqual(f.attributes);
      expect(span.spanContext()).toMatchObject({ traceId: f.traceId, spanId: f.spanId, traceFlags: 1 });
      expect(span.spanContext().traceState?.serialize()).toBe(f.traceState);
      expect(span.parentSpanContext?.spanId).toBe(f.parentSpanId);
      const [s, ns] = span.startTime;
      expect(Math.abs(s * 1000 + ns / 1e6 - f.startMs)).toBeLessThan(0.001);
      expect(span.resource).toBe(resource);
      expect(span.links).toEqual((f.links ?? []).map((l) => ({ context: { traceId: l.traceId, spanId: l.spanId, traceFlags: 1 } })));
    }), { numRuns: 500 });
  });

  it('is sent as the bytes the SDK serializer writes when it reads the span, its links included', () => {
    fc.assert(fc.property(fc.array(fields, { minLength: 1, maxLength: 20 }), (all) => {
      const spans = all.map((f) => new DecisionSpan({ ...f, endMs: f.startMs + f.durationMs, resource }));
      const mine = Buffer.from(traceProtoSerializer.serializeRequest(spans) ?? []);
      const sdk = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) ?? []);
      expect(sdk.length).toBeGreaterThan(0);
      expect(mine.equals(sdk)).toBe(true);
    }), { numRuns: 300 });
  });

  it('keeps its encoding apart from the spans encoded after it', () => {
    const spans = Array.from({ length: 400 }, (_, i) => new DecisionSpan({
      traceId: 'ab'.repeat(16), spanId: i.toString(16).padStart(16, '0'), parentSpanId: undefined, traceState: undefined,
      startMs: 1.7e12 + i, endMs: 1.7e12 + i + 1, attributes: { 'url.path': `/tickets/${i}`, 'x.big': 'y'.repeat(i * 10) }, resource,
    }));
    spans.forEach((span, i) => {
      expect(span.attributes).toEqual({ 'url.path': `/tickets/${i}`, 'x.big': 'y'.repeat(i * 10) });
      expect(span[ENCODED_SPAN].length).toBeGreaterThan(i * 10);
    });
  });
});
