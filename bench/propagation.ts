// make bench-propagation: one AgentPolicy edit fanned out to 1,000 simulated
// sidecars, on the local control plane (`make cluster-up`). The controller runs
// as its own process (its RSS is read from /proc); each simulated sidecar is a
// real PolicyDistribution stream that says hello with a bound ServiceAccount
// token of its own pod, decodes every pushed snapshot and ACKs it.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { SidecarMessageSchema, type ControllerMessage, type SidecarMessage } from '../proto/gen/agentwarden/v1/distribution_pb.js';
import { distributionService } from '../common/distribution-service.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const KUBECONFIG = join(root, '.cache/e2e/kubeconfig');
const SIDECARS = Number(process.env['BENCH_SIDECARS'] ?? '1000');
const EDITS = Number(process.env['BENCH_EDITS'] ?? '5');
const CHANNELS = 20;
const NS = `prop-${Date.now().toString(36)}`;
const PORT = 25012;

interface SimSidecar { readonly pod: string; version: string; readonly received: Map<string, number> }

function policy(paths: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'fanout', namespace: NS },
    spec: { podSelector: { matchLabels: { app: 'agent' } }, rules: [{ name: 'read', to: { hosts: ['api.example.com'] }, http: { methods: ['GET'], paths } }] },
  };
}

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] ?? 0;
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function main(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  spawnSync(join(root, '.cache/bin/kubectl'), ['--kubeconfig', KUBECONFIG, 'apply', '-f', join(root, 'crds/agentpolicy.yaml')], { stdio: 'ignore' });
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'agent' } } });
  const pods = Array.from({ length: SIDECARS }, (_, i) => `agent-${i}`);
  let t = performance.now();
  const tokens = new Map<string, string>();
  await inBatches(pods, 50, async (name) => {
    const pod = await core.createNamespacedPod({ namespace: NS, body: { metadata: { name, labels: { app: 'agent' } }, spec: { serviceAccountName: 'agent', containers: [{ name: 'agent', image: 'example.com/agent:1' }] } } });
    const tr = await core.createNamespacedServiceAccountToken({ name: 'agent', namespace: NS, body: { spec: { audiences: ['agentwarden'], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name, uid: pod.metadata?.uid ?? '' } } } });
    tokens.set(name, tr.status?.token ?? '');
  });
  console.log(`setup: ${SIDECARS} pods and bound tokens in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await custom.createNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies', body: policy(['/v1/start']) });

  const controller = spawn(join(root, 'bin/agentwarden'), ['controller', '--kubeconfig', KUBECONFIG, '--distribution-listen', `127.0.0.1:${PORT}`, '--metrics-listen', `127.0.0.1:${PORT + 1}`, '--namespace', NS, '--leader-elect', 'false'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AGENTWARDEN_LOG_LEVEL: 'warn' } });
  let controllerLog = '';
  controller.stderr.on('data', (b: Buffer) => { controllerLog = (controllerLog + b.toString()).slice(-10_000); });
  try {
    const pid = controller.pid ?? 0;
    const Ctor = grpc.makeGenericClientConstructor(distributionService, 'PolicyDistribution');
    const clients = Array.from({ length: CHANNELS }, () => new Ctor(`127.0.0.1:${PORT}`, grpc.credentials.createInsecure()));
    await Promise.all(clients.map((c) => new Promise<void>((res, rej) => { c.waitForReady(Date.now() + 30_000, (e) => (e === undefined || e === null ? res() : rej(e))); })));
    const sims: SimSidecar[] = [];
    const rssIdle = rssMb(pid);
    t = performance.now();
    pods.forEach((pod, i) => {
      const sim: SimSidecar = { pod, version: '', received: new Map() };
      sims.push(sim);
      const client = clients[i % CHANNELS] as unknown as { Stream: () => grpc.ClientDuplexStream<SidecarMessage, ControllerMessage> };
      const call = client.Stream();
      call.on('data', (msg: ControllerMessage) => {
        if (msg.kind.case !== 'snapshot' || msg.kind.value.snapshot === undefined) return;
        const { snapshot, nonce } = msg.kind.value;
        sim.version = snapshot.version;
        sim.received.set(snapshot.version, performance.now());
        call.write(create(SidecarMessageSchema, { kind: { case: 'ack', value: { version: snapshot.version, nonce } } }));
      });
      call.on('error', () => undefined);
      call.write(create(SidecarMessageSchema, { kind: { case: 'hello', value: { token: tokens.get(pod) ?? '', namespace: NS, podName: pod } } }));
    });
    await until('every sidecar to get its first snapshot', () => sims.every((s) => s.version !== ''), 120_000);
    console.log(`connect: ${SIDECARS} sidecars authenticated (TokenReview) and synced in ${((performance.now() - t) / 1000).toFixed(2)} s`);
    const perEdit: { p50: number; p99: number; max: number }[] = [];
    let peakRss = rssMb(pid);
    for (let e = 0; e < EDITS; e++) {
      const before = new Set(sims.map((s) => s.version));
      const start = performance.now();
      // A JSON patch of the spec: no resourceVersion race with the controller's status writes.
      await custom.patchNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies', name: 'fanout', body: [{ op: 'replace', path: '/spec/rules/0/http/paths', value: [`/v1/edit-${e}`] }] });
      await until(`edit ${e} to reach every sidecar`, () => sims.every((s) => !before.has(s.version)), 60_000);
      peakRss = Math.max(peakRss, rssMb(pid));
      const lat = sims.map((s) => (s.received.get(s.version) ?? start) - start).sort((a, b) => a - b);
      perEdit.push({ p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: lat[lat.length - 1] ?? 0 });
    }
    console.log(`\npropagation of one AgentPolicy edit (API write -> snapshot at the sidecar) to ${SIDECARS} sidecars, ${EDITS} edits`);
    console.log('edit   p50 ms   p99 ms   max ms');
    perEdit.forEach((r, i) => console.log(`${String(i + 1).padStart(4)}   ${r.p50.toFixed(0).padStart(6)}   ${r.p99.toFixed(0).padStart(6)}   ${r.max.toFixed(0).padStart(6)}`));
    const p99s = perEdit.map((r) => r.p99).sort((a, b) => a - b);
    const worst = Math.max(...perEdit.map((r) => r.max));
    const metrics = await (await fetch(`http://127.0.0.1:${PORT + 1}/metrics`)).text();
    const heapMb = Number(/nodejs_heap_used_bytes (\d+)/.exec(metrics)?.[1] ?? 0) / 1024 / 1024;
    console.log(`controller heap in use after the edits: ${heapMb.toFixed(0)} MB`);
    console.log(`controller RSS: ${rssIdle.toFixed(0)} MB before the sidecars connected, ${peakRss.toFixed(0)} MB peak with ${SIDECARS} streams`);
    console.log(`bench: controller propagation_${SIDECARS}_sidecars p99_ms=${pct(p99s, 0.5).toFixed(0)} worst_p99_ms=${(p99s[p99s.length - 1] ?? 0).toFixed(0)} all_acked_max_ms=${worst.toFixed(0)}`);
    console.log(`bench: controller rss_mb_idle=${rssIdle.toFixed(0)} rss_mb_${SIDECARS}_sidecars=${peakRss.toFixed(0)} heap_mb_${SIDECARS}_sidecars=${heapMb.toFixed(0)}`);
    for (const c of clients) c.close();
  } catch (e: unknown) {
    console.error(`propagation benchmark failed: ${e instanceof Error ? e.message : String(e)}\n${controllerLog}`);
    process.exitCode = 1;
  } finally {
    controller.kill('SIGTERM');
  }
}

await main();
