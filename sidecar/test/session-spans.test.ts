// Lineage in the trace (issue 16, DESIGN.md "The wire"): a decision span
// carries the caller's session id and taints, the taints the decision added,
// and a span link to each decision whose taint changed it. The ids of a
// decision's span are chosen before the decision (begin), so that a taint can
// keep them as its origin, and the span is recorded with exactly those ids.
// Exported to a real OTLP receiver by both serializers.
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { Decision } from '../../policy/src/index.js';
import { decisionAttributes } from '../src/telemetry/attributes.js';
import type { OtlpProtocol } from '../src/telemetry/protocol.js';
import type { OtlpSerializer } from '../src/telemetry/serializer.js';
import { createAuditTracer, type AuditTracer } from '../src/telemetry/tracing.js';
import { startOtlpReceiver, stringArrayAttribute, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const POD = { namespace: 'support', name: 'support-agent-0' };

function decision(allowed: boolean, rule: string, session?: Decision['session']): Decision {
  return {
    allowed, mode: 'Enforce', policy: 'trifecta', rule, reason: `${allowed ? 'allowed' : 'denied'} by rule "${rule}"`, auditDecision: null, headers: [],
    request: { method: allowed ? 'GET' : 'POST', host: allowed ? 'crm.internal' : 'hooks.slack.com', port: 443, path: '/', mcpMethod: '', mcpTool: '', mcpId: undefined },
    ...(session === undefined ? {} : { session }),
  };
}

const receivers: OtlpReceiver[] = [];
const tracers: AuditTracer[] = [];
afterAll(async () => {
  await Promise.all(tracers.map((t) => t.shutdown()));
  await Promise.all(receivers.map((r) => r.close()));
});

/** A tracer exporting to a new receiver; the exporter reads its endpoint from the environment when it is made. */
async function tracerTo(protocol: OtlpProtocol, serializer: OtlpSerializer): Promise<{ tracer: AuditTracer; receiver: OtlpReceiver }> {
  const receiver = await startOtlpReceiver({ protocol });
  receivers.push(receiver);
  const saved = process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = receiver.url;
  try {
    const tracer = await createAuditTracer({ protocol, serializer, resource: { 'service.name': 'agentwarden-sidecar' }, maxQueue: 64, batchSize: 16, delayMs: 10_000 });
    tracers.push(tracer);
    return { tracer, receiver };
  } finally {
    if (saved === undefined) Reflect.deleteProperty(process.env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    else process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = saved;
  }
}

function spanOf(receiver: OtlpReceiver, traceId: string, spanId: string): ReceivedSpan {
  const found = receiver.spans().filter((s) => s.span.traceId === traceId && s.span.spanId === spanId);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe.each<[OtlpProtocol, OtlpSerializer]>([
  ['http/protobuf', 'sidecar'], ['http/protobuf', 'sdk'], ['grpc', 'sidecar'], ['grpc', 'sdk'], ['http/json', 'sidecar'],
])('session lineage in decision spans over OTLP %s (serializer %s)', (protocol, serializer) => {
  it('records the span with the ids chosen before the decision: the traceparent\'s trace, a child of the caller\'s span', async () => {
    const { tracer, receiver } = await tracerTo(protocol, serializer);
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const ids = tracer.begin(`00-${traceId}-${callerSpan}-01`, 'vendor=a', Date.now());
    expect(ids.traceId).toBe(traceId);
    expect(ids.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(tracer.end(ids, decisionAttributes(decision(true, 'read-customer'), 'v1', POD), undefined)).toBe(traceId);
    const fresh = tracer.begin(undefined, undefined, Date.now());
    expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.traceId).not.toBe(traceId);
    tracer.end(fresh, decisionAttributes(decision(true, 'read-customer'), 'v1', POD), undefined);
    await tracer.forceFlush();
    expect(spanOf(receiver, traceId, ids.spanId).span).toMatchObject({ name: 'agentwarden.decision', parentSpanId: callerSpan, traceState: 'vendor=a' });
    expect(spanOf(receiver, fresh.traceId, fresh.spanId).span.parentSpanId ?? '').toBe('');
  });

  it('carries the session id and taints, the taints added, and a link from the deny to the read that added the taint', async () => {
    const { tracer, receiver } = await tracerTo(protocol, serializer);
    const sdkSerializer = jest.spyOn(ProtobufTraceSerializer, 'serializeRequest');
    const read = tracer.begin(undefined, undefined, Date.now());
    const untrusted = tracer.begin(undefined, undefined, Date.now());
    try {
      tracer.end(read, decisionAttributes(decision(true, 'read-customer', { id: 'support-agent-0', taints: [], added: ['pii'], links: [] }), 'v1', POD), []);
      tracer.end(untrusted, decisionAttributes(decision(true, 'browse-web', { id: 'support-agent-0', taints: ['pii'], added: ['untrusted'], links: [] }), 'v1', POD), []);
      const deny = tracer.begin(undefined, undefined, Date.now());
      const links = [{ traceId: untrusted.traceId, spanId: untrusted.spanId }, { traceId: read.traceId, spanId: read.spanId }];
      tracer.end(deny, decisionAttributes(decision(false, 'no-exfil-after-pii', { id: 'support-agent-0', taints: ['pii', 'untrusted'], added: [], links }), 'v1', POD), links);
      await tracer.forceFlush();
      expect(sdkSerializer.mock.calls.length > 0).toBe(serializer === 'sdk' && protocol !== 'http/json');
    } finally {
      sdkSerializer.mockRestore();
    }

    // The read's span has the ids begin() chose before the decision, which the deny links to.
    const readSpan = spanOf(receiver, read.traceId, read.spanId);
    expect(readSpan.attributes['agentwarden.rule']).toBe('read-customer');
    expect(readSpan.attributes['agentwarden.session.id']).toBe('support-agent-0');
    expect(Object.keys(readSpan.attributes ?? {})).toContain('agentwarden.session.taints');
    expect(stringArrayAttribute(readSpan, 'agentwarden.session.taints')).toEqual([]);
    expect(stringArrayAttribute(readSpan, 'agentwarden.session.taints.added')).toEqual(['pii']);
    expect(readSpan.span.links ?? []).toEqual([]);

    const denySpan = receiver.spans().find((s) => s.attributes['agentwarden.rule'] === 'no-exfil-after-pii');
    expect(denySpan?.attributes['agentwarden.decision']).toBe('deny');
    expect(stringArrayAttribute(denySpan, 'agentwarden.session.taints')).toEqual(['pii', 'untrusted']);
    expect(denySpan?.attributes).not.toHaveProperty('agentwarden.session.taints.added');
    expect(denySpan?.span.links?.map((l) => [l.traceId, l.spanId])).toEqual([
      [untrusted.traceId, untrusted.spanId],
      [read.traceId, read.spanId],
    ]);
  });

  it('gives a decision without a session neither session attributes nor links', async () => {
    const { tracer, receiver } = await tracerTo(protocol, serializer);
    const ids = tracer.begin(undefined, undefined, Date.now());
    tracer.end(ids, decisionAttributes(decision(true, 'read-customer'), 'v1', POD), undefined);
    await tracer.forceFlush();
    const span = spanOf(receiver, ids.traceId, ids.spanId);
    expect(Object.keys(span.attributes).filter((k) => k.startsWith('agentwarden.session'))).toEqual([]);
    expect(span.span.links ?? []).toEqual([]);
  });
});
