// Session-aware rules in the sidecar (issue 16): one session store for the
// sidecar's lifetime, bounded by --max-sessions and --max-taints-per-session,
// counted in /metrics; a read that a rule taints changes what the same session
// may send next, and the decision it changed links to the read in the trace.
// A real sidecar (standalone mode, policy files) over real gRPC, exporting to
// a real OTLP receiver.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ConfigError, readSidecarConfig, SIDECAR_HELP } from '../src/config.js';
import { agentPolicy, eventually, outcome, POD_NAME, startTestSidecar, stopSidecars, type TestSidecar } from './helpers.js';
import { startOtlpReceiver, stringArrayAttribute, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const STANDALONE = ['--policy', 'p.yaml', '--pod', 'pod.yaml'];

/** The lethal trifecta, cut short: after a read of customer data, nothing is POSTed anywhere. */
function trifecta(session = ''): string {
  return agentPolicy('trifecta', `
    podSelector: {matchLabels: {app: support-agent}}
    ${session}
    rules:
      - name: read-customer
        to: {hosts: [crm.internal]}
        http: {methods: [GET]}
        taints: [pii]
      - name: post-webhook
        to: {hosts: [hooks.slack.com]}
        http: {methods: [POST]}
      - name: no-exfil-after-pii
        action: Deny
        to: {hosts: ["*"]}
        http: {methods: [POST]}
        when: "'pii' in session.taints"
  `);
}

const READ = { url: 'https://crm.internal/customers/17', method: 'GET' };
const EXFIL = { url: 'https://hooks.slack.com/services/T0/B0/x', method: 'POST', body: { text: 'customer 17' } };

function traceparent(traceId: string): string {
  return `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
}

/** One sample of a metric family without labels, from the exposition text. */
function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no sample of ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

describe('--max-sessions and --max-taints-per-session', () => {
  it('default to 10000 sessions and 32 taints per session', () => {
    expect(readSidecarConfig(STANDALONE, {})).toMatchObject({ maxSessions: 10_000, maxTaintsPerSession: 32 });
    expect(readSidecarConfig([...STANDALONE, '--max-sessions', '50', '--max-taints-per-session', '4'], {})).toMatchObject({ maxSessions: 50, maxTaintsPerSession: 4 });
  });

  it('refuse a bound that is not a positive integer, naming the flag', () => {
    expect(() => readSidecarConfig([...STANDALONE, '--max-sessions', '0'], {})).toThrow(new ConfigError('--max-sessions: "0" is not a positive integer'));
    expect(() => readSidecarConfig([...STANDALONE, '--max-taints-per-session', 'many'], {})).toThrow(new ConfigError('--max-taints-per-session: "many" is not a positive integer'));
  });

  it('are listed by --help with their defaults', () => {
    expect(SIDECAR_HELP).toMatch(/--max-sessions <n>.*\(default: 10000\)/);
    expect(SIDECAR_HELP).toMatch(/--max-taints-per-session <n>.*\(default: 32\)/);
  });
});

describe('sessions in the sidecar', () => {
  const receivers: OtlpReceiver[] = [];
  afterEach(async () => {
    await stopSidecars();
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
  });

  async function exporting(policy: string, config: { maxSessions?: number; maxTaintsPerSession?: number } = {}): Promise<{ sidecar: TestSidecar; receiver: OtlpReceiver }> {
    const receiver = await startOtlpReceiver({ protocol: 'http/protobuf' });
    receivers.push(receiver);
    const sidecar = await startTestSidecar({
      policies: { 'trifecta.yaml': policy },
      env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
      exporterEnv: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url },
      config,
    });
    return { sidecar, receiver };
  }

  function spanIn(receiver: OtlpReceiver, traceId: string): ReceivedSpan {
    const spans = receiver.spans().filter((s) => s.span.traceId === traceId);
    expect(spans).toHaveLength(1);
    return spans[0]!;
  }

  it('allows the POST before a PII read and denies the same POST after it, the deny linked to the read\'s span', async () => {
    const { sidecar, receiver } = await exporting(trifecta());
    const before = randomBytes(16).toString('hex');
    const read = randomBytes(16).toString('hex');
    const after = randomBytes(16).toString('hex');

    expect(outcome(await sidecar.checkShort({ ...EXFIL, headers: { traceparent: traceparent(before) } }))).toEqual({ decision: 'allow', rule: '' });
    expect(outcome(await sidecar.checkShort({ ...READ, headers: { traceparent: traceparent(read) } }))).toEqual({ decision: 'allow', rule: '' });
    expect(outcome(await sidecar.checkShort({ ...EXFIL, headers: { traceparent: traceparent(after) } }))).toEqual({ decision: 'deny', rule: 'no-exfil-after-pii' });
    await sidecar.running.tracer.forceFlush();

    const allowed = spanIn(receiver, before);
    expect(allowed.attributes).toMatchObject({ 'agentwarden.rule': 'post-webhook', 'agentwarden.session.id': POD_NAME });
    expect(allowed.span.links ?? []).toEqual([]);
    const readSpan = spanIn(receiver, read);
    expect(readSpan.attributes).toMatchObject({ 'agentwarden.rule': 'read-customer', 'agentwarden.session.id': POD_NAME });
    expect(stringArrayAttribute(readSpan, 'agentwarden.session.taints.added')).toEqual(['pii']);
    const denied = spanIn(receiver, after);
    expect(denied.attributes).toMatchObject({ 'agentwarden.decision': 'deny', 'agentwarden.rule': 'no-exfil-after-pii', 'agentwarden.session.id': POD_NAME });
    expect(stringArrayAttribute(denied, 'agentwarden.session.taints')).toEqual(['pii']);
    expect(denied.span.links?.map((l) => ({ traceId: l.traceId, spanId: l.spanId }))).toEqual([{ traceId: read, spanId: readSpan.span.spanId }]);

    const metrics = (await sidecar.admin('/metrics')).text;
    expect([metric(metrics, 'agentwarden_sessions'), metric(metrics, 'agentwarden_session_taints'), metric(metrics, 'agentwarden_sessions_evicted_total')]).toEqual([1, 1, 0]);
  });

  it('keeps the session\'s taints across a policy reload', async () => {
    const { sidecar } = await exporting(trifecta());
    await sidecar.checkShort(READ);
    const version = sidecar.running.state.snapshot?.version;
    sidecar.writePolicy('trifecta.yaml', trifecta().replace('hooks.slack.com]', 'hooks.slack.com, discord.com]'), 'replace');
    await eventually('the reloaded snapshot', () => (sidecar.running.state.snapshot?.version !== version ? true : undefined));
    expect(outcome(await sidecar.checkShort(EXFIL))).toEqual({ decision: 'deny', rule: 'no-exfil-after-pii' });
  });

  it('drops the least recently used session beyond --max-sessions, and counts it: that session may POST again', async () => {
    const { sidecar } = await exporting(trifecta('session: {key: "header:x-session", ttl: 1h}'), { maxSessions: 2 });
    const as = (session: string, request: typeof READ | typeof EXFIL): Promise<ReturnType<typeof outcome>> =>
      sidecar.checkShort({ ...request, headers: { 'x-session': session } }).then(outcome);
    // s1 reads again after s2: s2 is the least recently used session.
    for (const session of ['s1', 's2', 's1']) expect(await as(session, READ)).toEqual({ decision: 'allow', rule: '' });
    // A third session: s2 is dropped with its taint; s1 keeps its own.
    await as('s3', READ);
    expect(await as('s2', EXFIL)).toEqual({ decision: 'allow', rule: '' });
    expect(await as('s1', EXFIL)).toEqual({ decision: 'deny', rule: 'no-exfil-after-pii' });
    const metrics = (await sidecar.admin('/metrics')).text;
    expect([metric(metrics, 'agentwarden_sessions'), metric(metrics, 'agentwarden_session_taints'), metric(metrics, 'agentwarden_sessions_evicted_total')]).toEqual([2, 2, 1]);
  });

  it('keeps at most --max-taints-per-session labels in a session, and counts the labels dropped', async () => {
    const policy = trifecta().replace('taints: [pii]', 'taints: [pii, customer-data, crm]');
    const { sidecar, receiver } = await exporting(policy, { maxTaintsPerSession: 2 });
    const read = randomBytes(16).toString('hex');
    await sidecar.checkShort({ ...READ, headers: { traceparent: traceparent(read) } });
    const metrics = (await sidecar.admin('/metrics')).text;
    expect([metric(metrics, 'agentwarden_session_taints'), metric(metrics, 'agentwarden_session_taints_dropped_total')]).toEqual([2, 1]);
    await sidecar.running.tracer.forceFlush();
    expect(stringArrayAttribute(spanIn(receiver, read), 'agentwarden.session.taints.added')).toHaveLength(2);
  });
});
