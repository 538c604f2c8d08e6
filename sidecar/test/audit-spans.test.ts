// Audit (DESIGN.md, "The wire"): one span per decision, named
// agentwarden.decision, parented on the request's traceparent, with exactly the
// listed attributes, exported over OTLP (http/json, http/protobuf and grpc) to
// a real receiver; secrets, header values and bodies never leave the process.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { HeaderMapSchema } from '../../proto/gen/envoy/config/core/v3/base_pb.js';
import type { CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import type { OtlpProtocol } from '../src/telemetry/protocol.js';
import { agentPolicy, denied, eventually, okHeaders, startTestSidecar, stopSidecars, type TestSidecar } from './helpers.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const PROTOCOLS: readonly OtlpProtocol[] = ['http/json', 'http/protobuf', 'grpc'];
const HTTP_PROTOCOLS: readonly OtlpProtocol[] = ['http/json', 'http/protobuf'];

const CREDENTIAL_MARKER = 'CRED-7f3a9c-never-exported';
const BODY_MARKER = 'BODY-51d2e8-never-exported';
const HEADER_MARKER = 'HEADER-c40b17-never-exported';

const SUPPORT = agentPolicy('support', `
  podSelector: {matchLabels: {app: support-agent}}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com]}
      http: {methods: [GET], paths: ["/api/v2/tickets/{id}"]}
      credential: zendesk
    - name: write-tickets
      to: {hosts: [api.zendesk.com]}
      http: {methods: [POST], paths: ["/api/v2/tickets"]}
      when: "request.body.ticket.type == 'question'"
      credential: zendesk
    - name: bulk-update
      to: {hosts: [api.zendesk.com]}
      http: {methods: [POST], paths: ["/api/v2/tickets/update_many"]}
      when: "int(request.body.count) <= 100 && int(request.headers['x-batch']) <= 10"
    - name: mcp-no-deletes
      action: Deny
      to: {hosts: [mcp.support.internal]}
      mcp: {tools: [delete_customer]}
  credentials:
    - name: zendesk
      secretRef: {name: zendesk-api, key: token}
`);

const TRIAL = agentPolicy('trial', `
  podSelector: {}
  mode: Audit
  rules:
    - name: no-ticket-999
      action: Deny
      to: {hosts: [api.zendesk.com]}
      http: {paths: ["/api/v2/tickets/999"]}
`);

function traceparent(): { readonly header: string; readonly traceId: string; readonly spanId: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

/** A sidecar exporting to `receiver`, in the receiver's protocol. */
async function startExporting(receiver: OtlpReceiver, policies: Readonly<Record<string, string>>, env: Readonly<Record<string, string>> = {}): Promise<TestSidecar> {
  return startTestSidecar({
    policies,
    secrets: { 'zendesk-api/token': CREDENTIAL_MARKER },
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: receiver.protocol, ...env },
    exporterEnv: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url },
  });
}

describe.each(PROTOCOLS)('audit spans exported over OTLP %s', (protocol) => {
  let receiver: OtlpReceiver;
  let sidecar: TestSidecar;
  let version: string;

  beforeAll(async () => {
    receiver = await startOtlpReceiver({ protocol });
    sidecar = await startExporting(receiver, { 'support.yaml': SUPPORT, 'trial.yaml': TRIAL });
    version = sidecar.running.state.snapshot!.version;
  });
  afterAll(async () => {
    await stopSidecars();
    await receiver.close();
  });

  /** The spans of one trace, after flushing the sidecar's exporter. */
  async function spansOf(traceId: string): Promise<ReceivedSpan[]> {
    await sidecar.running.tracer.forceFlush();
    return receiver.spans().filter((s) => s.span.traceId === traceId);
  }

  it('records one span named agentwarden.decision per decision, parented on the traceparent', async () => {
    const calls = [traceparent(), traceparent(), traceparent()];
    for (const tp of calls) {
      await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1', headers: { traceparent: tp.header } });
    }
    for (const tp of calls) {
      const spans = await spansOf(tp.traceId);
      expect(spans.map((s) => s.span.name)).toEqual(['agentwarden.decision']);
      expect(spans[0]!.span.parentSpanId).toBe(tp.spanId);
      expect(spans[0]!.span.spanId).not.toBe(tp.spanId);
    }
  });

  it('records an allow with exactly the attributes DESIGN.md lists', async () => {
    const tp = traceparent();
    okHeaders(await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/4711', headers: { traceparent: tp.header } }));
    const [span] = await spansOf(tp.traceId);
    expect(span!.attributes).toEqual({
      'agentwarden.decision': 'allow',
      'agentwarden.mode': 'Enforce',
      'agentwarden.policy': 'support',
      'agentwarden.rule': 'read-tickets',
      'agentwarden.reason': expect.stringContaining('read-tickets'),
      'agentwarden.policy_version': version,
      'agentwarden.audit.decision': 'allow',
      'k8s.namespace.name': 'support',
      'k8s.pod.name': 'support-agent-0',
      'http.request.method': 'GET',
      'server.address': 'api.zendesk.com',
      'server.port': 443,
      'url.path': '/api/v2/tickets/4711',
    });
  });

  it('records the would-be deny of an Audit policy next to the effective allow', async () => {
    const tp = traceparent();
    okHeaders(await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/999', headers: { traceparent: tp.header } }));
    const [span] = await spansOf(tp.traceId);
    expect(span!.attributes).toMatchObject({ 'agentwarden.decision': 'allow', 'agentwarden.rule': 'read-tickets', 'agentwarden.audit.decision': 'deny' });
  });

  it('records a denied MCP tool call with its MCP method and tool name', async () => {
    const tp = traceparent();
    denied(await sidecar.checkShort({ url: 'https://mcp.support.internal/mcp', mcp: { tool: 'delete_customer', arguments: { id: 'C-1' } }, headers: { traceparent: tp.header } }));
    const [span] = await spansOf(tp.traceId);
    expect(span!.attributes).toEqual({
      'agentwarden.decision': 'deny',
      'agentwarden.mode': 'Enforce',
      'agentwarden.policy': 'support',
      'agentwarden.rule': 'mcp-no-deletes',
      'agentwarden.reason': expect.stringContaining('mcp-no-deletes'),
      'agentwarden.policy_version': version,
      'agentwarden.audit.decision': 'deny',
      'k8s.namespace.name': 'support',
      'k8s.pod.name': 'support-agent-0',
      'http.request.method': 'POST',
      'server.address': 'mcp.support.internal',
      'server.port': 443,
      'url.path': '/mcp',
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'delete_customer',
    });
  });

  it('exports the sidecar resource: service.name and the pod it stands for', async () => {
    const tp = traceparent();
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1', headers: { traceparent: tp.header } });
    const [span] = await spansOf(tp.traceId);
    expect(span!.resource).toMatchObject({
      'service.name': 'agentwarden-sidecar',
      'k8s.namespace.name': 'support',
      'k8s.pod.name': 'support-agent-0',
      'k8s.serviceaccount.name': 'support-agent',
    });
  });

  it('gives a deny the decision id of its span: the trace id', async () => {
    const d = denied(await sidecar.checkShort({ method: 'DELETE', url: 'https://api.zendesk.com/api/v2/tickets/1' }));
    const decisionId = String(d.body['decisionId']);
    const spans = await spansOf(decisionId);
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes).toMatchObject({ 'agentwarden.decision': 'deny', 'agentwarden.rule': 'default-deny' });
    expect(spans[0]!.span.parentSpanId ?? '').toBe('');
  });

  it('uses the caller trace as the decision id when a traceparent is sent', async () => {
    const tp = traceparent();
    const d = denied(await sidecar.checkShort({ method: 'DELETE', url: 'https://api.zendesk.com/api/v2/tickets/1', headers: { traceparent: tp.header } }));
    expect(d.body['decisionId']).toBe(tp.traceId);
  });

  it('audits a decision whose caller did not sample its trace', async () => {
    const tp = traceparent();
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1', headers: { traceparent: tp.header.replace(/-01$/, '-00') } });
    expect(await spansOf(tp.traceId)).toHaveLength(1);
  });

  it('takes traceparent and tracestate from header_map as from headers', async () => {
    const tp = traceparent();
    const toHeaderMap = (r: CheckRequest): void => {
      const http = r.attributes!.request!.http!;
      http.headerMap = create(HeaderMapSchema, { headers: Object.entries(http.headers).map(([key, value]) => ({ key, rawValue: new TextEncoder().encode(value) })) });
      http.headers = {};
    };
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1', headers: { traceparent: tp.header, tracestate: 'vendor=abc' } }, toHeaderMap);
    const [span] = await spansOf(tp.traceId);
    expect(span!.span.parentSpanId).toBe(tp.spanId);
    expect(span!.span.traceState).toBe('vendor=abc');
  });

  it('exports no request body, credential value or header value', async () => {
    const tp = traceparent();
    const headers = { traceparent: tp.header, 'x-note': HEADER_MARKER };
    // An allow that injects the credential, a write with a body, a denied MCP call with arguments.
    okHeaders(await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1', headers }));
    okHeaders(await sidecar.checkShort({ method: 'POST', url: 'https://api.zendesk.com/api/v2/tickets', headers, body: { ticket: { type: 'question', subject: BODY_MARKER } } }));
    denied(await sidecar.checkShort({ url: 'https://mcp.support.internal/mcp', headers, mcp: { tool: 'delete_customer', arguments: { reason: BODY_MARKER } } }));
    expect(await spansOf(tp.traceId)).toHaveLength(3);
    const exported = Buffer.concat(receiver.payloads).toString('utf8');
    for (const marker of [CREDENTIAL_MARKER, BODY_MARKER, HEADER_MARKER]) expect(exported).not.toContain(marker);
    const logs = sidecar.logs.join('');
    for (const marker of [CREDENTIAL_MARKER, BODY_MARKER, HEADER_MARKER]) expect(logs).not.toContain(marker);
  });

  it('exports no body or header value even when a condition fails on it', async () => {
    const tp = traceparent();
    const badBody = await sidecar.checkShort({
      method: 'POST', url: 'https://api.zendesk.com/api/v2/tickets/update_many',
      headers: { traceparent: tp.header, 'x-batch': '5' }, body: { count: BODY_MARKER },
    });
    const badHeader = await sidecar.checkShort({
      method: 'POST', url: 'https://api.zendesk.com/api/v2/tickets/update_many',
      headers: { traceparent: tp.header, 'x-batch': HEADER_MARKER }, body: { count: 5 },
    });
    expect(denied(badBody).body['rule']).toBe('default-deny');
    expect(denied(badHeader).body['rule']).toBe('default-deny');
    const spans = await spansOf(tp.traceId);
    expect(spans).toHaveLength(2);
    const leaks = spans.flatMap((s) => Object.entries(s.attributes))
      .filter(([, value]) => String(value).includes(BODY_MARKER) || String(value).includes(HEADER_MARKER))
      .map(([key, value]) => `${key}: ${String(value)}`);
    expect(leaks).toEqual([]);
    expect(Buffer.concat(receiver.payloads).toString('utf8')).not.toMatch(new RegExp(`${BODY_MARKER}|${HEADER_MARKER}`));
  });
});

describe.each(HTTP_PROTOCOLS)('the OTLP %s endpoint', (protocol) => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver({ protocol });
  });
  afterAll(async () => {
    await stopSidecars();
    await receiver.close();
  });

  it('is taken from OTEL_EXPORTER_OTLP_ENDPOINT, with /v1/traces appended', async () => {
    const sidecar = await startTestSidecar({
      policies: { 'support.yaml': SUPPORT },
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol },
      exporterEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url.replace(/\/v1\/traces$/, '') },
    });
    const tp = traceparent();
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1', headers: { traceparent: tp.header } });
    await sidecar.running.tracer.forceFlush();
    expect(receiver.spans().filter((s) => s.span.traceId === tp.traceId)).toHaveLength(1);
  });
});

describe('audit spans of a pod governed only by Enforce policies', () => {
  let receiver: OtlpReceiver;
  let sidecar: TestSidecar;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    sidecar = await startExporting(receiver, { 'support.yaml': SUPPORT });
  });
  afterAll(async () => {
    await stopSidecars();
    await receiver.close();
  });

  it('carry no agentwarden.audit.decision', async () => {
    const tp = traceparent();
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1', headers: { traceparent: tp.header } });
    await sidecar.running.tracer.forceFlush();
    const [span] = receiver.spans().filter((s) => s.span.traceId === tp.traceId);
    expect(span!.attributes['agentwarden.decision']).toBe('allow');
    expect(span!.attributes).not.toHaveProperty('agentwarden.audit.decision');
  });
});

describe.each(PROTOCOLS)('audit spans when the %s collector does not answer', (protocol) => {
  const QUEUE = 2;
  let receiver: OtlpReceiver;
  let sidecar: TestSidecar;
  beforeAll(async () => {
    receiver = await startOtlpReceiver({ protocol, answer: false });
    sidecar = await startExporting(receiver, { 'support.yaml': SUPPORT }, { OTEL_BSP_MAX_QUEUE_SIZE: String(QUEUE), OTEL_BSP_SCHEDULE_DELAY: '10' });
  });
  afterAll(async () => {
    receiver.startAnswering();
    await stopSidecars();
    await receiver.close();
  });

  it('keeps answering Checks, drops the spans beyond the queue and counts them in agentwarden_spans_dropped_total', async () => {
    expect(sidecar.running.config.spanQueueSize).toBe(QUEUE);
    const sent = 20;
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1' });
    // The first export is under way (and will hang) before the rest arrive.
    await eventually('the first export to reach the collector', () => (receiver.payloads.length > 0 ? true : undefined));
    for (let i = 1; i < sent; i++) {
      const response = await sidecar.checkShort({ url: `https://api.zendesk.com/api/v2/tickets/${i}` });
      expect(okHeaders(response).get('x-agentwarden-decision')).toBe('allow');
    }
    const metrics = (await sidecar.admin('/metrics')).text;
    const dropped = Number(/^agentwarden_spans_dropped_total (\d+)$/m.exec(metrics)?.[1]);
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThanOrEqual(sent - QUEUE);
    expect(metrics).toMatch(/^agentwarden_spans_exported_total 0$/m);
  });
});

describe.each(PROTOCOLS)('audit spans when the %s collector is gone', (protocol) => {
  afterAll(stopSidecars);

  it('shuts down without error, counting the spans it could not export as dropped', async () => {
    const receiver = await startOtlpReceiver({ protocol });
    await receiver.close();
    // A long batch delay keeps the span queued until shutdown flushes it to the closed port.
    const sidecar = await startExporting(receiver, { 'support.yaml': SUPPORT }, { OTEL_BSP_SCHEDULE_DELAY: '600000' });
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1' });
    await expect(sidecar.stop()).resolves.toBeUndefined();
    expect(sidecar.running.tracer.counters.dropped).toBe(1);
  });
});
