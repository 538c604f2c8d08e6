// The OpenTelemetry SDK's OTLP trace exporter for the protocol configured
// (OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL). The SDK reads the other
// OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout, compression,
// certificates) from the environment itself, when the exporter is built.
//
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
