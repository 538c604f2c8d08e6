// The OTLP trace exporters, for the protocol configured
// (OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL).
//
// The default span queue's batches (createBatchExporter) go out over
// http/protobuf through the sidecar's own transport (otlp-http-transport.ts:
// the SDK's contract without loading the SDK; the other OTEL_EXPORTER_OTLP_*
// variables read by config.ts at start, otlp-http-options.ts), over grpc
// through the SDK's grpc export delegate, which reads them itself when it is
// built.
//
// The SDK's span queue (sdk-spans.ts) uses the SDK's exporters:
// grpc and http/protobuf are the SDK's exporters assembled from the SDK's own
// parts, exactly as its OTLPTraceExporter classes assemble them (export
// delegate, transport, retries, configuration from the environment), with
// one difference: the protobuf serializer is ours (otlp-trace-proto.ts, same
// bytes, less CPU: `make bench-impls`), unless AGENTWARDEN_OTLP_SERIALIZER=sdk
// asks for the SDK's ProtobufTraceSerializer (the fallback, loaded only then).
// http/json is the SDK's exporter unchanged. Only the exporter in use is loaded.
import { DEFAULT_OTLP_SERIALIZER, type OtlpSerializer } from './serializer.js';
import type { SpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { IExporterMetricsHelper, IExportTraceServiceResponse, ISerializer } from '@opentelemetry/otlp-transformer';
import type { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import type { OtlpProtocol } from './protocol.js';
import { traceProtoSerializer } from './otlp-trace-proto.js';
import type { BatchSend, SealedBatch } from './span-batches.js';
import { DEFAULT_OTLP_TRANSPORT, type OtlpTransport } from './transport.js';
import type { OtlpHttpOptions } from './otlp-http-options.js';

// CONFIGURATION_NOTE: convertLegacy*Options (deprecated) is how the SDK's own
// OTLPTraceExporter classes (0.223) read OTEL_EXPORTER_OTLP_* and merge the
// defaults; the non-deprecated functions it calls are not exported by the
// packages. Passing {} means: configuration from the environment only.

/** What the SDK's self-observability metrics count in a batch (the SDK's TraceExporterMetricsHelper). */
const SPAN_METRICS: IExporterMetricsHelper<ReadableSpan[]> = { name: 'span', countItems: (spans) => spans.length };

export async function createOtlpExporter(protocol: OtlpProtocol, serializer: OtlpSerializer = DEFAULT_OTLP_SERIALIZER): Promise<SpanExporter> {
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  const protobuf = serializer === 'sdk' ? (await import('@opentelemetry/otlp-transformer')).ProtobufTraceSerializer : traceProtoSerializer;
  return createOtlpProtobufExporter(protocol, protobuf, SPAN_METRICS);
}

/**
 * The SDK's OTLP exporter for grpc or http/protobuf, sending what `serializer`
 * makes of each item it is given: ReadableSpan[] (createOtlpExporter), or a
 * batch the sidecar encoded itself (span-batches.ts, whose serializer hands
 * back the batch's bytes).
 */
export async function createOtlpProtobufExporter<Items>(
  protocol: 'grpc' | 'http/protobuf', serializer: ISerializer<Items, IExportTraceServiceResponse>, metrics: IExporterMetricsHelper<Items>,
): Promise<OTLPExporterBase<Items>> {
  switch (protocol) {
    case 'grpc': {
      const [{ OTLPExporterBase }, grpc] = await Promise.all([import('@opentelemetry/otlp-exporter-base'), import('@opentelemetry/otlp-grpc-exporter-base')]);
      return new OTLPExporterBase(grpc.createOtlpGrpcExportDelegate(
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- see CONFIGURATION_NOTE
        grpc.convertLegacyOtlpGrpcOptions({}, 'TRACES'), serializer, 'otlp_grpc_span_exporter', metrics, undefined,
        'TraceExportService', '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      ));
    }
    case 'http/protobuf': {
      const [{ OTLPExporterBase }, http] = await Promise.all([import('@opentelemetry/otlp-exporter-base'), import('@opentelemetry/otlp-exporter-base/node-http')]);
      return new OTLPExporterBase(http.createOtlpHttpExportDelegate(
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- see CONFIGURATION_NOTE
        http.convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }), serializer, 'otlp_http_span_exporter', metrics, undefined,
      ));
    }
  }
}

/** Sends the span queue's sealed batches (span-batches.ts). */
export interface BatchExporter {
  readonly send: BatchSend;
  /** Waits for the exports in flight, then lets the connections go. */
  shutdown(): Promise<void>;
}

/**
 * The exporter of the default span queue: each sealed batch's bytes are the
 * request. http/protobuf: the sidecar's transport, with the options config.ts
 * read from OTEL_EXPORTER_OTLP_*, or with AGENTWARDEN_OTLP_TRANSPORT=sdk the
 * SDK's http export delegate (the fallback). grpc: the SDK's grpc export
 * delegate.
 */
export async function createBatchExporter(protocol: 'grpc' | 'http/protobuf', transport: OtlpTransport = DEFAULT_OTLP_TRANSPORT, httpOptions?: OtlpHttpOptions): Promise<BatchExporter> {
  if (protocol === 'http/protobuf' && transport === 'sidecar') {
    const { OtlpHttpTransport } = await import('./otlp-http-transport.js');
    // The sidecar gives the options config.ts read; a caller that gives none (tests) gets
    // OTEL_EXPORTER_OTLP_* from the environment, as the SDK's exporter reads them.
    const sender = new OtlpHttpTransport(httpOptions ?? (await import('./otlp-http-options.js')).otlpHttpOptionsFromEnv(process.env));
    return {
      send: (batch, done) => { sender.send(batch.request, (error) => { done(error === undefined, error); }); },
      shutdown: () => sender.shutdown(),
    };
  }
  const [exporter, { ExportResultCode }] = await Promise.all([createOtlpProtobufExporter<SealedBatch>(protocol, {
    serializeRequest: (batch) => batch.request,
    deserializeResponse: (data) => traceProtoSerializer.deserializeResponse(data),
  }, { name: 'span', countItems: (batch) => batch.spans }), import('@opentelemetry/core')]);
  return {
    send: (batch, done) => { exporter.export(batch, (result) => { done(result.code === ExportResultCode.SUCCESS, result.error); }); },
    shutdown: () => exporter.shutdown(),
  };
}
