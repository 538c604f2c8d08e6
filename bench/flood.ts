// make bench-flood: one tenant floods its namespace with 250 Secrets of 700 KB,
// each labelled agentwarden.io/credential=true and read by its AgentPolicies
// (5 policies of 50 credentials), on the local control plane (`make
// cluster-up`). The controller runs as its own process with its webhooks on;
// its RSS is read from /proc/<pid>/status every 50 ms while AdmissionReviews
// (a pod CREATE to /mutate-pods, which reads the namespace fresh) go to it
// back to back. Two phases: the flood arriving by watch, then a controller
// started with the flood already there (the initial list). Prints the figures
// and fails when the RSS peaks above BENCH_FLOOD_MAX_RSS_MB (default 448, under
// the chart's 512Mi limit) or any review goes unanswered.
//
// BENCH_CONTROLLER_NODE_OPTIONS is the controller's NODE_OPTIONS (e.g. a V8
// heap limit, as a container memory limit would set). BENCH_CONTROLLER_BIN runs another build's bin/agentwarden (e.g. the one
// before the cache limits) for comparison; BENCH_FLOOD_SECRETS and
// BENCH_FLOOD_SECRET_KB scale the flood.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const KUBECONFIG = join(root, '.cache/e2e/kubeconfig');
const PKI = join(root, '.cache/e2e/pki');
const BIN = process.env['BENCH_CONTROLLER_BIN'] ?? join(root, 'bin/agentwarden');
const SECRETS = Number(process.env['BENCH_FLOOD_SECRETS'] ?? '250');
const SECRET_KB = Number(process.env['BENCH_FLOOD_SECRET_KB'] ?? '700');
const NODE_OPTIONS_NOTE = process.env['BENCH_CONTROLLER_NODE_OPTIONS'] ?? '';
const MAX_RSS_MB = Number(process.env['BENCH_FLOOD_MAX_RSS_MB'] ?? '448');
const PER_POLICY = 50;
const NS = `flood-${Date.now().toString(36)}`;
const PORT = 26012;

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0; // the process has exited
  }
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] ?? 0;
}

const secretName = (i: number): string => `flood-${String(i).padStart(3, '0')}`;

function policy(index: number): Record<string, unknown> {
  const credentials = Array.from({ length: PER_POLICY }, (_, j) => index * PER_POLICY + j).filter((i) => i < SECRETS)
    .map((i) => ({ name: `c${i}`, secretRef: { name: secretName(i), key: 'token' } }));
  return {
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: `flood-${index}`, namespace: NS },
    spec: { podSelector: { matchLabels: { app: 'agent' } }, credentials, rules: [{ name: 'use', to: { hosts: ['api.example.com'] }, credential: credentials[0]?.name ?? '' }] },
  };
}

/** One AdmissionReview of a pod CREATE to /mutate-pods; resolves with the latency, rejects when unanswered. */
function review(port: number, ca: Buffer): Promise<number> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid: randomBytes(8).toString('hex'), kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: NS, name: 'agent', operation: 'CREATE', userInfo: { username: 'bench' },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent', namespace: NS, labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image: 'example.com/agent:1' }] } },
    },
  });
  const start = performance.now();
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/mutate-pods', method: 'POST', ca, servername: '127.0.0.1', headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const answer = JSON.parse(Buffer.concat(chunks).toString()) as { response?: { allowed?: boolean } };
        if (res.statusCode === 200 && answer.response?.allowed === true) resolvePromise(performance.now() - start);
        else reject(new Error(`HTTP ${res.statusCode ?? 0}: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
      });
    });
    req.on('timeout', () => { req.destroy(new Error('no answer in 10 s')); });
    req.on('error', reject);
    req.end(body);
  });
}

interface Controller { readonly child: ChildProcess; readonly pid: number; log(): string; stop(): Promise<void> }

function startController(): Controller {
  const child = spawn(BIN, ['controller', '--kubeconfig', KUBECONFIG, '--distribution-listen', `127.0.0.1:${PORT}`, '--metrics-listen', `127.0.0.1:${PORT + 1}`,
    '--webhook-listen', `127.0.0.1:${PORT + 2}`, '--webhook-cert', join(PKI, 'webhook.crt'), '--webhook-key', join(PKI, 'webhook.key'), '--namespace', NS, '--leader-elect', 'false'],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AGENTWARDEN_LOG_LEVEL: 'warn', NODE_OPTIONS: process.env['BENCH_CONTROLLER_NODE_OPTIONS'] ?? '' } });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => { log = (log + b.toString()).slice(-10_000); });
  return {
    child, pid: child.pid ?? 0, log: () => log,
    stop: () => new Promise((r) => { if (child.exitCode !== null) { r(); return; } child.once('exit', () => { r(); }); child.kill('SIGTERM'); }),
  };
}

async function metric(pattern: RegExp): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${PORT + 1}/metrics`)).text();
    const m = pattern.exec(text);
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Samples RSS and sends reviews back to back until stopped. */
function watchController(c: Controller, ca: Buffer): { stop(): Promise<{ peakMb: number; latencies: number[]; failures: string[] }> } {
  let peakMb = rssMb(c.pid);
  let running = true;
  const sampler = setInterval(() => { peakMb = Math.max(peakMb, rssMb(c.pid)); }, 50);
  const latencies: number[] = [];
  const failures: string[] = [];
  const prober = (async (): Promise<void> => {
    while (running) {
      try {
        latencies.push(await review(PORT + 2, ca));
      } catch (e: unknown) {
        // Before the first answer the webhook server is still starting (a restarted controller): not a failure.
        if (latencies.length > 0) failures.push(e instanceof Error ? e.message : String(e));
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await prober;
      clearInterval(sampler);
      return { peakMb: Math.max(peakMb, rssMb(c.pid)), latencies: latencies.sort((a, b) => a - b), failures };
    },
  };
}

function reportReviews(phase: string, r: { latencies: number[]; failures: string[] }): string {
  return `${phase}: ${r.latencies.length} reviews answered (p50 ${pct(r.latencies, 0.5).toFixed(1)} ms, p99 ${pct(r.latencies, 0.99).toFixed(1)} ms, max ${(r.latencies.at(-1) ?? 0).toFixed(1)} ms), ${r.failures.length} unanswered${r.failures.length === 0 ? '' : ` (first: ${r.failures[0] ?? ''})`}`;
}

async function main(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ca = readFileSync(join(PKI, 'ca.crt'));
  await core.createNamespace({ body: { metadata: { name: NS, labels: { 'agentwarden.io/inject': 'enabled' } } } });
  const policies = Math.ceil(SECRETS / PER_POLICY);
  for (let p = 0; p < policies; p++) await custom.createNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies', body: policy(p) });
  const failures: string[] = [];
  let controller = startController();
  try {
    await until('the controller to list the policies', async () => (await metric(/agentwarden_informer_objects\{resource="agentpolicies"\} (\d+)/)) !== undefined && (await metric(/agentwarden_reconciles_total (\d+)/) ?? 0) > 0, 60_000);
    await until('the webhooks to answer', () => review(PORT + 2, ca).then(() => true, () => false), 30_000);
    // Settle, then take the idle figure.
    await new Promise((r) => setTimeout(r, 2000));
    const idleMb = rssMb(controller.pid);
    // Labelled Secrets of other namespaces (other suites') are in the cache too.
    const secretsBefore = await metric(/agentwarden_informer_objects\{resource="secrets"\} (\d+)/) ?? 0;

    // Phase 1: the flood arrives by watch.
    const value = randomBytes(SECRET_KB * 1024).toString('base64');
    let watching = watchController(controller, ca);
    let t = performance.now();
    for (let i = 0; i < SECRETS; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, SECRETS - i) }, (_, j) => core.createNamespacedSecret({
        namespace: NS, body: { metadata: { name: secretName(i + j), labels: { 'agentwarden.io/credential': 'true' } }, data: { token: value } },
      })));
    }
    const createS = (performance.now() - t) / 1000;
    // Every Secret seen (the cache holds a stub for each), then the reconcile and status that follow.
    await until('the controller to see every Secret', async () => (await metric(/agentwarden_informer_objects\{resource="secrets"\} (\d+)/) ?? 0) >= secretsBefore + SECRETS, 120_000);
    await new Promise((r) => setTimeout(r, 3000));
    const flood = await watching.stop();
    const afterFloodMb = rssMb(controller.pid);
    const refusedWatch = await metric(/agentwarden_informer_refused_total\{resource="secrets",reason="value_too_large"\} (\d+)/);
    const cachedBytes = await metric(/agentwarden_informer_cached_bytes\{resource="secrets"\} (\d+)/);
    const status = await custom.getNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies', name: 'flood-0' }) as { status?: { conditions?: { type: string; reason: string; message: string }[] } };
    const ready = status.status?.conditions?.find((c) => c.type === 'Ready');

    // Phase 2: a controller started with the flood in place lists it.
    await controller.stop();
    controller = startController();
    watching = watchController(controller, ca);
    t = performance.now();
    await until('the restarted controller to list every Secret', async () => (await metric(/agentwarden_informer_objects\{resource="secrets"\} (\d+)/) ?? 0) >= secretsBefore + SECRETS, 120_000);
    const listS = (performance.now() - t) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    const restart = await watching.stop();
    const afterRestartMb = rssMb(controller.pid);

    const totalMb = (SECRETS * value.length) / 1024 / 1024;
    console.log(`flood: ${SECRETS} Secrets of ${SECRET_KB} KB (${totalMb.toFixed(0)} MB base64), labelled agentwarden.io/credential=true and read by ${policies} AgentPolicies, created in ${createS.toFixed(1)} s`);
    console.log(`controller: ${BIN}${NODE_OPTIONS_NOTE === '' ? '' : ` with NODE_OPTIONS=${NODE_OPTIONS_NOTE}`}`);
    console.log(`controller RSS: ${idleMb.toFixed(0)} MB idle; ${flood.peakMb.toFixed(0)} MB peak while the flood arrived by watch, ${afterFloodMb.toFixed(0)} MB after`);
    console.log(`controller RSS: ${restart.peakMb.toFixed(0)} MB peak while a restarted controller listed the flood (${listS.toFixed(1)} s), ${afterRestartMb.toFixed(0)} MB after`);
    console.log(`secrets cache: ${cachedBytes ?? 'n/a'} bytes of credential values held, ${refusedWatch ?? 'n/a'} values refused (value_too_large); AgentPolicy flood-0 Ready: ${ready?.reason ?? 'n/a'}: ${(ready?.message ?? '').slice(0, 240)}`);
    console.log(reportReviews('admission during the flood', flood));
    console.log(reportReviews('admission during the restart', restart));
    const rise = Math.max(flood.peakMb, restart.peakMb) - idleMb;
    console.log(`bench: controller flood_${SECRETS}x${SECRET_KB}kb rss_mb_idle=${idleMb.toFixed(0)} rss_mb_peak_watch=${flood.peakMb.toFixed(0)} rss_mb_peak_list=${restart.peakMb.toFixed(0)} rise_mb=${rise.toFixed(0)} reviews=${flood.latencies.length + restart.latencies.length} unanswered=${flood.failures.length + restart.failures.length}`);
    const peak = Math.max(flood.peakMb, restart.peakMb);
    if (peak > MAX_RSS_MB) failures.push(`the controller's RSS peaked at ${peak.toFixed(0)} MB, above BENCH_FLOOD_MAX_RSS_MB=${MAX_RSS_MB}`);
    if (flood.failures.length > 0) failures.push(`${flood.failures.length} reviews unanswered during the flood`);
    if (restart.failures.length > 0) failures.push(`${restart.failures.length} reviews unanswered while the restarted controller listed the flood`);
  } catch (e: unknown) {
    failures.push(`${e instanceof Error ? e.message : String(e)}\n${controller.log()}`);
  } finally {
    await controller.stop();
    // The local control plane has no namespace controller: delete what the namespace holds first.
    await core.deleteCollectionNamespacedSecret({ namespace: NS }).catch(() => undefined);
    await custom.deleteCollectionNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies' }).catch(() => undefined);
    await core.deleteNamespace({ name: NS }).catch(() => undefined);
  }
  if (failures.length > 0) {
    console.error(`bench-flood failed:\n${failures.join('\n')}`);
    process.exitCode = 1;
  }
}

await main();
