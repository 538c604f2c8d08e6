// make bench-controller-memory: the controller's memory with 1,000 sidecar
// streams, first with 1,000 and then with 3,000 injected pods in the cluster,
// and its event loop during one policy edit fanned out to 1,000 and then 3,000
// streams. The controller runs as its own process against the local control
// plane (`make cluster-up`; E2E_KUBECONFIG picks another one); each simulated
// sidecar is a real PolicyDistribution stream that says hello with a bound
// ServiceAccount token of its own pod, decodes every pushed snapshot and ACKs
// it (as bench/propagation.ts does). The API server has no scheduler or
// kubelet: the pods stay Pending, which the controller's pods cache keeps.
// BENCH_STREAMS, BENCH_PODS, BENCH_SETTLE_S and BENCH_CONTROLLER_FLAGS (e.g.
// "--max-concurrent-pushes 100000") vary the run.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { SidecarMessageSchema, type ControllerMessage, type SidecarMessage } from '../proto/gen/agentwarden/v1/distribution_pb.js';
import { distributionService } from '../common/distribution-service.js';
import { shareDispatchers } from '../controller/src/kube/dispatcher.js';
import { createAgentPods, fanoutPolicy, pct, rss, until } from './controller-kit.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const KUBECONFIG = process.env['E2E_KUBECONFIG'] ?? join(root, '.cache/e2e/kubeconfig');
const STREAMS = Number(process.env['BENCH_STREAMS'] ?? '1000');
const PODS = Number(process.env['BENCH_PODS'] ?? '3000');
const TARGET_RSS_MB = 200;
const SETTLE_S = Number(process.env['BENCH_SETTLE_S'] ?? '20');
const CHANNELS = 20;
const NS = `ctlmem-${Date.now().toString(36)}`;
const PORT = Number(process.env['BENCH_PORT'] ?? '25210');

interface SimSidecar { readonly pod: string; version: string; readonly received: Map<string, number> }

async function main(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  // One connection pool for the thousands of creates (client-node alone makes a TLS connection per request).
  shareDispatchers(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  spawnSync(join(root, '.cache/bin/kubectl'), ['--kubeconfig', KUBECONFIG, 'apply', '-f', join(root, 'crds/agentpolicy.yaml')], { stdio: 'ignore' });
  await core.createNamespace({ body: { metadata: { name: NS } } });
  await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'agent' } } });
  const tokens = new Map<string, string>();
  const createPods = async (names: readonly string[], withTokens: boolean): Promise<void> => {
    const t = performance.now();
    await createAgentPods(core, NS, names, 100, withTokens ? tokens : undefined);
    console.log(`setup: ${names.length} injected pods${withTokens ? ' and bound tokens' : ''} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  };
  const names = Array.from({ length: Math.max(PODS, STREAMS) }, (_, i) => `agent-${i}`);
  await createPods(names.slice(0, STREAMS), true);
  await custom.createNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies', body: fanoutPolicy(NS, ['/v1/start']) });

  const controller = spawn(join(root, 'bin/agentwarden'), ['controller', '--kubeconfig', KUBECONFIG, '--distribution-listen', `127.0.0.1:${PORT}`, '--metrics-listen', `127.0.0.1:${PORT + 1}`, '--namespace', NS, '--leader-elect', 'false', ...(process.env['BENCH_CONTROLLER_FLAGS'] ?? '').split(' ').filter((f) => f !== '')], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AGENTWARDEN_LOG_LEVEL: 'warn', ...(process.env['BENCH_HEAP_SNAPSHOT'] === '1' ? { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 ${process.env['NODE_OPTIONS'] ?? ''}` } : {}) } });
  let controllerLog = '';
  controller.stderr.on('data', (b: Buffer) => { controllerLog = (controllerLog + b.toString()).slice(-10_000); });
  const pid = controller.pid ?? 0;
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${PORT + 1}/metrics`)).text();
  const gauge = (text: string, name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  const podsCached = async (): Promise<number> => gauge(await metrics(), 'agentwarden_informer_objects\\{resource="pods"\\}');
  let stopping = false;
  try {
    const Ctor = grpc.makeGenericClientConstructor(distributionService, 'PolicyDistribution');
    const clients = Array.from({ length: CHANNELS }, () => new Ctor(`127.0.0.1:${PORT}`, grpc.credentials.createInsecure()));
    await Promise.all(clients.map((c) => new Promise<void>((res, rej) => { c.waitForReady(Date.now() + 30_000, (e) => (e === undefined || e === null ? res() : rej(e))); })));
    const sims: SimSidecar[] = [];
    /** Streams that ended and were opened again (a TokenReview failed or not answered in time under load: UNAVAILABLE, retry). */
    let reconnects = 0;
    let channel = 0;
    /** Opens the sidecar's stream; an ended one is opened again after 250 ms, as the real sidecar does (with backoff). */
    const open = (sim: SimSidecar): void => {
      const client = clients[channel++ % CHANNELS] as unknown as { Stream: () => grpc.ClientDuplexStream<SidecarMessage, ControllerMessage> };
      const call = client.Stream();
      call.on('data', (msg: ControllerMessage) => {
        if (msg.kind.case !== 'snapshot' || msg.kind.value.snapshot === undefined) return;
        const { snapshot, nonce } = msg.kind.value;
        sim.version = snapshot.version;
        sim.received.set(snapshot.version, performance.now());
        call.write(create(SidecarMessageSchema, { kind: { case: 'ack', value: { version: snapshot.version, nonce } } }));
      });
      call.on('error', () => {
        if (stopping) return;
        reconnects++;
        setTimeout(() => { open(sim); }, 250).unref();
      });
      call.write(create(SidecarMessageSchema, { kind: { case: 'hello', value: { token: tokens.get(sim.pod) ?? '', namespace: NS, podName: sim.pod, currentVersion: sim.version } } }));
    };
    const connect = async (pods: readonly string[]): Promise<void> => {
      const t = performance.now();
      const added = pods.map((pod): SimSidecar => ({ pod, version: '', received: new Map() }));
      sims.push(...added);
      for (const sim of added) open(sim);
      await until('every new sidecar to get its first snapshot', () => added.every((s) => s.version !== ''), 180_000).catch(async (e: unknown) => {
        // What the controller says about the streams that never got one (a stall to explain, not only a timeout).
        const missing = added.filter((s) => s.version === '');
        const lines = (await metrics().catch(() => '')).split('\n').filter((l) => /^agentwarden_(snapshot_push|sidecar_|token_review|connected|compiled)/.test(l));
        throw new Error(`${e instanceof Error ? e.message : String(e)}: ${missing.length} of ${added.length} without a snapshot (e.g. ${missing.slice(0, 3).map((s) => s.pod).join(', ')}), ${reconnects} streams opened again; controller metrics:\n${lines.join('\n')}`, { cause: e });
      });
      console.log(`connect: ${pods.length} sidecars authenticated (TokenReview) and synced in ${((performance.now() - t) / 1000).toFixed(2)} s (${sims.length} streams, ${reconnects} streams opened again so far)`);
    };
    let edits = 0;
    /** One AgentPolicy edit to every stream: ACK latencies and the controller's event-loop delay while it fanned out. */
    const fanOut = async (): Promise<void> => {
      await metrics(); // resets the event-loop delay window
      const before = new Set(sims.map((s) => s.version));
      const start = performance.now();
      await custom.patchNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies', name: 'fanout', body: [{ op: 'replace', path: '/spec/rules/0/http/paths', value: [`/v1/edit-${edits++}`] }] });
      await until(`the edit to reach every sidecar`, () => sims.every((s) => !before.has(s.version)), 120_000);
      const text = await metrics();
      const lat = sims.map((s) => (s.received.get(s.version) ?? start) - start).sort((a, b) => a - b);
      const eldP99 = gauge(text, 'nodejs_eventloop_lag_p99_seconds') * 1000;
      const eldMax = gauge(text, 'nodejs_eventloop_lag_max_seconds') * 1000;
      console.log(`bench: controller fanout streams=${sims.length} p50_ms=${pct(lat, 0.5).toFixed(0)} p99_ms=${pct(lat, 0.99).toFixed(0)} max_ms=${(lat[lat.length - 1] ?? 0).toFixed(0)} event_loop_delay_p99_ms=${eldP99.toFixed(1)} event_loop_delay_max_ms=${eldMax.toFixed(1)}`);
    };
    /**
     * Memory once the pods cache holds `pods` and the streams are synced: right after the
     * fan-out, then after SETTLE_S idle seconds (V8 gives back what the burst's garbage took
     * once the process is idle; the first figure is what a memory limit must allow).
     */
    const report = async (pods: number): Promise<number> => {
      await until(`the controller's pods cache to hold ${pods} pods`, async () => (await podsCached()) >= pods, 120_000, 200);
      const line = async (when: string): Promise<number> => {
        const text = await metrics();
        const r = rss(pid);
        const mb = (name: string): number => gauge(text, name) / 1024 / 1024;
        console.log(`bench: controller ${when} rss_mb=${r.now.toFixed(0)} peak_rss_mb=${r.peak.toFixed(0)} heap_mb=${mb('nodejs_heap_used_bytes').toFixed(0)} heap_total_mb=${mb('nodejs_heap_total_bytes').toFixed(0)} external_mb=${mb('nodejs_external_memory_bytes').toFixed(0)} array_buffers_mb=${mb('nodejs_array_buffers_bytes').toFixed(0)} streams=${sims.length} pods=${pods} pods_cached=${await podsCached()} compiled_snapshots=${gauge(text, 'agentwarden_compiled_snapshots')}`);
        return r.now;
      };
      await line('after_fanout');
      await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
      return line(`settled_${SETTLE_S}s`);
    };
    await report(STREAMS);
    await connect(names.slice(0, STREAMS));
    await fanOut();
    const rss1000 = await report(STREAMS);
    // BENCH_HEAP_SNAPSHOT=1: the controller writes a heap snapshot into the working directory here.
    if (process.env['BENCH_HEAP_SNAPSHOT'] === '1') {
      controller.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 20_000));
    }
    await createPods(names.slice(STREAMS, PODS), true);
    await fanOut();
    const rss3000 = await report(PODS);
    console.log(`bench: target controller rss_mb with ${STREAMS} streams <= ${TARGET_RSS_MB}: ${Math.max(rss1000, rss3000) <= TARGET_RSS_MB ? 'met' : 'NOT met'} (${rss1000.toFixed(0)} MB with ${STREAMS} pods, ${rss3000.toFixed(0)} MB with ${PODS} pods)`);
    await connect(names.slice(STREAMS, PODS));
    await fanOut();
    await report(PODS);
    stopping = true;
    for (const c of clients) c.close();
  } catch (e: unknown) {
    console.error(`controller memory benchmark failed: ${e instanceof Error ? e.message : String(e)}\n${controllerLog}`);
    process.exitCode = 1;
  } finally {
    stopping = true;
    controller.kill('SIGTERM');
    // Pods bound to no node go at once; the namespace itself needs a namespace controller, which the local control plane may lack.
    await core.deleteCollectionNamespacedPod({ namespace: NS }).catch(() => undefined);
    await core.deleteNamespace({ name: NS }).catch(() => undefined);
  }
}

await main();
