// AGENTWARDEN_OTLP_SERIALIZER: the sidecar's own OTLP protobuf serializer by
// default, the SDK's ProtobufTraceSerializer as a fallback; either way the
// decision spans reach a real receiver over http/protobuf and grpc.
import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ConfigError, readSidecarConfig } from '../src/config.js';
import { agentPolicy, startTestSidecar, stopSidecars } from './helpers.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

const POLICY = agentPolicy('support', `
  podSelector: {matchLabels: {app: support-agent}}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com]}
      http: {methods: [GET], paths: ["/api/v2/tickets/{id}"]}
`);

const STANDALONE = ['--policy', 'p.yaml', '--pod', 'pod.yaml'];

describe('AGENTWARDEN_OTLP_SERIALIZER', () => {
  it('defaults to the sidecar serializer and accepts sdk', () => {
    expect(readSidecarConfig(STANDALONE, {}).otlpSerializer).toBe('sidecar');
    expect(readSidecarConfig(STANDALONE, { AGENTWARDEN_OTLP_SERIALIZER: 'sdk' }).otlpSerializer).toBe('sdk');
  });

  it('refuses any other value, naming the variable', () => {
    expect(() => readSidecarConfig(STANDALONE, { AGENTWARDEN_OTLP_SERIALIZER: 'protobufjs' }))
      .toThrow(new ConfigError('AGENTWARDEN_OTLP_SERIALIZER: "protobufjs" is not sidecar or sdk'));
  });
});

describe.each<'http/protobuf' | 'grpc'>(['http/protobuf', 'grpc'])('decision spans over OTLP %s', (protocol) => {
  const receivers: OtlpReceiver[] = [];
  afterEach(async () => {
    jest.restoreAllMocks();
    await stopSidecars();
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
  });

  /** Whether the SDK's serializer wrote the export of one decision, and the span the receiver got. */
  async function exportOne(env: Readonly<Record<string, string>>): Promise<{ sdkCalls: number; rules: unknown[] }> {
    const receiver = await startOtlpReceiver({ protocol });
    receivers.push(receiver);
    const sdk = jest.spyOn(ProtobufTraceSerializer, 'serializeRequest');
    const sidecar = await startTestSidecar({
      policies: { 'support.yaml': POLICY },
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: protocol, ...env },
      exporterEnv: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url },
    });
    const traceId = randomBytes(16).toString('hex');
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/7', headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } });
    await sidecar.running.tracer.forceFlush();
    const rules = receiver.spans().filter((s) => s.span.traceId === traceId).map((s) => s.attributes['agentwarden.rule']);
    return { sdkCalls: sdk.mock.calls.length, rules };
  }

  it('are written by the sidecar serializer by default', async () => {
    expect(await exportOne({})).toEqual({ sdkCalls: 0, rules: ['read-tickets'] });
  });

  it('are written by the SDK serializer with AGENTWARDEN_OTLP_SERIALIZER=sdk', async () => {
    const { sdkCalls, rules } = await exportOne({ AGENTWARDEN_OTLP_SERIALIZER: 'sdk' });
    expect(sdkCalls).toBeGreaterThan(0);
    expect(rules).toEqual(['read-tickets']);
  });
});
