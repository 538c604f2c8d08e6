// make bench-otlp: the sidecar's OTLP protobuf serializer (otlp-trace-proto.ts)
// against the SDK's ProtobufTraceSerializer on batches of decision spans, the
// two alternated so that machine drift falls on both. Also checks that both
// write the same bytes for the batch measured.
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { decisionAttributes } from '../sidecar/src/telemetry/attributes.js';
import { DecisionSpan } from '../sidecar/src/telemetry/decision-span.js';
import { encodeSpan, traceProtoSerializer } from '../sidecar/src/telemetry/otlp-trace-proto.js';
import type { Decision } from '../policy/src/index.js';

const BATCH = 512;
const ROUNDS = 8;
const BATCHES_PER_ROUND = 40;

const resource = resourceFromAttributes({ 'service.name': 'agentwarden-sidecar', 'k8s.namespace.name': 'agents', 'k8s.pod.name': 'agent-1' });
const pod = { namespace: 'agents', name: 'agent-1' };

function decision(i: number): Decision {
  return {
    allowed: i % 3 !== 0, mode: 'Enforce', policy: 'github-agent', rule: i % 3 === 0 ? 'gh-no-delete' : 'gh-comment',
    reason: i % 3 === 0 ? 'denied by rule gh-no-delete' : 'allowed by rule gh-comment', auditDecision: null, headers: [],
    request: { method: i % 3 === 0 ? 'DELETE' : 'POST', host: 'api.github.com', port: 443, path: `/repos/acme/widgets/issues/${i}/comments`, mcpMethod: '', mcpTool: '', mcpId: undefined },
  };
}

/** A batch of decision spans as the sidecar queues them (carrying their own encoding), or as plain ReadableSpans (what any SDK span looks like). */
function batch(plain: boolean): ReadableSpan[] {
  return Array.from({ length: BATCH }, (_, i) => {
    const fields = {
      traceId: (i * 7919).toString(16).padStart(32, '0'), spanId: (i * 104729).toString(16).padStart(16, '0'),
      parentSpanId: i % 2 === 0 ? 'a7ad6b7169203331' : undefined, traceState: undefined,
      startMs: 1764400000123.456 + i, endMs: 1764400000123.9 + i, attributes: decisionAttributes(decision(i), 'sha256:0123abcd', pod), resource,
    };
    const span = new DecisionSpan(fields);
    if (!plain) return span;
    const context = span.spanContext();
    return {
      name: span.name, kind: span.kind, spanContext: () => context, parentSpanContext: span.parentSpanContext,
      startTime: span.startTime, endTime: span.endTime, duration: span.duration, status: span.status, attributes: fields.attributes,
      links: [], events: [], ended: true, resource, instrumentationScope: span.instrumentationScope,
      droppedAttributesCount: 0, droppedEventsCount: 0, droppedLinksCount: 0,
    };
  });
}

function usPerSpan(run: () => void): number {
  const t0 = performance.now();
  for (let i = 0; i < BATCHES_PER_ROUND; i++) run();
  return ((performance.now() - t0) * 1000) / (BATCHES_PER_ROUND * BATCH);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const plainSpans = batch(true);
const sdkBytes = Buffer.from(ProtobufTraceSerializer.serializeRequest(plainSpans) ?? []);
const ownBytes = Buffer.from(traceProtoSerializer.serializeRequest(plainSpans) ?? []);
if (!sdkBytes.equals(ownBytes)) throw new Error('bench-otlp: the two serializers wrote different bytes for the same batch');

const sdk: number[] = [];
const own: number[] = [];
const encodeEach: number[] = [];
const sendEncoded: number[] = [];
const encoded = batch(false);
for (let round = 0; round < ROUNDS + 1; round++) {
  const r = [
    usPerSpan(() => ProtobufTraceSerializer.serializeRequest(plainSpans)),
    usPerSpan(() => traceProtoSerializer.serializeRequest(plainSpans)),
    usPerSpan(() => { for (const s of plainSpans) encodeSpan(s); }),
    usPerSpan(() => traceProtoSerializer.serializeRequest(encoded)),
  ];
  if (round === 0) continue; // warm-up
  sdk.push(r[0] ?? Number.NaN);
  own.push(r[1] ?? Number.NaN);
  encodeEach.push(r[2] ?? Number.NaN);
  sendEncoded.push(r[3] ?? Number.NaN);
}
const lines = [
  `OTLP protobuf serialization of ${BATCH}-span batches of decision spans (${sdkBytes.length} bytes a batch, the same bytes from both), median of ${ROUNDS} alternated rounds:`,
  `  SDK ProtobufTraceSerializer          ${median(sdk).toFixed(2)} µs/span`,
  `  sidecar serializer                   ${median(own).toFixed(2)} µs/span`,
  `    of which: encoding one span        ${median(encodeEach).toFixed(2)} µs/span (done when the span is queued)`,
  `              a batch of encoded spans ${median(sendEncoded).toFixed(2)} µs/span (done when the batch is sent)`,
  `bench: otlp_serializer sdk_us_per_span=${median(sdk).toFixed(2)} own_us_per_span=${median(own).toFixed(2)} encode_us_per_span=${median(encodeEach).toFixed(2)} batch_of_encoded_us_per_span=${median(sendEncoded).toFixed(2)}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
