// The audit span queue (span-batches.ts): decision spans written straight
// into reused batch buffers. What a batch sends must be byte for byte what the
// serializers write for the same spans as ReadableSpans (the SDK's included);
// batches are cut at batchSize and after delayMs; every span is settled once;
// a buffer is used again only after its batch was acknowledged; flush waits
// for the batches in flight. Then the tracer over it, to a real OTLP receiver.
import { afterAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Attributes } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DecisionSpan } from '../src/telemetry/decision-span.js';
import { DECISION_SCOPE } from '../src/telemetry/attributes.js';
import { encodeSpan, traceProtoSerializer, writeDecisionSpanFields, type DecisionSpanRecord } from '../src/telemetry/otlp-trace-proto.js';
import { SpanBatches, type BatchSend, type SealedBatch } from '../src/telemetry/span-batches.js';
import { createAuditTracer, type AuditTracer } from '../src/telemetry/tracing.js';
import type { SpanQueue } from '../src/telemetry/span-sink.js';
import { WireWriter } from '../src/wire-writer.js';
import { ConfigError, readSidecarConfig } from '../src/config.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

const hex = (bytes: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ minLength: 200, maxLength: 400 }));
const attributes: fc.Arbitrary<Attributes> = fc.dictionary(
  fc.oneof(fc.constantFrom('agentwarden.decision', 'agentwarden.rule', 'url.path', 'server.port'), fc.string({ minLength: 1, maxLength: 20 })),
  fc.oneof(text, fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.array(text, { maxLength: 4 })),
  { maxKeys: 14 },
);
const record: fc.Arbitrary<DecisionSpanRecord> = fc.record({
  traceId: hex(16),
  spanId: hex(8),
  parentSpanId: fc.option(hex(8), { nil: undefined }),
  traceState: fc.option(fc.constantFrom('vendor=a', 'a=1,b=2'), { nil: undefined }),
  startMs: fc.double({ min: 1.5e12, max: 2.5e12, noNaN: true }),
  durationMs: fc.double({ min: 0, max: 5000, noNaN: true }),
  attributes,
  links: fc.option(fc.array(fc.record({ traceId: hex(16), spanId: hex(8) }), { maxLength: 6 }), { nil: undefined }),
}).map(({ durationMs, ...f }) => ({ ...f, endMs: f.startMs + durationMs }));

const RESOURCE = { 'service.name': 'agentwarden-sidecar', 'k8s.pod.name': 'agent-1' };
const resource = resourceFromAttributes(RESOURCE);

function span(i: number, path = `/tickets/${i}`): DecisionSpanRecord {
  return {
    traceId: (i + 1).toString(16).padStart(32, '0'), spanId: (i + 1).toString(16).padStart(16, '0'), parentSpanId: undefined, traceState: undefined,
    startMs: 1.7e12 + i, endMs: 1.7e12 + i + 0.25, attributes: { 'agentwarden.decision': 'allow', 'url.path': path },
  };
}

/** A send that keeps each batch's bytes (copied: the buffer is used again) and lets the test settle it. */
function recordingSend(): { send: BatchSend; sent: { bytes: Buffer; spans: number; batch: SealedBatch; done: (ok: boolean, error: Error | undefined) => void }[] } {
  const sent: { bytes: Buffer; spans: number; batch: SealedBatch; done: (ok: boolean, error: Error | undefined) => void }[] = [];
  return { sent, send: (batch, done) => { sent.push({ bytes: Buffer.from(batch.request), spans: batch.spans, batch, done }); } };
}

function settled(): { exported: number; dropped: number; errors: (Error | undefined)[]; settle: (e: number, d: number, error: Error | undefined) => void } {
  const s = { exported: 0, dropped: 0, errors: [] as (Error | undefined)[], settle: (e: number, d: number, error: Error | undefined): void => { s.exported += e; s.dropped += d; if (d > 0) s.errors.push(error); } };
  return s;
}

describe('writeDecisionSpanFields', () => {
  it('writes the bytes encodeSpan writes for a DecisionSpan of the same fields', () => {
    fc.assert(fc.property(record, (r) => {
      const w = new WireWriter(64);
      writeDecisionSpanFields(w, r);
      expect(Buffer.from(w.finish()).equals(Buffer.from(encodeSpan(new DecisionSpan({ ...r, resource }))))).toBe(true);
    }), { numRuns: 400 });
  });
});

describe('SpanBatches', () => {
  it('sends a batch as the request both serializers write for the same spans, the SDK\'s included', async () => {
    await fc.assert(fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 30 }), async (records) => {
      const { send, sent } = recordingSend();
      const s = settled();
      const batches = new SpanBatches({ resource: RESOURCE, scope: DECISION_SCOPE, batchSize: 1000, delayMs: 60_000, send, settle: s.settle });
      for (const r of records) batches.add(r);
      const flushed = batches.flush();
      expect(sent).toHaveLength(1);
      const spans = records.map((r) => new DecisionSpan({ ...r, resource }));
      expect(sent[0]?.bytes.equals(Buffer.from(traceProtoSerializer.serializeRequest(spans) ?? []))).toBe(true);
      expect(sent[0]?.bytes.equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) ?? []))).toBe(true);
      sent[0]?.done(true, undefined);
      await flushed;
      expect(s).toMatchObject({ exported: records.length, dropped: 0 });
    }), { numRuns: 100 });
  });

  it('sends a batch as soon as it holds batchSize spans, and the rest on flush', async () => {
    const { send, sent } = recordingSend();
    const s = settled();
    const batches = new SpanBatches({ resource: RESOURCE, scope: DECISION_SCOPE, batchSize: 4, delayMs: 60_000, send, settle: s.settle });
    for (let i = 0; i < 10; i++) batches.add(span(i));
    expect(sent.map((b) => b.spans)).toEqual([4, 4]);
    const flushed = batches.flush();
    expect(sent.map((b) => b.spans)).toEqual([4, 4, 2]);
    for (const b of sent) b.done(true, undefined);
    await flushed;
    expect(s).toMatchObject({ exported: 10, dropped: 0 });
  });

  it('sends a batch that is not full delayMs after its first span', async () => {
    let resolveSent: (spans: number) => void = () => undefined;
    const firstSend = new Promise<number>((resolve) => { resolveSent = resolve; });
    const s = settled();
    const batches = new SpanBatches({
      resource: RESOURCE, scope: DECISION_SCOPE, batchSize: 100, delayMs: 20, settle: s.settle,
      send: (batch, done) => { resolveSent(batch.spans); done(true, undefined); },
    });
    const started = performance.now();
    batches.add(span(1));
    batches.add(span(2));
    const spans = await firstSend;
    expect(performance.now() - started).toBeGreaterThanOrEqual(19);
    expect(spans).toBe(2);
    expect(s).toMatchObject({ exported: 2, dropped: 0 });
  });

  it('counts the spans of a failed batch as dropped, with the error, once', async () => {
    const { send, sent } = recordingSend();
    const s = settled();
    const batches = new SpanBatches({ resource: RESOURCE, scope: DECISION_SCOPE, batchSize: 3, delayMs: 60_000, send, settle: s.settle });
    for (let i = 0; i < 5; i++) batches.add(span(i));
    const refused = new Error('collector refused');
    sent[0]?.done(false, refused);
    sent[0]?.done(true, undefined);
    const flushed = batches.flush();
    sent[1]?.done(true, undefined);
    await flushed;
    expect(s).toMatchObject({ exported: 2, dropped: 3, errors: [refused] });
  });

  it('counts a batch whose send throws as dropped', async () => {
    const s = settled();
    const batches = new SpanBatches({ resource: RESOURCE, scope: DECISION_SCOPE, batchSize: 2, delayMs: 60_000, settle: s.settle, send: () => { throw new Error('no transport'); } });
    batches.add(span(1));
    batches.add(span(2));
    await batches.flush();
    expect(s.exported).toBe(0);
    expect(s.dropped).toBe(2);
    expect(s.errors[0]?.message).toBe('no transport');
  });

  it('uses a buffer again once its batch is acknowledged, never while it is in flight or after a failure', async () => {
    const { send, sent } = recordingSend();
    const s = settled();
    const batches = new SpanBatches({ resource: RESOURCE, scope: DECISION_SCOPE, batchSize: 2, delayMs: 60_000, send, settle: s.settle });
    for (let i = 0; i < 4; i++) batches.add(span(i, `/long/${'x'.repeat(i * 100)}`));
    // Two batches in flight: two buffers.
    expect(batches.stats).toEqual({ buffersAllocated: 2, buffersReused: 0, inFlight: 2 });
    sent[0]?.done(true, undefined);
    sent[1]?.done(false, new Error('timed out'));
    for (let i = 4; i < 8; i++) batches.add(span(i));
    // The acknowledged buffer came back; the failed one did not (the transport may still hold it).
    expect(batches.stats).toMatchObject({ buffersAllocated: 3, buffersReused: 1 });
    expect(sent[2]?.batch).toBe(sent[0]?.batch);
    // What a reused buffer sends is its own spans only, whatever the longer spans before left in it.
    const expected = [4, 5].map((i) => new DecisionSpan({ ...span(i), resource }));
    expect(sent[2]?.bytes.equals(Buffer.from(traceProtoSerializer.serializeRequest(expected) ?? []))).toBe(true);
    for (const b of sent.slice(2)) b.done(true, undefined);
    await batches.flush();
    expect(s).toMatchObject({ exported: 6, dropped: 2 });
  });

  it('flush resolves only once every batch in flight is settled', async () => {
    const { send, sent } = recordingSend();
    const s = settled();
    const batches = new SpanBatches({ resource: RESOURCE, scope: DECISION_SCOPE, batchSize: 2, delayMs: 60_000, send, settle: s.settle });
    for (let i = 0; i < 3; i++) batches.add(span(i));
    let done = false;
    const flushed = batches.flush().then(() => { done = true; });
    await Promise.resolve();
    expect(done).toBe(false);
    sent[0]?.done(true, undefined);
    await Promise.resolve();
    expect(done).toBe(false);
    sent[1]?.done(true, undefined);
    await flushed;
    expect(s).toMatchObject({ exported: 3, dropped: 0 });
  });
});

describe('the audit tracer over span batches, to a real OTLP receiver', () => {
  const receivers: OtlpReceiver[] = [];
  const tracers: AuditTracer[] = [];
  afterAll(async () => {
    await Promise.all(tracers.map((t) => t.shutdown()));
    await Promise.all(receivers.map((r) => r.close()));
  });

  async function tracerTo(protocol: 'http/protobuf' | 'grpc', answer: boolean, maxQueue: number, batchSize: number, queue: SpanQueue = 'batches'): Promise<{ tracer: AuditTracer; receiver: OtlpReceiver }> {
    const receiver = await startOtlpReceiver({ protocol, answer });
    receivers.push(receiver);
    const saved = process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
    process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = receiver.url;
    try {
      const tracer = await createAuditTracer({ protocol, queue, resource: RESOURCE, maxQueue, batchSize, delayMs: 60_000 });
      tracers.push(tracer);
      return { tracer, receiver };
    } finally {
      if (saved === undefined) Reflect.deleteProperty(process.env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
      else process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = saved;
    }
  }

  /** Records n decisions, one tick apart in groups, as the Check handler does. */
  async function record(tracer: AuditTracer, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const trace = tracer.begin(undefined, undefined, Date.now());
      ids.push(tracer.end(trace, { 'agentwarden.decision': i % 2 === 0 ? 'allow' : 'deny', 'url.path': `/tickets/${i}` }, undefined));
      if (i % 7 === 6) await new Promise((r) => setImmediate(r));
    }
    return ids;
  }

  it.each<['http/protobuf' | 'grpc', SpanQueue]>([['http/protobuf', 'batches'], ['grpc', 'batches'], ['http/protobuf', 'sdk']])('exports every span in batches of batchSize over %s (queue %s), the last at shutdown', async (protocol, queue) => {
    const { tracer, receiver } = await tracerTo(protocol, true, 2048, 16, queue);
    const ids = await record(tracer, 100);
    await tracer.shutdown();
    expect(tracer.counters).toEqual({ exported: 100, dropped: 0 });
    // Batches: 6 full batches while recording, the last 4 spans sent by shutdown (the delay is a minute).
    if (queue === 'batches') expect(receiver.payloads).toHaveLength(7);
    const spans = receiver.spans();
    expect(spans.map((s) => s.span.traceId).sort()).toEqual([...ids].sort());
    expect(spans.map((s) => s.attributes['url.path'])).toEqual(Array.from({ length: 100 }, (_, i) => `/tickets/${i}`));
    expect(spans.every((s) => s.span.name === 'agentwarden.decision' && s.resource['k8s.pod.name'] === 'agent-1')).toBe(true);
  });

  it('drops and counts the spans beyond the queue while the collector does not answer, exports the rest once it does', async () => {
    const { tracer, receiver } = await tracerTo('http/protobuf', false, 32, 8);
    await record(tracer, 50);
    expect(tracer.counters.dropped).toBe(18);
    receiver.startAnswering();
    await tracer.forceFlush();
    expect(tracer.counters).toEqual({ exported: 32, dropped: 18 });
    expect(receiver.spans()).toHaveLength(32);
  });
});

describe('AGENTWARDEN_SPAN_QUEUE', () => {
  const STANDALONE = ['--policy', 'p.yaml', '--pod', 'pod.yaml'];

  it('defaults to batches and accepts sdk (the BatchSpanProcessor, as before)', () => {
    expect(readSidecarConfig(STANDALONE, {}).spanQueue).toBe('batches');
    expect(readSidecarConfig(STANDALONE, { AGENTWARDEN_SPAN_QUEUE: 'sdk' }).spanQueue).toBe('sdk');
  });

  it('refuses any other value, naming the variable', () => {
    expect(() => readSidecarConfig(STANDALONE, { AGENTWARDEN_SPAN_QUEUE: 'ring' }))
      .toThrow(new ConfigError('AGENTWARDEN_SPAN_QUEUE: "ring" is not batches or sdk'));
  });
});
