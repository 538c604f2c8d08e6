// The chart's dashboards and alerts against a real Prometheus (issue 19): Prometheus 3 built from
// its pinned Go module (e2e/tools/prometheus) scrapes a running controller (TLS distribution port,
// webhook server) and a sidecar in controller mode that exports its spans to the local Jaeger,
// with the target labels the chart's ServiceMonitor and PodMonitor give them (job, namespace, pod,
// container). Decisions go through the sidecar's gRPC Check. Then every panel query of the
// rendered dashboards returns series, every series selector of every alert expression does, the
// PrometheusRule's rules load and evaluate without error, and a denied rule's Jaeger link finds
// its spans. Then two alerts go pending for real: a policy that does not compile
// (AgentwardenPolicyCompileFailures) and a sidecar that stopped (AgentwardenSidecarDown).
// Netns: none (loopback only).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readControllerConfig } from '../../controller/src/config.js';
import { startController, type RunningController } from '../../controller/src/main.js';
import { readSidecarConfig } from '../../sidecar/src/config.js';
import { jsonLogger } from '../../sidecar/src/log.js';
import { startSidecar, type RunningSidecar } from '../../sidecar/src/main.js';
import { AuthzClient } from '../../sidecar/src/authz/client.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import { BIN, JAEGER_OTLP_HTTP, JAEGER_QUERY, KUBECONFIG, ROOT, kubectl, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { PKI, boundToken, createPod, freePort, logs, policyManifest } from './controller-env.js';
import { panelQueries, renderMonitoring, type PanelQuery, type RenderedMonitoring, type Rule } from './monitoring.js';

const ns = uniqueNamespace('prom');
const POD = 'agent-0';
const ALLOWED = 4;
const DENIED = 3;
let controller: RunningController | undefined;
let sidecar: RunningSidecar | undefined;
let client: AuthzClient | undefined;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let promUrl = '';
let rendered: RenderedMonitoring | undefined;

/** read-api: GET api.example.com/v1/tickets/{id}; no-exports denies everything to export.example.com. */
const policy = policyManifest(ns, 'support', ['/v1/tickets/{id}'], '    - {name: no-exports, action: Deny, to: {hosts: [export.example.com]}}\n');

interface PromResponse<T> { status: string; data: T; error?: string; errorType?: string }
interface VectorResult { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }

/** GET with the parameters in the query string (every endpoint used here takes GET). */
async function promGet<T>(path: string, params: Record<string, string> = {}): Promise<PromResponse<T>> {
  const res = await fetch(`${promUrl}${path}?${new URLSearchParams(params).toString()}`);
  if (!res.headers.get('content-type')?.includes('json')) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as PromResponse<T>;
}

async function query(expr: string): Promise<PromResponse<VectorResult>> {
  return promGet<VectorResult>('/api/v1/query', { query: expr });
}

/** The series selectors in `expr` (from Prometheus' own parser, /api/v1/parse_query), as instant selectors. */
async function selectors(expr: string): Promise<string[]> {
  const r = await promGet<unknown>('/api/v1/parse_query', { query: expr });
  if (r.status !== 'success') throw new Error(`parse_query ${expr}: ${r.error ?? r.status}`);
  const found: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) { n.forEach(walk); return; }
    if (typeof n !== 'object' || n === null) return;
    const o = n as Record<string, unknown>;
    if ((o['type'] === 'vectorSelector' || o['type'] === 'matrixSelector') && Array.isArray(o['matchers'])) {
      const m = (o['matchers'] as { name: string; type: string; value: string }[]).map((x) => `${x.name}${x.type}${JSON.stringify(x.value)}`);
      found.push(`{${m.join(', ')}}`);
    }
    Object.values(o).forEach(walk);
  };
  walk(r.data);
  return [...new Set(found)];
}

/** POSTs an AdmissionReview of a pod to the controller's webhook server, as the API server would; the HTTP status. */
function admissionReview(address: string): Promise<number> {
  const review = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid: '00000000-0000-0000-0000-000000000019', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: ns, operation: 'CREATE', userInfo: { username: 'e2e' },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'reviewed', namespace: ns }, spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] } },
    },
  });
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host, port, path: '/mutate-pods', method: 'POST', ca: readFileSync(join(PKI, 'ca.crt')), servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => { resolve(res.statusCode ?? 0); });
    });
    req.on('error', reject);
    req.end(review);
  });
}

async function decide(request: RequestShorthand): Promise<boolean> {
  const res = await (client as AuthzClient).check(checkRequestFrom(request));
  return res.httpResponse.case === 'okResponse';
}

beforeAll(async () => {
  rendered = await renderMonitoring();
  for (const crd of ['agentpolicy.yaml', 'clusteragentpolicy.yaml', 'agentaccessrequest.yaml']) await kubectlOk(['apply', '-f', join(ROOT, 'crds', crd)]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io', 'crd/clusteragentpolicies.agentwarden.io', 'crd/agentaccessrequests.agentwarden.io']);
  await kubectlOk(['create', 'namespace', ns]);
  await kubectlOk(['create', 'serviceaccount', 'agent', '-n', ns]);
  await kubectlOk(['apply', '-f', '-'], policy);
  const uid = await createPod(ns, POD, 'agent', { app: 'agent' });

  const distributionPort = await freePort();
  const webhookPort = await freePort();
  controller = await startController(readControllerConfig([
    '--kubeconfig', KUBECONFIG, '--distribution-listen', `127.0.0.1:${distributionPort}`, '--tls-cert', join(PKI, 'webhook.crt'), '--tls-key', join(PKI, 'webhook.key'),
    '--webhook-listen', `127.0.0.1:${webhookPort}`, '--webhook-cert', join(PKI, 'webhook.crt'), '--webhook-key', join(PKI, 'webhook.key'),
    '--metrics-listen', '127.0.0.1:0', '--namespace', ns, '--identity', 'prom-0', '--leader-elect', 'false',
  ], {}), (level, msg, fields) => { logs.push(JSON.stringify({ level, msg, ...fields })); });

  expect(await admissionReview(controller.webhookAddress ?? '')).toBe(200);
  const token = await boundToken(ns, 'agent', POD, uid);
  sidecar = await startSidecar(readSidecarConfig(['--controller', `127.0.0.1:${distributionPort}`, '--controller-ca', join(PKI, 'ca.crt'), '--token-file', token, '--pod-name', POD, '--namespace', ns,
    '--listen', '127.0.0.1:0', '--allow-tcp-credentials', '--admin-listen', '127.0.0.1:0'], {
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${JAEGER_OTLP_HTTP}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '100',
  }), jsonLogger('error', (l) => { logs.push(l); }));
  client = new AuthzClient(sidecar.authz.address);
  await waitFor('the sidecar to enforce the policy', async () => ((await decide({ method: 'GET', url: 'https://api.example.com/v1/tickets/0' })) ? true : undefined), 120_000, 100);

  // Prometheus: the targets as the chart's ServiceMonitor and PodMonitor label them, and the chart's alerts.
  const dir = mkdtempSync(join(tmpdir(), 'aw-prometheus-'));
  writeFileSync(join(dir, 'rules.yaml'), JSON.stringify({ groups: rendered.groups }, null, 2));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [join(dir, 'rules.yaml')],
    scrape_configs: [
      // honor_labels as the ServiceMonitor has it: agentwarden_pod_sync's namespace and pod are the agent pod's, not the controller's.
      { job_name: 'agentwarden-controller', honor_labels: true, static_configs: [{ targets: [controller.metricsAddress], labels: { namespace: ns, pod: 'agentwarden-controller-0', container: 'controller' } }] },
      { job_name: 'agentwarden-sidecar', static_configs: [{ targets: [sidecar.admin.address], labels: { namespace: ns, pod: POD, container: 'agentwarden-sidecar' } }] },
    ],
  }));
  prometheus = spawn(join(BIN, 'prometheus'), [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const append = (b: Buffer): void => { prometheusLog = (prometheusLog + b.toString()).slice(-20_000); };
  prometheus.stdout?.on('data', append);
  prometheus.stderr?.on('data', append);
  await waitFor('Prometheus ready', async () => {
    if (prometheus?.exitCode !== null) throw new Error(`prometheus exited: ${prometheusLog}`);
    return (await fetch(`${promUrl}/-/ready`)).ok ? true : undefined;
  }, 60_000, 100);
  await waitFor('both targets up', async () => {
    const r = await query('up == 1');
    return r.data.result.length === 2 ? true : undefined;
  }, 60_000, 200);

  // A first deny creates the deny series; the rest come after it was scraped, so that rates and increases see them.
  const deny = (i: number): Promise<boolean> => decide({ method: 'POST', url: 'https://export.example.com/dump', body: { n: i } });
  expect(await deny(0)).toBe(false);
  await waitFor('the first deny scraped', async () => ((await query(`agentwarden_decisions_total{job="agentwarden-sidecar", decision="deny", rule="no-exports"}`)).data.result.length === 1 ? true : undefined), 60_000, 200);
  for (let i = 0; i < ALLOWED; i++) expect(await decide({ method: 'GET', url: `https://api.example.com/v1/tickets/${i}` })).toBe(true);
  for (let i = 1; i < DENIED; i++) expect(await deny(i)).toBe(false);
  await waitFor('the denies scraped', async () => {
    const r = await query(`agentwarden_decisions_total{job="agentwarden-sidecar", decision="deny", rule="no-exports"}`);
    return r.data.result[0]?.value[1] === String(DENIED) ? true : undefined;
  }, 60_000, 200);
  // Rate windows of 1m need two samples after the traffic; the rules a few evaluations.
  await waitFor('two scrapes after the traffic', async () => {
    const r = await query(`increase(agentwarden_decisions_total{job="agentwarden-sidecar", decision="deny", rule="no-exports"}[1m]) > 0`);
    return r.data.result.length === 1 ? true : undefined;
  }, 60_000, 200);
}, 300_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  client?.close();
  await sidecar?.stop();
  await controller?.stop();
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('a real Prometheus scraping the controller and a sidecar', () => {
  it('has the decisions, their namespace and the pod\'s sync state as the dashboards read them', async () => {
    const byRule = await query(`sum by (namespace, policy, rule, decision) (agentwarden_decisions_total{job="agentwarden-sidecar"})`);
    const rows = byRule.data.result.map((s): Record<string, string | number> => ({ ...s.metric, value: Number(s.value[1]) }));
    expect(rows).toEqual(expect.arrayContaining([
      { namespace: ns, policy: 'support', rule: 'read-api', decision: 'allow', value: expect.any(Number) as unknown },
      { namespace: ns, policy: 'support', rule: 'no-exports', decision: 'deny', value: DENIED },
    ]));
    expect(rows.find((r) => r['rule'] === 'read-api')?.['value']).toBeGreaterThanOrEqual(ALLOWED + 1);
    const synced = await query(`agentwarden_pod_sync{job="agentwarden-controller", pod="${POD}", state="synced"}`);
    expect(synced.data.result.map((s) => [s.metric['namespace'], s.value[1]])).toEqual([[ns, '1']]);
    const certs = await query('agentwarden_certificate_expiry_timestamp_seconds - time() > 0');
    expect(certs.data.result.map((s) => s.metric['certificate']).sort()).toEqual(['distribution', 'webhook']);
    const expected = Math.floor(Date.parse(new (await import('node:crypto')).X509Certificate(readFileSync(join(PKI, 'webhook.crt'))).validTo) / 1000);
    expect((await query('agentwarden_certificate_expiry_timestamp_seconds{certificate="webhook"}')).data.result[0]?.value[1]).toBe(String(expected));
  });

  it('returns series for every panel query of every dashboard', async () => {
    const queries: PanelQuery[] = [...(rendered as RenderedMonitoring).dashboards].flatMap(([file, d]) => panelQueries(file, d));
    expect(queries.length).toBeGreaterThanOrEqual(30);
    const empty: string[] = [];
    for (const q of queries) {
      const r = await query(q.expr);
      if (r.status !== 'success') empty.push(`${q.dashboard} "${q.panel}" ${q.refId}: ${r.error ?? r.status}: ${q.expr}`);
      else if (r.data.result.length === 0) empty.push(`${q.dashboard} "${q.panel}" ${q.refId}: no series: ${q.expr}`);
    }
    expect(empty).toEqual([]);
  });

  it('returns series for every selector of every alert expression, and evaluates each expression without error', async () => {
    const alerts = (rendered as RenderedMonitoring).groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => r.alert !== undefined);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    const problems: string[] = [];
    let checked = 0;
    for (const a of alerts) {
      const whole = await query(a.expr);
      if (whole.status !== 'success') problems.push(`${a.alert}: ${whole.error ?? whole.status}`);
      for (const s of await selectors(a.expr)) {
        checked++;
        const r = await query(s);
        if (r.data.result.length === 0) problems.push(`${a.alert}: no series for ${s}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(alerts.length);
  });

  it('finds no series for a selector naming a metric that does not exist (the checks above can fail)', async () => {
    expect(await selectors('rate(agentwarden_no_such_metric_total{job="agentwarden-sidecar"}[5m]) > 0')).toEqual(['{job="agentwarden-sidecar", __name__="agentwarden_no_such_metric_total"}']);
    expect((await query('{job="agentwarden-sidecar", __name__="agentwarden_no_such_metric_total"}')).data.result).toEqual([]);
  });

  it('loads the chart\'s PrometheusRule and evaluates every rule healthily, with none of the alerts firing on a healthy setup', async () => {
    interface RulesData { groups: { name: string; rules: { name: string; health: string; lastError?: string; state?: string; type: string }[] }[] }
    const names = (rendered as RenderedMonitoring).groups.flatMap((g) => g.rules.map((r) => r.alert ?? r.record ?? ''));
    const rules = await waitFor('every rule evaluated', async () => {
      const r = await promGet<RulesData>('/api/v1/rules');
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length === names.length && all.every((x) => x.health !== 'unknown') ? all : undefined;
    }, 60_000, 200);
    expect(rules.map((r) => r.name).sort()).toEqual([...names].sort());
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
    expect(rules.filter((r) => r.state === 'firing' || r.state === 'pending').map((r) => r.name)).toEqual([]);
  });

  it('follows the Top denied rules link to the denied rule\'s spans in Jaeger (the tags the link searches by)', async () => {
    const top = await query(`topk(10, sum by (namespace, policy, rule) (increase(agentwarden_decisions_total{job="agentwarden-sidecar", namespace=~".*", decision="deny"}[10m])))`);
    const row = top.data.result.find((s) => s.metric['namespace'] === ns);
    expect(row?.metric).toEqual({ namespace: ns, policy: 'support', rule: 'no-exports' });
    const tags = JSON.stringify({ 'agentwarden.policy': row?.metric['policy'], 'agentwarden.rule': row?.metric['rule'], 'agentwarden.decision': 'deny', 'k8s.namespace.name': ns });
    interface JaegerTraces { data: { spans: { tags: { key: string; value: unknown }[] }[] }[] }
    const traces = await waitFor('the deny spans in Jaeger', async () => {
      const res = await fetch(`${JAEGER_QUERY}/api/traces?service=agentwarden-sidecar&limit=20&lookback=1h&tags=${encodeURIComponent(tags)}`);
      const body = (await res.json()) as JaegerTraces;
      return body.data.length >= DENIED ? body.data : undefined;
    }, 60_000, 250);
    expect(traces).toHaveLength(DENIED);
  });

  interface AlertsData { alerts: { labels: Record<string, string>; state: string }[] }
  const alertState = async (name: string): Promise<{ labels: Record<string, string>; state: string }[]> =>
    (await promGet<AlertsData>('/api/v1/alerts')).data.alerts.filter((a) => a.labels['alertname'] === name && a.labels['namespace'] === ns);

  it('sees a policy that does not compile: the pod goes stale, compile failures count, AgentwardenPolicyCompileFailures goes pending; the sidecar keeps its rules', async () => {
    // CEL that does not parse: the CRD takes it (it checks no CEL), the controller's compiler does not.
    await kubectlOk(['apply', '-f', '-'], `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: broken, namespace: ${ns}}
spec:
  podSelector: {matchLabels: {app: agent}}
  rules:
    - {name: broken-when, to: {hosts: [api.example.com]}, when: "request.method =="}
`);
    await waitFor('the pod stale in Prometheus', async () => ((await query(`agentwarden_pod_sync{job="agentwarden-controller", namespace="${ns}", pod="${POD}", state="stale"} == 1`)).data.result.length === 1 ? true : undefined), 60_000, 200);
    expect(Number((await query('agentwarden_snapshot_compile_failures_total{job="agentwarden-controller"}')).data.result[0]?.value[1])).toBeGreaterThan(0);
    const pending = await waitFor('the alert pending', async () => {
      const a = await alertState('AgentwardenPolicyCompileFailures');
      return a.length > 0 ? a : undefined;
    }, 30_000, 200);
    expect(pending.map((a) => [a.labels['pod'], a.labels['severity'], a.state])).toEqual([[POD, 'warning', 'pending']]);
    expect(await decide({ method: 'GET', url: 'https://api.example.com/v1/tickets/7' })).toBe(true);

    await kubectlOk(['delete', 'agentpolicy', '-n', ns, 'broken']);
    await waitFor('the pod synced again', async () => ((await query(`agentwarden_pod_sync{job="agentwarden-controller", namespace="${ns}", pod="${POD}", state="synced"} == 1`)).data.result.length === 1 ? true : undefined), 60_000, 200);
    await waitFor('the alert gone', async () => ((await alertState('AgentwardenPolicyCompileFailures')).length === 0 ? true : undefined), 30_000, 200);
  });

  it('sees a sidecar that stopped: its target down, AgentwardenSidecarDown pending, and its pod gone from the controller\'s sync state', async () => {
    client?.close();
    client = undefined;
    await sidecar?.stop();
    sidecar = undefined;
    const pending = await waitFor('AgentwardenSidecarDown pending', async () => {
      const a = await alertState('AgentwardenSidecarDown');
      return a.length > 0 ? a : undefined;
    }, 30_000, 200);
    expect(pending.map((a) => [a.labels['pod'], a.labels['severity'], a.state])).toEqual([[POD, 'critical', 'pending']]);
    await waitFor('the pod gone from agentwarden_pod_sync', async () => ((await query(`agentwarden_pod_sync{job="agentwarden-controller", namespace="${ns}", pod="${POD}"}`)).data.result.length === 0 ? true : undefined), 30_000, 200);
  });
});
