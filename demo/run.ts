// make demo: the whole loop on one machine. On the local control plane
// (`make cluster-up`): installs the CRD and the support-agent example, runs
// the controller and the agent pod's sidecar (which gets its rules from the
// controller over the authenticated stream), drives the agent's REST and MCP
// calls through the sidecar as Envoy would (ext_authz Check over gRPC, with
// traceparent), prints what was allowed and denied by which rule, and confirms
// through Jaeger's API that the decision spans arrived.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readYamlDocuments } from '../policy/io/manifests.js';
import { isPlain } from '../policy/src/fields.js';
import { checkRequestFrom } from '../cli/src/request-shorthand.js';
import { AuthzClient } from '../sidecar/src/authz/client.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const example = join(root, 'examples/support-agent');

interface Row { readonly call: string; readonly decision: string; readonly rule: string; readonly audit: string; readonly traceId: string }

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const BIN = join(root, '.cache/bin');
const KUBECONFIG = join(root, '.cache/e2e/kubeconfig');
const NAMESPACE = 'support';
const POD = 'support-agent-7d9f8';

function kubectl(args: readonly string[], stdin?: string): string {
  const r = spawnSync(join(BIN, 'kubectl'), ['--kubeconfig', KUBECONFIG, ...args], { input: stdin, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function start(name: string, args: readonly string[], env: Record<string, string>, children: ChildProcess[]): ChildProcess {
  const child = spawn(join(root, 'bin/agentwarden'), args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => { log = (log + b.toString()).slice(-20_000); });
  child.on('exit', (code) => { if (code !== 0 && code !== null) process.stderr.write(`--- ${name} exited ${code} ---\n${log}`); });
  children.push(child);
  return child;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      otlp: { type: 'string', default: 'http://127.0.0.1:4318' },
      jaeger: { type: 'string', default: 'http://127.0.0.1:16686' },
      listen: { type: 'string', default: '127.0.0.1:15011' },
      admin: { type: 'string', default: '127.0.0.1:15021' },
      distribution: { type: 'string', default: '127.0.0.1:15012' },
    },
  });
  const work = join(root, '.cache/demo');
  mkdirSync(work, { recursive: true });
  const children: ChildProcess[] = [];
  const stop = (): void => { for (const c of children) c.kill('SIGTERM'); };
  process.once('SIGINT', () => { stop(); process.exit(130); });
  try {
    step('Installing the AgentPolicy CRD and the support-agent example into the local cluster');
    kubectl(['apply', '-f', join(root, 'crds/agentpolicy.yaml')]);
    kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io']);
    kubectl(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NAMESPACE}, labels: {agentwarden.io/inject: enabled}}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: support-agent, namespace: ${NAMESPACE}}\n`);
    const token = `demo-${randomBytes(8).toString('hex')}`;
    kubectl(['apply', '-f', '-'], kubectl(['create', 'secret', 'generic', 'zendesk-api', '-n', NAMESPACE, `--from-literal=token=${token}`, '--dry-run=client', '-o', 'yaml']));
    kubectl(['apply', '-f', join(example, 'policies')]);
    kubectl(['apply', '-f', join(example, 'pod.yaml')]);
    const uid = kubectl(['get', 'pod', '-n', NAMESPACE, POD, '-o', 'jsonpath={.metadata.uid}']).trim();

    step('Starting the controller and the sidecar of the agent pod (as the injector would run it)');
    start('controller', ['controller', '--kubeconfig', KUBECONFIG, '--distribution-listen', values.distribution, '--metrics-listen', '127.0.0.1:0', '--namespace', NAMESPACE], {}, children);
    const tokenFile = join(work, 'token');
    writeFileSync(tokenFile, kubectl(['create', 'token', 'support-agent', '-n', NAMESPACE, '--audience', 'agentwarden', '--bound-object-kind', 'Pod', '--bound-object-name', POD, '--bound-object-uid', uid, '--duration', '1h']).trim());
    start('sidecar', ['sidecar', '--controller', values.distribution, '--token-file', tokenFile, '--pod-name', POD, '--namespace', NAMESPACE, '--listen', values.listen, '--admin-listen', values.admin],
      { OTEL_EXPORTER_OTLP_ENDPOINT: values.otlp, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_BSP_SCHEDULE_DELAY: '200' }, children);
    await waitFor('the sidecar to receive its snapshot from the controller', async () => (await fetch(`http://${values.admin}/readyz`)).ok, 60_000);

    step('Driving the agent\'s REST and MCP calls through the sidecar, as Envoy would');
    const rows = await drive(values.listen);
    printTable(rows);
    await waitFor('the policies to report Ready', () => Promise.resolve(/True\s+True/.test(kubectl(['get', 'agentpolicy', '-n', NAMESPACE, 'support-agent']))), 30_000).catch(() => undefined);
    console.log(`\n$ kubectl get agentpolicies -n ${NAMESPACE}\n${kubectl(['get', 'agentpolicies', '-n', NAMESPACE])}`);
    await confirmSpans(values.jaeger, rows);
  } catch (e: unknown) {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  } finally {
    stop();
  }
}

function step(text: string): void {
  console.log(`\n== ${text}`);
}

async function drive(listen: string): Promise<Row[]> {
  const suite = readYamlDocuments(join(example, 'support-agent.test.yaml'))[0];
  if (!isPlain(suite) || !Array.isArray(suite['cases'])) throw new Error('example suite has no cases');
  const client = new AuthzClient(listen);
  const rows: Row[] = [];
  // A Tuesday morning in Berlin, so the CRM's business hours apply.
  const nowMs = Date.parse('2026-03-03T10:00:00+01:00');
  try {
    for (const c of suite['cases'] as unknown[]) {
      if (!isPlain(c) || !isPlain(c['request'])) continue;
      const traceId = randomBytes(16).toString('hex');
      const request = { ...c['request'], headers: { ...(isPlain(c['request']['headers']) ? c['request']['headers'] : {}), traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } };
      const when = typeof c['now'] === 'string' ? Date.parse(c['now']) : nowMs;
      const res = await client.check(checkRequestFrom(request, when));
      const ok = res.httpResponse.case === 'okResponse';
      const headers = res.httpResponse.case === undefined ? [] : res.httpResponse.value.headers;
      const audit = headers.find((h) => h.header?.key === 'x-agentwarden-audit-decision')?.header?.value ?? '';
      let rule = '';
      if (res.httpResponse.case === 'okResponse') {
        rule = res.httpResponse.value.responseHeadersToAdd.find((h) => h.header?.key === 'x-agentwarden-rule')?.header?.value.split('/')[1] ?? '';
      } else if (res.httpResponse.case === 'deniedResponse') {
        const body = JSON.parse(res.httpResponse.value.body) as { rule?: string; error?: { data?: { rule?: string } } };
        rule = body.rule ?? body.error?.data?.rule ?? '';
      }
      rows.push({ call: describeCall(request), decision: ok ? 'ALLOW' : 'DENY', rule, audit, traceId });
    }
  } finally {
    client.close();
  }
  return rows;
}

function describeCall(r: Record<string, unknown>): string {
  const url = typeof r['url'] === 'string' ? r['url'].replace(/^https?:\/\//, '') : '';
  const mcp = isPlain(r['mcp']) ? r['mcp'] : undefined;
  if (mcp !== undefined) {
    const args = isPlain(mcp['arguments']) ? ` ${JSON.stringify(mcp['arguments'])}` : '';
    return `MCP ${typeof mcp['tool'] === 'string' ? mcp['tool'] : typeof mcp['method'] === 'string' ? mcp['method'] : 'tools/call'}${args}`.slice(0, 70);
  }
  return `${typeof r['method'] === 'string' ? r['method'] : 'GET'} ${url}`.slice(0, 70);
}

function printTable(rows: readonly Row[]): void {
  console.log('\nagent call                                                               decision  rule                    audit');
  for (const r of rows) console.log(`${r.call.padEnd(72)} ${r.decision.padEnd(9)} ${r.rule.padEnd(23)} ${r.audit}`);
  const allowed = rows.filter((r) => r.decision === 'ALLOW').length;
  console.log(`\n${rows.length} calls: ${allowed} allowed, ${rows.length - allowed} denied`);
}

async function confirmSpans(jaeger: string, rows: readonly Row[]): Promise<void> {
  const reachable = await fetch(`${jaeger}/api/services`).then((r) => r.ok).catch(() => false);
  if (!reachable) {
    console.log(`\nJaeger is not reachable at ${jaeger}; start the local control plane (make cluster-up) to see the traces.`);
    return;
  }
  // Each decision's trace by its id (the decision id), so other traffic in Jaeger cannot hide it.
  const missing = new Set(rows.map((r) => r.traceId));
  await waitFor('the decision spans in Jaeger', async () => {
    for (const id of [...missing]) {
      const res = await fetch(`${jaeger}/api/traces/${id}`);
      if (!res.ok) continue;
      const body = (await res.json()) as { data?: { spans?: { operationName: string }[] }[] };
      if (body.data?.[0]?.spans?.some((s) => s.operationName === 'agentwarden.decision') === true) missing.delete(id);
    }
    return missing.size === 0;
  }, 30_000);
  const found = rows.length - missing.size;
  console.log(`\nJaeger has all ${found} decision traces (checked one by one through ${jaeger}/api/traces/<decision id>).`);
  console.log(`Jaeger UI: ${jaeger}/search?service=agentwarden-sidecar (every span names its policy and rule; search by tag agentwarden.rule=block-billing).`);
  console.log('Note: the locally built Jaeger serves its query API but not the UI assets (they are built from the separate jaeger-ui project); point a full Jaeger or Grafana Tempo at the same OTLP endpoint to browse.');
}

await main();
