// The sidecar's OTLP protobuf serializer (sidecar/src/telemetry/otlp-trace-proto.ts)
// promises the SDK's bytes: the same ExportTraceServiceRequest, byte for byte,
// as @opentelemetry/otlp-transformer's ProtobufTraceSerializer for any batch of
// ReadableSpans, and the same reading of an ExportTraceServiceResponse. Checked
// here over generated spans and responses (fast-check), with the SDK's
// serializer as the oracle. Where the two readers differ on malformed
// responses, the difference is spelled out as a test of its own.
import { describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { SpanKind, SpanStatusCode, type Attributes, type HrTime, type Link, type SpanContext, type SpanStatus, type TraceState } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { ProtobufTraceSerializer, type IExportTraceServiceResponse } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { DecisionSpan } from '../src/telemetry/decision-span.js';
import { traceProtoSerializer } from '../src/telemetry/otlp-trace-proto.js';

type Serializer = typeof traceProtoSerializer;

function expectSdkBytes(spans: ReadableSpan[], serializer: Serializer = traceProtoSerializer): void {
  // Copies: each call must stand on its own, whatever the serializer reuses.
  const ours = Buffer.from(serializer.serializeRequest(spans)!);
  const sdk = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
  // Hex on a mismatch, so the failure shows where the bytes part.
  if (!ours.equals(sdk)) expect(ours.toString('hex')).toBe(sdk.toString('hex'));
}

/** A new instance of the serializer module, so its cache of encoded KeyValues starts empty. */
async function freshSerializer(): Promise<Serializer> {
  let loaded: Serializer | undefined;
  await jest.isolateModulesAsync(async () => {
    loaded = (await import('../src/telemetry/otlp-trace-proto.js')).traceProtoSerializer;
  });
  // Without a new instance, the cache tests below would test a cache full of other tests' keys.
  expect(loaded).not.toBe(traceProtoSerializer);
  return loaded!;
}

// ---- Generated spans ----

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
/** One unit of text: printable ASCII, any code point (astral ones included), or half a surrogate pair. */
const textUnit = fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), loneSurrogate);
const text = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: textUnit, maxLength: 12 }),
  // Past 64 characters the serializer writes ASCII in bulk; past 256 it caches no string value.
  fc.string({ minLength: 60, maxLength: 70 }),
  fc.string({ minLength: 250, maxLength: 300 }),
  fc.string({ unit: textUnit, minLength: 60, maxLength: 300 }),
);
const key = fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: textUnit, maxLength: 4 }), fc.constantFrom('__proto__', 'constructor', '0', '17', 'url.path'));

const INT_EDGES = [
  0, -0, 1, -1, 127, 128, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, -(2 ** 32), -(2 ** 32) - 1,
  2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 62,
  // The largest double below 2^63 and -2^63: int64 bounds. 2^63 and below -2^63: doubles.
  2 ** 63 - 1024, -(2 ** 63), 2 ** 63, -(2 ** 63) - 2048, 2 ** 64,
];
const integer = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(Number),
  fc.constantFrom(...INT_EDGES),
);
const double = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0.5, -1.25, Number.MIN_VALUE, Number.MAX_VALUE, 2 ** 63 + 2 ** 11));
const scalar: fc.Arbitrary<unknown> = fc.oneof(
  text, fc.boolean(), integer, double,
  fc.uint8Array({ maxLength: 40 }),
  fc.constant(null), fc.constant(undefined),
  // Not an attribute value at all: both write an empty AnyValue.
  fc.bigInt(),
);
const { anyValue } = fc.letrec<{ anyValue: unknown; array: unknown[]; kvlist: Record<string, unknown> }>((tie) => ({
  anyValue: fc.oneof({ depthSize: 'small' }, scalar, tie('array'), tie('kvlist')),
  array: fc.array(tie('anyValue'), { maxLength: 4 }),
  kvlist: fc.dictionary(key, tie('anyValue'), { maxKeys: 4 }),
}));
// Attribute values of every kind the SDK writes, nested arrays and plain objects (kvlist) included.
const attributes = fc.dictionary(key, anyValue, { maxKeys: 6 }).map((a) => a as Attributes);

const count = fc.oneof(fc.constant(0), fc.nat(), fc.constant(2 ** 32 - 1));
const hexId = (bytes: number): fc.Arbitrary<string> => fc.mixedCase(fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex')));
const traceFlags = fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 0xffff }));
const traceState = fc.oneof(fc.constant(''), text).map((s): TraceState => ({ get: () => undefined, set() { return this; }, unset() { return this; }, serialize: () => s }));
const isRemote = fc.option(fc.boolean(), { nil: undefined });
const spanContext: fc.Arbitrary<SpanContext> = fc.record(
  { traceId: hexId(16), spanId: hexId(8), traceFlags, traceState, isRemote },
  { requiredKeys: ['traceId', 'spanId', 'traceFlags'] },
);
const parentContext: fc.Arbitrary<SpanContext> = fc.record(
  { traceId: hexId(16), spanId: fc.oneof(hexId(8), fc.constant('')), traceFlags, isRemote },
  { requiredKeys: ['traceId', 'spanId', 'traceFlags'] },
);
const hrTime: fc.Arbitrary<HrTime> = fc.tuple(
  fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, 1_700_000_000, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 18_446_744_073)),
  fc.oneof(fc.integer({ min: 0, max: 999_999_999 }), fc.constantFrom(0, 999_999_998, 999_999_999)),
);
const status: fc.Arbitrary<SpanStatus> = fc.record({ code: fc.constantFrom(SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR), message: text }, { requiredKeys: ['code'] });
const event: fc.Arbitrary<TimedEvent> = fc.record({ name: text, time: hrTime, attributes, droppedAttributesCount: count }, { requiredKeys: ['name', 'time'] });
const link: fc.Arbitrary<Link> = fc.record({ context: spanContext, attributes, droppedAttributesCount: count }, { requiredKeys: ['context'] });

const resource: fc.Arbitrary<Resource> = fc.oneof(
  fc.tuple(attributes, fc.option(text, { nil: undefined })).map(([a, schemaUrl]) => resourceFromAttributes(a, schemaUrl === undefined ? undefined : { schemaUrl })),
  // What the serializers read of a resource, without the SDK's filtering of null values (or attributes at all).
  fc.record({ attributes: fc.option(attributes, { nil: undefined }), schemaUrl: text }, { requiredKeys: [] }).map((r) => r as unknown as Resource),
);
type Scope = InstrumentationScope & { readonly attributes?: Attributes; readonly droppedAttributesCount?: number };
const scope: fc.Arbitrary<Scope> = fc.record(
  { name: text, version: text, schemaUrl: text, attributes, droppedAttributesCount: count },
  { requiredKeys: ['name'] },
);

const spanFields = fc.record({
  name: text,
  kind: fc.option(fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER), { nil: undefined }),
  context: spanContext,
  parent: fc.option(parentContext, { nil: undefined }),
  startTime: hrTime,
  endTime: hrTime,
  status,
  attributes: fc.option(attributes, { freq: 8, nil: undefined }),
  events: fc.array(event, { maxLength: 3 }),
  links: fc.array(link, { maxLength: 3 }),
  droppedAttributesCount: count,
  droppedEventsCount: count,
  droppedLinksCount: count,
  // Which of the batch's resources and scopes the span belongs to.
  resource: fc.nat(),
  scope: fc.nat(),
});
type SpanFields = typeof spanFields extends fc.Arbitrary<infer T> ? T : never;

function readableSpan(f: SpanFields, resource: Resource, scope: Scope): ReadableSpan {
  return {
    name: f.name,
    // The API's type has no "unspecified"; the serializers write none for undefined.
    kind: f.kind as SpanKind,
    spanContext: () => f.context,
    parentSpanContext: f.parent,
    startTime: f.startTime,
    endTime: f.endTime,
    duration: [0, 0],
    ended: true,
    status: f.status,
    attributes: f.attributes as Attributes,
    events: f.events,
    links: f.links,
    droppedAttributesCount: f.droppedAttributesCount,
    droppedEventsCount: f.droppedEventsCount,
    droppedLinksCount: f.droppedLinksCount,
    resource,
    instrumentationScope: scope,
  };
}

/**
 * Spans over a few resources and scopes. Both serializers group by identity,
 * so each pool also holds an equal copy that is a different object.
 */
const batch: fc.Arbitrary<ReadableSpan[]> = fc.record({
  resources: fc.array(resource, { minLength: 1, maxLength: 3 }),
  scopes: fc.array(scope, { minLength: 1, maxLength: 3 }),
  spans: fc.array(spanFields, { maxLength: 8 }),
}).map(({ resources, scopes, spans }) => {
  const resourcePool = [...resources, Object.create(resources[0]!) as Resource];
  const scopePool = [...scopes, { ...scopes[0]! }];
  return spans.map((f) => readableSpan(f, resourcePool[f.resource % resourcePool.length]!, scopePool[f.scope % scopePool.length]!));
});

describe('traceProtoSerializer.serializeRequest', () => {
  it('writes the bytes of the SDK\'s ProtobufTraceSerializer for any batch of spans', () => {
    fc.assert(fc.property(batch, (spans) => expectSdkBytes(spans)), { numRuns: 300 });
  });

  it('writes the SDK\'s bytes for the empty batch', () => {
    expectSdkBytes([]);
  });

  it('writes a batch the SDK\'s bytes again the second time, from its cache of string KeyValues', async () => {
    // Few keys and values, so that they repeat within a batch and all fit in the cache.
    const stringAttributes = fc.dictionary(
      fc.constantFrom('agentwarden.decision', 'url.path', 'k8s.pod.name', 'ключ', '\u{1f511}', '', 'x'),
      fc.oneof(fc.constantFrom('allow', 'deny', '', 'é', '\ud800', 'a'.repeat(256), 'b'.repeat(257), '\u{1f600}'.repeat(70)), text),
      { maxKeys: 7 },
    );
    const cached = fc.tuple(batch, fc.array(stringAttributes, { minLength: 1, maxLength: 8 })).map(([spans, extra]) =>
      spans.map((s, i) => ({ ...s, attributes: { ...s.attributes, ...extra[i % extra.length] } })));
    await fc.assert(fc.asyncProperty(cached, async (spans) => {
      const serializer = await freshSerializer();
      expectSdkBytes(spans, serializer);
      expectSdkBytes(spans, serializer);
    }), { numRuns: 60 });
  });

  it('writes the SDK\'s bytes past the cache\'s bounds: more than 64 keys, more than 32 values of a key', async () => {
    const many = fc.record({ keys: fc.integer({ min: 65, max: 90 }), values: fc.integer({ min: 33, max: 45 }), spans: fc.integer({ min: 34, max: 60 }), seed: fc.nat(1000) });
    await fc.assert(fc.asyncProperty(many, async ({ keys, values, spans, seed }) => {
      const serializer = await freshSerializer();
      const resource = resourceFromAttributes({ 'service.name': 'agentwarden-sidecar' });
      const batchOf = (offset: number): ReadableSpan[] => Array.from({ length: spans }, (_, i) => {
        const attrs: Attributes = {};
        for (let k = 0; k < keys; k++) attrs[`key.${k}`] = `value-${(seed + offset + i * (k + 1)) % values}`;
        return new DecisionSpan({ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), parentSpanId: undefined, traceState: undefined, startMs: 1, endMs: 2, attributes: attrs, resource });
      });
      // The first batches fill the cache; the later ones mix cached and uncached KeyValues.
      for (const offset of [0, 0, 7, 13]) expectSdkBytes(batchOf(offset), serializer);
    }), { numRuns: 8 });
  });

  it('writes the SDK\'s bytes for batches of decision spans, session attributes and links to earlier decisions included', () => {
    const resource = resourceFromAttributes({
      'service.name': 'agentwarden-sidecar', 'k8s.namespace.name': 'support', 'k8s.pod.name': 'support-agent-0', 'k8s.serviceaccount.name': 'support-agent',
    });
    const decision = fc.record({
      traceId: hexId(16).map((h) => h.toLowerCase()),
      spanId: hexId(8).map((h) => h.toLowerCase()),
      parentSpanId: fc.option(hexId(8), { nil: undefined }),
      traceState: fc.option(fc.oneof(fc.constant('vendor=abc'), text), { nil: undefined }),
      startMs: fc.double({ min: 0, max: 4e12, noNaN: true }),
      durationMs: fc.double({ min: 0, max: 1e4, noNaN: true }),
      attributes: fc.record({
        'agentwarden.decision': fc.constantFrom('allow', 'deny'),
        'agentwarden.mode': fc.constantFrom('Enforce', 'Audit'),
        'agentwarden.policy': fc.constantFrom('support', 'trial', ''),
        'agentwarden.rule': fc.constantFrom('read-tickets', 'default-deny'),
        'agentwarden.reason': text,
        'agentwarden.policy_version': fc.constantFrom('sha256:0f1e', 'sha256:77aa'),
        'http.request.method': fc.constantFrom('GET', 'POST'),
        'server.address': fc.constantFrom('api.zendesk.com', 'mcp.support.internal'),
        'server.port': fc.constantFrom(443, 8443, 65535),
        'url.path': fc.oneof(fc.webPath(), text),
        'gen_ai.tool.name': fc.constantFrom('delete_customer', 'search'),
        'agentwarden.session.id': fc.constantFrom('support-agent-0', 'mcp-7f3a', ''),
        'agentwarden.session.taints': fc.array(fc.constantFrom('pii', 'untrusted', 'secrets'), { maxLength: 3 }),
        'agentwarden.session.taints.added': fc.array(fc.constantFrom('pii', 'untrusted'), { minLength: 1, maxLength: 2 }),
      }, { requiredKeys: ['agentwarden.decision', 'agentwarden.mode', 'agentwarden.policy', 'agentwarden.rule', 'agentwarden.reason'] }),
      // Links to the decisions that added the taints (at most 8, as the policy core gives them).
      links: fc.array(fc.record({ traceId: hexId(16).map((h) => h.toLowerCase()), spanId: hexId(8).map((h) => h.toLowerCase()) }), { maxLength: 8 }),
    });
    const decisions = fc.array(decision, { maxLength: 40 }).map((ds) => ds.map((d) => new DecisionSpan({
      traceId: d.traceId, spanId: d.spanId, parentSpanId: d.parentSpanId,
      traceState: d.parentSpanId === undefined ? undefined : d.traceState,
      startMs: d.startMs, endMs: d.startMs + d.durationMs, attributes: d.attributes, resource, links: d.links,
    })));
    fc.assert(fc.property(decisions, (spans) => {
      expectSdkBytes(spans);
      expectSdkBytes(spans);
    }), { numRuns: 60 });
  });
});

// ---- Generated ExportTraceServiceResponses ----

function varint(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** The same varint in `length` bytes: continuation bits on zero groups, as some encoders pad. */
function padded(minimal: readonly number[], length: number): number[] {
  const out = [...minimal];
  out[out.length - 1]! |= 0x80;
  while (out.length < length - 1) out.push(0x80);
  out.push(0);
  return out;
}

const tag = (field: number, wireType: number): number[] => varint(BigInt(field * 8 + wireType));
const lengthDelimited = (field: number, bytes: readonly number[]): number[] => [...tag(field, 2), ...varint(BigInt(bytes.length)), ...bytes];
const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];

/** One field of a message, and where its payload is when that is fixed-width (the SDK skips those without a bounds check). */
interface Field {
  readonly bytes: readonly number[];
  readonly fixedPayloadFrom?: number;
}

/** A field of a number the message does not declare (wire types 0, 1, 2, 5). */
const unknownField = (minField: number): fc.Arbitrary<Field> => fc.integer({ min: minField, max: 2 ** 29 - 1 }).chain((n) => fc.oneof(
  fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(14)).map(([v, length]): Field => {
    const minimal = varint(v);
    // Both skip an unknown varint of any length.
    return { bytes: [...tag(n, 0), ...(length > minimal.length ? padded(minimal, length) : minimal)] };
  }),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b): Field => ({ bytes: [...tag(n, 1), ...b], fixedPayloadFrom: tag(n, 1).length })),
  fc.uint8Array({ maxLength: 12 }).map((b): Field => ({ bytes: lengthDelimited(n, [...b]) })),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b): Field => ({ bytes: [...tag(n, 5), ...b], fixedPayloadFrom: tag(n, 5).length })),
));

// Values both readers read alike (see the differences below for the others):
// rejected_spans up to 2^53-1, error messages without a leading U+FEFF.
const rejectedSpans = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1));
const errorMessage = fc.oneof(text, fc.constantFrom(' leading space', 'trailing space ', 'nul\u0000', '\ufffd', '\u{1f600}')).filter((s) => !s.startsWith('\ufeff'));
const partialSuccessField: fc.Arbitrary<Field> = fc.oneof(
  rejectedSpans.map((n): Field => ({ bytes: [...tag(1, 0), ...varint(BigInt(n))] })),
  errorMessage.map((s): Field => ({ bytes: lengthDelimited(2, utf8(s)) })),
  unknownField(3),
  // Declared fields with another wire type: skipped.
  fc.uint8Array({ maxLength: 4 }).map((b): Field => ({ bytes: lengthDelimited(1, [...b]) })),
  fc.nat().map((n): Field => ({ bytes: [...tag(2, 0), ...varint(BigInt(n))] })),
);
const responseField: fc.Arbitrary<Field> = fc.oneof(
  { arbitrary: fc.array(partialSuccessField, { maxLength: 5 }).map((fs): Field => ({ bytes: lengthDelimited(1, fs.flatMap((f) => f.bytes)) })), weight: 3 },
  { arbitrary: unknownField(2), weight: 2 },
  { arbitrary: fc.nat().map((n): Field => ({ bytes: [...tag(1, 0), ...varint(BigInt(n))] })), weight: 1 },
);
/** Response bytes, and the ranges of its top-level fixed-width payloads. */
const response = fc.array(responseField, { maxLength: 4 }).map((fields) => {
  const bytes: number[] = [];
  const fixedPayloads: [number, number][] = [];
  for (const f of fields) {
    if (f.fixedPayloadFrom !== undefined) fixedPayloads.push([bytes.length + f.fixedPayloadFrom, bytes.length + f.bytes.length]);
    bytes.push(...f.bytes);
  }
  return { bytes: Uint8Array.from(bytes), fixedPayloads };
});

type Read = { readonly value: IExportTraceServiceResponse } | { readonly error: unknown };

function read(deserialize: (data: Uint8Array) => IExportTraceServiceResponse, data: Uint8Array): Read {
  try {
    return { value: deserialize(data) };
  } catch (error: unknown) {
    return { error };
  }
}

const ours = (data: Uint8Array): IExportTraceServiceResponse => traceProtoSerializer.deserializeResponse(data);
const sdk = (data: Uint8Array): IExportTraceServiceResponse => ProtobufTraceSerializer.deserializeResponse(data);

describe('traceProtoSerializer.deserializeResponse', () => {
  it('reads any ExportTraceServiceResponse as the SDK\'s ProtobufTraceSerializer does', () => {
    fc.assert(fc.property(response, ({ bytes }) => {
      expect(ours(bytes)).toEqual(sdk(bytes));
    }), { numRuns: 1000 });
  });

  it('fails on a truncated response where the SDK fails, and otherwise reads what the SDK reads', () => {
    fc.assert(fc.property(response, ({ bytes, fixedPayloads }) => {
      for (let cut = 0; cut < bytes.length; cut++) {
        const data = bytes.subarray(0, cut);
        const a = read(ours, data);
        const b = read(sdk, data);
        if ('error' in b) expect(a).toHaveProperty('error');
        else if ('value' in a) expect(a.value).toEqual(b.value);
        // The one way the SDK reads on where this fails: see the test below.
        else expect(fixedPayloads.some(([from, to]) => cut >= from && cut < to)).toBe(true);
      }
    }), { numRuns: 200 });
  });

  // Where the two differ. None of it reaches an export's result: the SDK's
  // export delegate only logs a partial success, and a response it cannot read
  // ("Export succeeded but could not deserialize response"), and reports the
  // export a success either way.

  it('fails on a fixed-width field cut short, where the SDK stops reading and keeps what it read', () => {
    const data = Uint8Array.from([...lengthDelimited(1, [...tag(1, 0), 5]), ...tag(9, 1), 1, 2, 3]);
    expect(sdk(data)).toEqual({ partialSuccess: { rejectedSpans: 5 } });
    expect(() => ours(data)).toThrow('truncated');
  });

  it('keeps a leading U+FEFF of error_message, which the SDK\'s TextDecoder drops as a byte order mark', () => {
    const data = Uint8Array.from(lengthDelimited(1, lengthDelimited(2, utf8('\ufeffslow down'))));
    expect(sdk(data)).toEqual({ partialSuccess: { errorMessage: 'slow down' } });
    expect(ours(data)).toEqual({ partialSuccess: { errorMessage: '\ufeffslow down' } });
  });

  it('fails on an error_message that is not UTF-8, where the SDK reads U+FFFD for the bad bytes', () => {
    const data = Uint8Array.from(lengthDelimited(1, lengthDelimited(2, [0x6f, 0x6b, 0xff])));
    expect(sdk(data)).toEqual({ partialSuccess: { errorMessage: 'ok\ufffd' } });
    expect(() => ours(data)).toThrow('UTF-8');
  });

  it('reads a negative rejected_spans as negative, where the SDK reads its 64-bit two\'s complement as a positive number', () => {
    const data = Uint8Array.from(lengthDelimited(1, [...tag(1, 0), ...varint(-1n)]));
    expect(sdk(data)).toEqual({ partialSuccess: { rejectedSpans: 2 ** 64 } });
    expect(ours(data)).toEqual({ partialSuccess: { rejectedSpans: -1 } });
  });

  it('reads a rejected_spans beyond 2^53 as the nearest double, where the SDK may be off by its sum of rounded parts', () => {
    const n = 3_217_708_876_138_303_231n;
    const data = Uint8Array.from(lengthDelimited(1, [...tag(1, 0), ...varint(n)]));
    expect(ours(data)).toEqual({ partialSuccess: { rejectedSpans: Number(n) } });
    expect(sdk(data)).toEqual({ partialSuccess: { rejectedSpans: 3_217_708_876_138_303_500 } });
  });

  it('fails on field number 0, which the SDK skips', () => {
    const data = Uint8Array.from([...tag(0, 0), 1]);
    expect(sdk(data)).toEqual({});
    expect(() => ours(data)).toThrow('illegal tag');
  });

  it('fails on a rejected_spans varint longer than 10 bytes, which the SDK reads', () => {
    const data = Uint8Array.from(lengthDelimited(1, [...tag(1, 0), ...padded(varint(3n), 12)]));
    expect(sdk(data)).toEqual({ partialSuccess: { rejectedSpans: 3 } });
    expect(() => ours(data)).toThrow('longer than 10 bytes');
  });
});
