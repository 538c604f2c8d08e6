// Which OTLP protobuf serializer the exporter uses (AGENTWARDEN_OTLP_SERIALIZER):
// the sidecar's own (otlp-trace-proto.ts, the default) or, as a fallback, the
// SDK's ProtobufTraceSerializer. Both write the same bytes
// (sidecar/test/otlp-trace-proto.test.ts); `make bench-impls` prints what each costs.

export type OtlpSerializer = 'sidecar' | 'sdk';
export const OTLP_SERIALIZERS: readonly OtlpSerializer[] = ['sidecar', 'sdk'];
export const DEFAULT_OTLP_SERIALIZER: OtlpSerializer = 'sidecar';

export function isOtlpSerializer(s: string): s is OtlpSerializer {
  return (OTLP_SERIALIZERS as readonly string[]).includes(s);
}
