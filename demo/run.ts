// make demo: the whole loop on one machine. Starts the sidecar for the
// support-agent example, drives the agent's REST and MCP calls through it as
// Envoy would (ext_authz Check over gRPC, with traceparent), prints what was
// allowed and denied by which rule, and confirms through Jaeger's API that
// the decision spans arrived.
import { spawn, type ChildProcess } from 'node:child_process';
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      otlp: { type: 'string', default: 'http://127.0.0.1:4318' },
      jaeger: { type: 'string', default: 'http://127.0.0.1:16686' },
      listen: { type: 'string', default: '127.0.0.1:15011' },
      admin: { type: 'string', default: '127.0.0.1:15021' },
    },
  });
  const work = join(root, '.cache/demo');
  mkdirSync(join(work, 'secrets/zendesk-api'), { recursive: true });
  writeFileSync(join(work, 'secrets/zendesk-api/token'), `demo-${randomBytes(8).toString('hex')}`);

  const sidecar: ChildProcess = spawn(join(root, 'bin/agentwarden'), [
    'sidecar', '--policy', join(example, 'policies'), '--pod', join(example, 'pod.yaml'),
    '--secrets-dir', join(work, 'secrets'), '--listen', values.listen, '--admin-listen', values.admin,
  ], {
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: values.otlp, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_BSP_SCHEDULE_DELAY: '200' },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let sidecarLog = '';
  sidecar.stderr?.on('data', (b: Buffer) => { sidecarLog += b.toString(); });
  const stop = (): void => { sidecar.kill('SIGTERM'); };
  process.once('SIGINT', () => { stop(); process.exit(130); });
  try {
    await waitFor('the sidecar to be ready', async () => (await fetch(`http://${values.admin}/readyz`)).ok, 30_000);
    const rows = await drive(values.listen);
    printTable(rows);
    await confirmSpans(values.jaeger, rows);
  } catch (e: unknown) {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n--- sidecar log ---\n${sidecarLog}`);
    process.exitCode = 1;
  } finally {
    stop();
  }
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
  let found = 0;
  await waitFor('the decision spans in Jaeger', async () => {
    const res = await fetch(`${jaeger}/api/traces?service=agentwarden-sidecar&limit=${rows.length * 4}&lookback=1h`);
    const body = (await res.json()) as { data?: { traceID: string }[] };
    const ids = new Set((body.data ?? []).map((t) => t.traceID));
    found = rows.filter((r) => ids.has(r.traceId)).length;
    return found === rows.length;
  }, 30_000);
  console.log(`\nJaeger has all ${found} decision traces (checked through ${jaeger}/api/traces?service=agentwarden-sidecar).`);
  console.log(`Open ${jaeger}/search?service=agentwarden-sidecar to read them; every span names its policy and rule.`);
}

await main();
