// Issue 17's Must-show, on the local control plane: the controller in-process
// against the real API server (CRDs, AgentBaselines, Events), sidecars in
// controller mode holding real bound tokens, decisions asked over real gRPC,
// spans exported to the local Jaeger. An agent learns for a few seconds; its
// usual calls stay allowed; a call its policy allows but it never made is
// alerted (Event, span, metric) in Alert mode and denied in Deny mode; a burst
// is flagged; five anomalies quarantine the pod and `agentwarden release`
// lifts it; the baseline survives a controller restart and is shared by two
// sidecars of one identity; `agentwarden baseline accept` adds an operation.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { RunningController } from '../../controller/src/main.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import { JAEGER_OTLP_HTTP, JAEGER_QUERY, KUBECONFIG, ROOT, kubectl, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { boundToken, controllerOn, createPod, freePort, sidecarFor, type ControlledSidecar } from './controller-env.js';

const ns = uniqueNamespace('baselines');
const SA = 'agent';
const LEARN_FOR_S = 4;
const CONTROLLER_FLAGS = ['--baseline-write-interval', '300ms'];
const SIDECAR_FLAGS = ['--anomaly-summary-interval', '200ms'];
const SPANS = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${JAEGER_OTLP_HTTP}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '100' };

function policy(novelOperation: string, anomaly = `learnFor: ${LEARN_FOR_S}s
    novelOperation: ${novelOperation}
    rateSpike: {factor: 3, over: 1s, action: Alert}
    quarantineAfter: {anomalies: 5, within: 1m}`): string {
  return `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: agent, namespace: ${ns}}
spec:
  podSelector: {matchLabels: {app: agent}}
  anomaly:
    ${anomaly}
  rules:
    - {name: api, to: {hosts: [api.example.com]}, http: {methods: [GET]}}
    - {name: internal, to: {hosts: ["*.internal"]}}
`;
}

let port = 0;
let controller: RunningController | undefined;
const sidecars: ControlledSidecar[] = [];
const tokens = new Map<string, string>();

async function startSidecar(pod: string): Promise<ControlledSidecar> {
  const s = await sidecarFor(port, ns, pod, tokens.get(pod) ?? '', undefined, SIDECAR_FLAGS, SPANS);
  sidecars.push(s);
  await waitFor(`${pod}'s first snapshot`, () => s.running.state.snapshot);
  return s;
}

async function stopSidecar(s: ControlledSidecar): Promise<void> {
  sidecars.splice(sidecars.indexOf(s), 1);
  await s.stop();
}

/** Asks the sidecar in trace `traceId`: allow or deny, the rule. */
async function decide(s: ControlledSidecar, request: RequestShorthand, traceId = randomBytes(16).toString('hex')): Promise<{ readonly allowed: boolean; readonly rule: string }> {
  const res = await s.client.check(checkRequestFrom({ ...request, headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } }));
  if (res.httpResponse.case === 'okResponse') {
    const rule = res.httpResponse.value.responseHeadersToAdd.find((h) => h.header?.key === 'x-agentwarden-rule')?.header?.value ?? '';
    return { allowed: true, rule: rule.split('/')[1] ?? '' };
  }
  const body = res.httpResponse.case === 'deniedResponse' ? (JSON.parse(res.httpResponse.value.body) as { rule?: string }) : {};
  return { allowed: false, rule: body.rule ?? '' };
}

const GET = (url: string): RequestShorthand => ({ url, method: 'GET' });

async function metric(s: ControlledSidecar, series: string): Promise<number> {
  const text = await (await fetch(`http://${s.running.admin.address}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

interface Baseline { readonly spec: { readonly accepted?: string[] }; readonly status?: { readonly operationCount?: number; readonly learningUntil?: string; readonly anomalies?: number; readonly quarantinedCount?: number; readonly operations?: { operation: string }[] } }

async function baseline(): Promise<Baseline | undefined> {
  const r = await kubectl(['get', 'agentbaseline', SA, '-n', ns, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Baseline) : undefined;
}

async function events(pod: string, reason: string): Promise<string[]> {
  const out = await kubectlOk(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${pod},reason=${reason}`, '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}']);
  return out.split('\n').filter((l) => l !== '');
}

function cli(args: readonly string[]): Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(ROOT, 'bin/agentwarden'), [...args, '--kubeconfig', KUBECONFIG], (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

/** The anomaly span attribute of the decision of trace `traceId`, once Jaeger has the span. */
async function anomalyTag(traceId: string): Promise<unknown> {
  return waitFor(`trace ${traceId} in Jaeger`, async () => {
    const res = await fetch(`${JAEGER_QUERY}/api/traces/${traceId}`);
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { data?: { spans?: { operationName: string; tags: { key: string; value: unknown }[] }[] }[] };
    const span = body.data?.[0]?.spans?.find((s) => s.operationName === 'agentwarden.decision');
    return span === undefined ? undefined : (span.tags.find((t) => t.key === 'agentwarden.anomaly')?.value ?? null);
  }, 60_000, 200);
}

/**
 * Applies the policy, and the CRD first: the control plane is shared, and a
 * suite applying an AgentPolicy CRD without spec.anomaly in between makes the
 * API server refuse (or prune) the field; then both are applied again.
 */
async function applyPolicy(novelOperation: 'Alert' | 'Deny'): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentpolicy.yaml')]);
    const r = await kubectl(['apply', '-f', '-'], policy(novelOperation));
    const got = r.code === 0 ? await kubectlOk(['get', 'agentpolicy', 'agent', '-n', ns, '-o', 'jsonpath={.spec.anomaly.novelOperation}']) : '';
    if (got === novelOperation) return;
    if (attempt >= 30) throw new Error(`the AgentPolicy with spec.anomaly was not stored: ${r.stderr.slice(-300)}`);
  }
}

/**
 * Waits until the sidecar enforces spec.anomaly (and `also` holds). The control plane
 * is shared: another suite may apply an AgentPolicy CRD without spec.anomaly, and the
 * API server then prunes it from what the controller reads; the CRD is applied again
 * and the policy touched, so that the controller reads it whole.
 */
async function anomalyInForce(s: ControlledSidecar, also: () => boolean = () => true): Promise<void> {
  await waitFor('spec.anomaly in force in the sidecar', async () => {
    if (s.running.state.snapshot?.anomaly !== undefined && also()) return true;
    await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentpolicy.yaml')]);
    await kubectl(['annotate', 'agentpolicy', 'agent', '-n', ns, `e2e-touch=${Date.now()}`, '--overwrite']);
    return undefined;
  }, 60_000, 250);
}

/** What the API server says to `manifest` (server-side dry run), once the CRD in force has spec.anomaly. */
async function refusal(manifest: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentpolicy.yaml')]);
    const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], manifest);
    if (!r.stderr.includes('unknown field "spec.anomaly') || attempt >= 10) return `${r.code}: ${r.stderr}`;
  }
}

beforeAll(async () => {
  for (const crd of ['agentpolicy.yaml', 'clusteragentpolicy.yaml', 'agentaccessrequest.yaml', 'agentbaseline.yaml']) await kubectlOk(['apply', '-f', join(ROOT, 'crds', crd)]);
  await kubectlOk(['wait', '--for=condition=Established', 'crd/agentbaselines.agentwarden.io', '--timeout=60s']);
  await kubectlOk(['create', 'namespace', ns]);
  await kubectlOk(['create', 'serviceaccount', SA, '-n', ns]);
  for (const pod of ['agent-0', 'agent-1']) {
    const uid = await createPod(ns, pod, SA, { app: 'agent' });
    tokens.set(pod, await boundToken(ns, SA, pod, uid));
  }
  await applyPolicy('Alert');
  port = await freePort();
  controller = await controllerOn(port, ns, 'controller-0', false, false, CONTROLLER_FLAGS);
}, 120_000);

afterAll(async () => {
  for (const s of [...sidecars]) await s.stop();
  await controller?.stop();
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('behaviour baselines against the API server', () => {
  it('learns, alerts, denies, flags a spike, quarantines and releases; the baseline survives a controller restart and is shared by two sidecars', async () => {
    const a = await startSidecar('agent-0');

    // Learning: the agent's usual calls.
    for (const id of [1, 2, 3]) expect(await decide(a, GET(`https://api.example.com/v1/items/${id}`))).toEqual({ allowed: true, rule: 'api' });
    expect(await decide(a, GET('https://crm.internal/customers/17'))).toEqual({ allowed: true, rule: 'internal' });

    // The leader writes the AgentBaseline; kubectl shows its printer columns.
    const written = await waitFor('the AgentBaseline with both operations', async () => {
      const b = await baseline();
      return (b?.status?.operationCount ?? 0) >= 2 ? b : undefined;
    });
    expect(written.status?.operations?.map((o) => o.operation).sort()).toEqual(['GET api.example.com/v1/items/{id}', 'GET crm.internal/customers/{id}']);
    const table = await kubectlOk(['get', 'agentbaselines', '-n', ns]);
    expect(table.split('\n')[0]?.split(/\s+/)).toEqual(['NAME', 'AGENT', 'OPERATIONS', 'LEARNING-UNTIL', 'ANOMALIES', 'QUARANTINED']);
    // The baseline comes back to the sidecar in its snapshot.
    await waitFor('the baseline in the snapshot of agent-0', () => (a.running.state.snapshot?.anomaly?.baseline?.operations.size === 2 ? true : undefined));
    const until = Date.parse(written.status?.learningUntil ?? '');
    await waitFor('the end of learning', () => (Date.now() > until ? true : undefined), (LEARN_FOR_S + 10) * 1000, 100);

    await anomalyInForce(a);
    // After learning: usual calls stay allowed and quiet.
    expect(await decide(a, GET('https://api.example.com/v1/items/99'))).toEqual({ allowed: true, rule: 'api' });
    expect(await metric(a, 'agentwarden_anomalies_total{kind="novel-operation",action="Alert"}')).toBe(0);

    // Alert: a host the policy allows but the agent never used is allowed and recorded: span, metric, Event.
    await anomalyInForce(a);
    const novelTrace = randomBytes(16).toString('hex');
    expect(await decide(a, GET('https://billing.internal/v1/invoices'), novelTrace)).toEqual({ allowed: true, rule: 'internal' });
    expect(await anomalyTag(novelTrace)).toBe('novel-operation');
    expect(await metric(a, 'agentwarden_anomalies_total{kind="novel-operation",action="Alert"}')).toBe(1);
    const alerted = await waitFor('an AnomalyDetected Event on agent-0', async () => {
      const e = await events('agent-0', 'AnomalyDetected');
      return e.length > 0 ? e : undefined;
    });
    expect(alerted[0]).toContain(`novel-operation GET billing.internal/v1/invoices (Alert); decision ${novelTrace}`);

    // A second sidecar of the same identity, started after learning, judges with the shared baseline.
    const b = await startSidecar('agent-1');
    await waitFor('the baseline in the snapshot of agent-1', () => (b.running.state.snapshot?.anomaly?.baseline?.operations.has('GET crm.internal/customers/{id}') === true ? true : undefined));
    expect(await decide(b, GET('https://crm.internal/customers/5'))).toEqual({ allowed: true, rule: 'internal' });
    expect(await metric(b, 'agentwarden_anomalies_total{kind="novel-operation",action="Alert"}')).toBe(0);

    // Deny: the same kind of call is now denied with rule anomaly-novel-operation.
    await applyPolicy('Deny');
    await anomalyInForce(a, () => a.running.state.snapshot?.anomaly?.novel === 'Deny');
    expect(await decide(a, GET('https://payroll.internal/v1/run'))).toEqual({ allowed: false, rule: 'anomaly-novel-operation' });
    expect(await decide(a, GET('https://api.example.com/v1/items/7'))).toEqual({ allowed: true, rule: 'api' });

    // A burst over 3 times the learned rate per second is flagged (Alert: still allowed).
    const burst = [];
    for (let i = 0; i < 40; i++) burst.push(await decide(a, GET(`https://api.example.com/v1/items/${1000 + i}`)));
    expect(burst.every((d) => d.allowed)).toBe(true);
    expect(await metric(a, 'agentwarden_anomalies_total{kind="rate-spike",action="Alert"}')).toBe(1);

    // Five anomalies within a minute (alert, deny, spike and two more): the pod is quarantined.
    expect(await decide(a, GET('https://n1.internal/x'))).toEqual({ allowed: false, rule: 'anomaly-novel-operation' });
    expect(await decide(a, GET('https://n2.internal/x'))).toEqual({ allowed: false, rule: 'anomaly-novel-operation' });
    expect(await decide(a, GET('https://api.example.com/v1/items/1'))).toEqual({ allowed: false, rule: 'quarantined' });
    // The other replica is not quarantined.
    expect(await decide(b, GET('https://api.example.com/v1/items/1'))).toEqual({ allowed: true, rule: 'api' });
    await waitFor('QUARANTINED 1 in the AgentBaseline', async () => ((await baseline())?.status?.quarantinedCount === 1 ? true : undefined));
    expect((await events('agent-0', 'Quarantined'))[0]).toContain(`agentwarden release ${ns}/agent-0`);

    // The controller restarts: a restarted sidecar of each pod gets the baseline and the quarantine back.
    await controller?.stop();
    controller = await controllerOn(port, ns, 'controller-1', false, false, CONTROLLER_FLAGS);
    await stopSidecar(a);
    await stopSidecar(b);
    const a2 = await startSidecar('agent-0');
    const b2 = await startSidecar('agent-1');
    await anomalyInForce(b2, () => b2.running.state.snapshot?.anomaly?.baseline?.operations.has('GET crm.internal/customers/{id}') === true);
    expect(await decide(b2, GET('https://crm.internal/customers/8'))).toEqual({ allowed: true, rule: 'internal' });
    expect(await decide(b2, GET('https://other.internal/y'))).toEqual({ allowed: false, rule: 'anomaly-novel-operation' });
    await anomalyInForce(a2, () => a2.running.state.snapshot?.anomaly?.quarantine?.quarantined === true);
    expect(await decide(a2, GET('https://api.example.com/v1/items/2'))).toEqual({ allowed: false, rule: 'quarantined' });

    // agentwarden release lifts it.
    const released = await cli(['release', `${ns}/agent-0`]);
    expect(released.stderr).toBe('');
    expect(released.code).toBe(0);
    await waitFor('agent-0 released', async () => ((await decide(a2, GET('https://api.example.com/v1/items/3'))).allowed ? true : undefined));
    await waitFor('QUARANTINED 0 in the AgentBaseline', async () => ((await baseline())?.status?.quarantinedCount === 0 ? true : undefined));

    // agentwarden baseline accept: an operator adds an operation; it is no longer novel.
    expect(await decide(b2, GET('https://reports.internal/weekly'))).toEqual({ allowed: false, rule: 'anomaly-novel-operation' });
    const accepted = await cli(['baseline', 'accept', `${ns}/${SA}`, '--operation', 'GET reports.internal/weekly']);
    expect([accepted.code, accepted.stderr]).toEqual([0, '']);
    await waitFor('the accepted operation in the snapshot of agent-1', () => (b2.running.state.snapshot?.anomaly?.baseline?.operations.has('GET reports.internal/weekly') === true ? true : undefined));
    expect(await decide(b2, GET('https://reports.internal/weekly'))).toEqual({ allowed: true, rule: 'internal' });
  }, 180_000);

  it('refuses bad spec.anomaly values at the API server, with the CRD\'s messages', async () => {
    expect(await refusal(policy('Alert', 'learnFor: 0s'))).toContain('learnFor must be a positive duration such as 24h');
    expect(await refusal(policy('Alert', 'rateSpike: {factor: 3, over: 500ms}'))).toContain('over must be a duration of at least 1s such as 1m');
    expect(await refusal(policy('Alert', 'rateSpike: {factor: 1}'))).toContain('spec.anomaly.rateSpike.factor: Invalid value: 1');
    expect(await refusal(policy('Sometimes'))).toContain('spec.anomaly.novelOperation: Unsupported value: "Sometimes"');
    expect(await refusal(policy('Alert', 'quarantineAfter: {within: 10m}'))).toContain('spec.anomaly.quarantineAfter.anomalies: Required value');
    expect(await refusal(policy('Alert', 'rateSpike: {factor: 3, action: RequireApproval}'))).toContain('spec.anomaly.rateSpike.action: Unsupported value: "RequireApproval"');
  });
});
