// Which transport sends the default span queue's batches over http/protobuf
// (AGENTWARDEN_OTLP_TRANSPORT): the sidecar's own (otlp-http-transport.ts, the
// default) or, as a fallback, the SDK's http export delegate. `make
// bench-memory` runs the sidecar with each, side by side.

export type OtlpTransport = 'sidecar' | 'sdk';
export const OTLP_TRANSPORTS: readonly OtlpTransport[] = ['sidecar', 'sdk'];
export const DEFAULT_OTLP_TRANSPORT: OtlpTransport = 'sidecar';

export function isOtlpTransport(s: string): s is OtlpTransport {
  return (OTLP_TRANSPORTS as readonly string[]).includes(s);
}
