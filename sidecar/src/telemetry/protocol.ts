// The OTLP protocols audit spans can be exported with (OTEL_EXPORTER_OTLP_PROTOCOL).

export type OtlpProtocol = 'grpc' | 'http/protobuf' | 'http/json';
export const OTLP_PROTOCOLS: readonly OtlpProtocol[] = ['grpc', 'http/protobuf', 'http/json'];
/** The OpenTelemetry specification's default for OTEL_EXPORTER_OTLP_PROTOCOL. */
export const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = 'http/protobuf';

export function isOtlpProtocol(p: string): p is OtlpProtocol {
  return (OTLP_PROTOCOLS as readonly string[]).includes(p);
}
