// The in-process pairs of make bench-impls: each hand-written codec of the
// sidecar's hot path beside the library code it replaced, on the same inputs.
//   CheckRequest:  policy/src/check-request-wire.ts    vs protobuf-es fromBinary
//   CheckResponse: sidecar/src/authz/response-wire.ts  vs protobuf-es create + toBinary (respond.ts)
//   OTLP spans:    sidecar/src/telemetry/otlp-trace-proto.ts vs the SDK's ProtobufTraceSerializer
// Both sides of a pair do the same work: test/pairs.test.ts checks that they
// give the same decisions and write the same bytes for these inputs.
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { CheckRequestSchema, CheckResponseSchema } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { decodeCheckRequest, evaluate, TokenBuckets, type CheckRequestFields, type Decision, type LoadedSnapshot } from '../../policy/src/index.js';
import { readCheckRequest } from '../../policy/src/request.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { compileLocal } from '../../sidecar/src/standalone/source.js';
import { checkResponse } from '../../sidecar/src/authz/respond.js';
import { encodeCheckResponse } from '../../sidecar/src/authz/response-wire.js';
import { decisionAttributes } from '../../sidecar/src/telemetry/attributes.js';
import { DecisionSpan } from '../../sidecar/src/telemetry/decision-span.js';
import { encodeSpan, traceProtoSerializer } from '../../sidecar/src/telemetry/otlp-trace-proto.js';
import { MIX } from '../compare/mix.js';

const root = join(import.meta.dirname, '..', '..', '..');
const NOW_MS = Date.UTC(2026, 10, 29, 14, 13);

/** The bench policy of make bench (bench/peers/agentwarden), compiled for its pod. */
export function benchSnapshot(): LoadedSnapshot {
  const peers = join(root, 'bench', 'peers', 'agentwarden');
  return compileLocal({ policyPaths: [join(peers, 'policy.yaml')], podFile: join(peers, 'pod.yaml'), secretsDir: undefined });
}

/** The 21 requests of the bench mix (bench/compare/mix.ts) as Envoy's CheckRequest bytes. */
export function mixRequests(): Uint8Array[] {
  return MIX.map((e) => toBinary(CheckRequestSchema, checkRequestFrom(e.request, NOW_MS)));
}

/**
 * A CheckRequest as Envoy's HTTP ext_authz filter sends it for an agent's POST:
 * source and destination peers, request id and protocol, 14 headers, a JSON
 * body and filter metadata (most of which the decision never reads).
 */
export function envoyLikeRequest(): Uint8Array {
  const socket = (address: string, port: number) => ({
    address: { address: { case: 'socketAddress' as const, value: { address, portSpecifier: { case: 'portValue' as const, value: port } } } },
  });
  const message = create(CheckRequestSchema, {
    attributes: {
      source: { ...socket('10.244.1.17', 48122), principal: 'spiffe://cluster.local/ns/agents/sa/support-agent' },
      destination: socket('140.82.112.6', 443),
      request: {
        time: timestampFromMs(NOW_MS),
        http: {
          id: '11735451813483964785', method: 'POST', path: '/repos/acme/widgets/issues/42/comments', host: 'api.github.com',
          scheme: 'https', protocol: 'HTTP/1.1', size: 42n,
          headers: {
            ':authority': 'api.github.com', ':method': 'POST', ':path': '/repos/acme/widgets/issues/42/comments', ':scheme': 'https',
            'user-agent': 'agent-runtime/1.4.2 python-httpx/0.28.1', accept: 'application/vnd.github+json', 'content-type': 'application/json',
            'content-length': '42', 'x-github-api-version': '2022-11-28', 'x-forwarded-proto': 'https',
            'x-request-id': '6f0c3a52-0a47-4a52-9a2e-2b7d1c9f3e11', 'x-envoy-expected-rq-timeout-ms': '15000',
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'accept-encoding': 'gzip, deflate',
          },
          body: '{"body":"Reproduced on main; fix in #43."}',
        },
      },
      metadataContext: {
        filterMetadata: {
          'envoy.filters.http.rbac': { fields: { shadow_engine_result: { kind: { case: 'stringValue', value: 'allowed' } } } },
          'istio.mixer': { fields: { workload: { kind: { case: 'stringValue', value: 'support-agent-7d9f8' } } } },
        },
      },
    },
  });
  return toBinary(CheckRequestSchema, message);
}

/** One side of a pair: what the sidecar does now, or what it did before. */
export interface Side {
  readonly label: string;
  /** Runs the operation once on each input; returns something derived from the results, so none is optimised away. */
  readonly run: () => number;
}

export interface Pair {
  /** For the `bench:` line. */
  readonly key: string;
  readonly name: string;
  /** What one operation is, for the µs/op column: "decode", "span"... */
  readonly unit: string;
  /** Operations per run(). */
  readonly ops: number;
  readonly ours: Side;
  readonly library: Side;
}

/** The policy's view of a request (what rules match against), with body and headers read. */
const NEEDS = { body: true, headers: true } as const;

/** CheckRequest bytes to CheckRequestFields: the wire reader against protobuf-es fromBinary (as the handler called it). */
export function decodePairs(key: string, name: string, inputs: readonly Uint8Array[]): Pair[] {
  const viewOf = (f: CheckRequestFields): number => {
    const r = readCheckRequest(f, NEEDS);
    return r.ok ? r.view.segments.length : 0;
  };
  return [
    {
      key: `decode_${key}`, name: `CheckRequest decode, ${name}`, unit: 'request', ops: inputs.length,
      ours: { label: 'wire reader (check-request-wire.ts)', run: () => inputs.reduce((n, b) => n + (decodeCheckRequest(b).attributes === undefined ? 0 : 1), 0) },
      library: { label: 'protobuf-es fromBinary', run: () => inputs.reduce((n, b) => n + (fromBinary(CheckRequestSchema, b, { readUnknownFields: false }).attributes === undefined ? 0 : 1), 0) },
    },
    {
      key: `decode_view_${key}`, name: `CheckRequest decode + request view (readCheckRequest), ${name}`, unit: 'request', ops: inputs.length,
      ours: { label: 'wire reader + readCheckRequest', run: () => inputs.reduce((n, b) => n + viewOf(decodeCheckRequest(b)), 0) },
      library: { label: 'protobuf-es fromBinary + readCheckRequest', run: () => inputs.reduce((n, b) => n + viewOf(fromBinary(CheckRequestSchema, b, { readUnknownFields: false })), 0) },
    },
  ];
}

/** The decisions the bench policy gives the mix: allows, denies (JSON body) and MCP denies (JSON-RPC error). */
export function mixDecisions(loaded: LoadedSnapshot): Decision[] {
  const limiter = new TokenBuckets();
  return mixRequests().map((b) => evaluate(loaded, decodeCheckRequest(b), { nowMs: NOW_MS, rateLimiter: limiter }));
}

export const DECISION_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** Decision to CheckResponse bytes: response-wire.ts against protobuf-es (respond.ts builds the message, toBinary writes it). */
export function encodePair(decisions: readonly Decision[]): Pair {
  return {
    key: 'encode_mix', name: `CheckResponse encode, the bench mix's ${decisions.length} decisions`, unit: 'response', ops: decisions.length,
    ours: { label: 'response-wire.ts', run: () => decisions.reduce((n, d) => n + encodeCheckResponse(d, DECISION_ID).length, 0) },
    library: { label: 'protobuf-es create + toBinary', run: () => decisions.reduce((n, d) => n + toBinary(CheckResponseSchema, checkResponse(d, DECISION_ID)).length, 0) },
  };
}

export const SPAN_BATCH = 512;

const spanResource = resourceFromAttributes({ 'service.name': 'agentwarden-sidecar', 'k8s.namespace.name': 'agents', 'k8s.pod.name': 'agent-1' });
const spanPod = { namespace: 'agents', name: 'agent-1' };

function spanDecision(i: number): Decision {
  return {
    allowed: i % 3 !== 0, mode: 'Enforce', policy: 'github-agent', rule: i % 3 === 0 ? 'gh-no-delete' : 'gh-comment',
    reason: i % 3 === 0 ? 'denied by rule gh-no-delete' : 'allowed by rule gh-comment', auditDecision: null, headers: [],
    request: { method: i % 3 === 0 ? 'DELETE' : 'POST', host: 'api.github.com', port: 443, path: `/repos/acme/widgets/issues/${i}/comments`, mcpMethod: '', mcpTool: '', mcpId: undefined },
  };
}

/**
 * A batch of decision spans as the sidecar queues them (DecisionSpan, carrying
 * its own encoding), or as plain ReadableSpans with the same fields (what any
 * SDK span looks like: both serializers encode those from scratch).
 */
export function spanBatch(plain: boolean): ReadableSpan[] {
  return Array.from({ length: SPAN_BATCH }, (_, i) => {
    const fields = {
      traceId: (i * 7919).toString(16).padStart(32, '0'), spanId: (i * 104729).toString(16).padStart(16, '0'),
      parentSpanId: i % 2 === 0 ? 'a7ad6b7169203331' : undefined, traceState: undefined,
      startMs: 1764400000123.456 + i, endMs: 1764400000123.9 + i, attributes: decisionAttributes(spanDecision(i), 'sha256:0123abcd', spanPod), resource: spanResource,
    };
    const span = new DecisionSpan(fields);
    if (!plain) return span;
    const context = span.spanContext();
    return {
      name: span.name, kind: span.kind, spanContext: () => context, parentSpanContext: span.parentSpanContext,
      startTime: span.startTime, endTime: span.endTime, duration: span.duration, status: span.status, attributes: fields.attributes,
      links: [], events: [], ended: true, resource: spanResource, instrumentationScope: span.instrumentationScope,
      droppedAttributesCount: 0, droppedEventsCount: 0, droppedLinksCount: 0,
    };
  });
}

/** A batch of plain spans to ExportTraceServiceRequest bytes: otlp-trace-proto.ts against the SDK's serializer. */
export function otlpPair(plain: ReadableSpan[]): Pair {
  return {
    key: 'otlp_serialize', name: `OTLP serialize, ${plain.length}-span batches of decision spans`, unit: 'span', ops: plain.length,
    ours: { label: 'otlp-trace-proto.ts', run: () => traceProtoSerializer.serializeRequest(plain)?.length ?? 0 },
    library: { label: 'SDK ProtobufTraceSerializer', run: () => ProtobufTraceSerializer.serializeRequest(plain)?.length ?? 0 },
  };
}

/**
 * How the sidecar splits that work (one side each, no library counterpart):
 * encoding a span when it is queued, and sending a batch of encoded spans.
 */
export function otlpParts(plain: ReadableSpan[], encoded: ReadableSpan[]): Side[] {
  return [
    { label: 'encoding each span when it is queued', run: () => plain.reduce((n, s) => n + encodeSpan(s).length, 0) },
    { label: 'a batch of encoded spans when it is sent', run: () => traceProtoSerializer.serializeRequest(encoded)?.length ?? 0 },
  ];
}
