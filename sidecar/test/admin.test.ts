// The admin HTTP server as the kubelet, Prometheus and on-call see it:
// /healthz, /readyz, /metrics and /debug/snapshot, never showing a credential.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { agentPolicy, startTestSidecar, stopSidecars, type TestSidecar } from './helpers.js';

const CREDENTIAL = 'CRED-admin-2b91f0-never-shown';

const SUPPORT = agentPolicy('support', `
  podSelector: {matchLabels: {app: support-agent}}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com]}
      http: {methods: [GET], paths: ["/api/v2/tickets/{id}"]}
      credential: zendesk
  credentials:
    - name: zendesk
      secretRef: {name: zendesk-api, key: token}
      header: X-Api-Key
      prefix: ""
`);

describe('the admin server', () => {
  let sidecar: TestSidecar;
  let version: string;
  beforeAll(async () => {
    sidecar = await startTestSidecar({ policies: { 'support.yaml': SUPPORT }, secrets: { 'zendesk-api/token': CREDENTIAL } });
    version = sidecar.running.state.snapshot!.version;
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1' });
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/2' });
    await sidecar.checkShort({ method: 'DELETE', url: 'https://api.zendesk.com/api/v2/tickets/2' });
    await sidecar.client.checkBytes(new Uint8Array([0x0a, 0xff]));
  });
  afterAll(stopSidecars);

  it('answers /healthz with 200', async () => {
    const r = await sidecar.admin('/healthz');
    expect(r.status).toBe(200);
  });

  it('answers /readyz with 200 naming the snapshot in force', async () => {
    const r = await sidecar.admin('/readyz');
    expect(r.status).toBe(200);
    expect(r.text).toContain(version);
  });

  it('counts decisions by decision, policy and rule in agentwarden_decisions_total', async () => {
    const { text } = await sidecar.admin('/metrics');
    expect(text).toContain('# TYPE agentwarden_decisions_total counter');
    expect(text).toContain('agentwarden_decisions_total{decision="allow",policy="support",rule="read-tickets"} 2');
    expect(text).toContain('agentwarden_decisions_total{decision="deny",policy="",rule="default-deny"} 1');
    expect(text).toContain('agentwarden_decisions_total{decision="deny",policy="",rule="invalid-request"} 1');
    expect(text).toMatch(/^agentwarden_malformed_requests_total 1$/m);
  });

  it('exposes the Check latency histogram', async () => {
    const { text } = await sidecar.admin('/metrics');
    expect(text).toContain('# TYPE agentwarden_check_duration_seconds histogram');
    expect(text).toMatch(/^agentwarden_check_duration_seconds_bucket\{le="\+Inf"\} 4$/m);
    expect(text).toMatch(/^agentwarden_check_duration_seconds_count 4$/m);
    expect(text).toMatch(/^agentwarden_check_duration_seconds_sum [0-9.e-]+$/m);
    const buckets = [...text.matchAll(/^agentwarden_check_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((m) => Number(m[2]));
    expect(buckets.length).toBeGreaterThan(1);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it('exposes agentwarden_spans_dropped_total and the snapshot version in agentwarden_snapshot_info', async () => {
    const { text } = await sidecar.admin('/metrics');
    expect(text).toMatch(/^agentwarden_spans_dropped_total 0$/m);
    expect(text).toContain(`agentwarden_snapshot_info{version="${version}"} 1`);
    expect(text).toMatch(/^agentwarden_ready 1$/m);
  });

  it('shows the snapshot in force at /debug/snapshot without any credential value', async () => {
    const r = await sidecar.admin('/debug/snapshot');
    expect(r.status).toBe(200);
    const snapshot = JSON.parse(r.text) as { version?: string; policies?: { name?: string }[]; credentials?: { name?: string }[] };
    expect(snapshot.version).toBe(version);
    expect(snapshot.policies?.map((p) => p.name)).toEqual(['support']);
    expect(snapshot.credentials?.map((c) => c.name)).toEqual(['zendesk']);
    const encodings = [CREDENTIAL, Buffer.from(CREDENTIAL).toString('base64'), Buffer.from(CREDENTIAL).toString('base64url'), Buffer.from(CREDENTIAL).toString('hex')];
    for (const secret of encodings) expect(r.text).not.toContain(secret);
  });

  it('never shows the credential on any admin page', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/debug/snapshot']) {
      expect((await sidecar.admin(path)).text).not.toContain(CREDENTIAL);
    }
  });
});

describe('the Check server\'s limits in /metrics', () => {
  afterAll(stopSidecars);

  it('reports refusals by limit, gRPC errors by code, the bytes buffered and the buffer\'s limit', async () => {
    // maxRequestBytes 1 KiB: the hard cap (and the shared buffer) is 4 KiB.
    const sidecar = await startTestSidecar({ policies: { 'support.yaml': SUPPORT }, config: { maxRequestBytes: 1024 } });
    await expect(sidecar.client.checkBytes(new Uint8Array(4097))).rejects.toMatchObject({ code: 8 });
    await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1' });
    const { text } = await sidecar.admin('/metrics');
    expect(text).toContain('# TYPE agentwarden_check_limit_refusals_total counter');
    expect(text).toMatch(/^agentwarden_check_limit_refusals_total\{limit="message-size"\} 1$/m);
    expect(text).toMatch(/^agentwarden_check_limit_refusals_total\{limit="buffer"\} 0$/m);
    expect(text).toMatch(/^agentwarden_check_grpc_errors_total\{code="RESOURCE_EXHAUSTED"\} 1$/m);
    expect(text).toMatch(/^agentwarden_check_calls_total 1$/m);
    expect(text).toMatch(/^agentwarden_check_buffered_bytes 0$/m);
    expect(text).toMatch(/^agentwarden_check_buffer_limit_bytes 4096$/m);
  });
});
