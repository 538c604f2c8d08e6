// make bench-propagation: one AgentPolicy edit fanned out to 3,000 simulated
// sidecars spread over 3 controller replicas (issue 20), on the local control
// plane (`make cluster-up`; E2E_KUBECONFIG picks another one). Each replica runs
// as its own process with leader election (its RSS is read from /proc); each
// simulated sidecar is a real PolicyDistribution stream that says hello with a
// bound ServiceAccount token of its own pod, decodes every pushed snapshot and
// ACKs it. The run then waits for AgentPolicy.status.pods.synced to count every
// sidecar (the leader reads the other replicas' report Leases), SIGKILLs one
// replica, and measures its sidecars reconnecting to the others (they keep
// enforcing their last snapshot meanwhile) and converging on the next edit.
// BENCH_REPLICAS=1 runs the single-controller mode (no leader election) of before.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { SidecarMessageSchema, type ControllerMessage, type SidecarMessage } from '../proto/gen/agentwarden/v1/distribution_pb.js';
import { distributionService } from '../common/distribution-service.js';
import { Backoff } from '../common/backoff.js';
import { cpuSeconds } from './compare/proc.js';
import { createAgentPods, fanoutPolicy, pct, rss, until } from './controller-kit.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const KUBECONFIG = process.env['E2E_KUBECONFIG'] ?? join(root, '.cache/e2e/kubeconfig');
const REPLICAS = Math.max(1, Number(process.env['BENCH_REPLICAS'] ?? '3'));
const SIDECARS = Number(process.env['BENCH_SIDECARS'] ?? String(1000 * REPLICAS));
const EDITS = Number(process.env['BENCH_EDITS'] ?? '5');
/** Channels per replica (each carries SIDECARS / REPLICAS / CHANNELS streams). */
const CHANNELS = 20;
const NS = `prop-${Date.now().toString(36)}`;
/** Replica i listens on BASE_PORT + 2i (distribution) and + 2i + 1 (metrics). */
const BASE_PORT = Number(process.env['BENCH_PORT'] ?? '25012');

type Stream = grpc.ClientDuplexStream<SidecarMessage, ControllerMessage>;

interface SimSidecar {
  readonly pod: string;
  /** The replica serving it now. */
  replica: number;
  /** The snapshot it enforces (kept while reconnecting, like the real sidecar). */
  version: string;
  readonly received: Map<string, number>;
  /** When its stream broke (0: connected), and when it was served again after that. */
  brokeAtMs: number;
  reconnectedAtMs: number;
  /** Versions it held at the moment its stream broke and on its first push after reconnecting. */
  versionAtBreak: string;
  versionAfterReconnect: string;
  /** Stayed without any snapshot at some moment after its first one (an enforcement gap). */
  gap: boolean;
  call: Stream | undefined;
}

interface Replica {
  readonly index: number;
  readonly identity: string;
  readonly process: ChildProcess;
  readonly pid: number;
  alive: boolean;
  log: string;
  readonly clients: { Stream: () => Stream; close: () => void }[];
  peakRss: number;
  /** Peak RSS by phase of the run (connect storm, edits, failover). */
  readonly peakBy: Map<string, number>;
}

function startReplica(index: number): Replica {
  const identity = `bench-replica-${index}`;
  const port = BASE_PORT + 2 * index;
  const args = ['controller', '--kubeconfig', KUBECONFIG, '--distribution-listen', `127.0.0.1:${port}`, '--metrics-listen', `127.0.0.1:${port + 1}`, '--namespace', NS,
    '--identity', identity, '--leader-elect', REPLICAS > 1 ? 'true' : 'false'];
  const child = spawn(join(root, 'bin/agentwarden'), args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AGENTWARDEN_LOG_LEVEL: 'warn', ...(process.env['BENCH_HEAP_SNAPSHOT'] === '1' ? { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 ${process.env['NODE_OPTIONS'] ?? ''}` } : {}) } });
  const Ctor = grpc.makeGenericClientConstructor(distributionService, 'PolicyDistribution');
  const r: Replica = {
    index, identity, process: child, pid: child.pid ?? 0, alive: true, log: '', peakRss: 0, peakBy: new Map(),
    clients: Array.from({ length: CHANNELS }, () => new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Replica['clients'][number]),
  };
  child.stderr?.on('data', (b: Buffer) => { r.log = (r.log + b.toString()).slice(-10_000); });
  child.on('exit', () => { r.alive = false; });
  return r;
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
  await createAgentPods(core, NS, pods, 50, tokens);
  console.log(`setup: ${SIDECARS} pods and bound tokens in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await custom.createNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies', body: fanoutPolicy(NS, ['/v1/start']) });

  const replicas = Array.from({ length: REPLICAS }, (_, i) => startReplica(i));
  const liveReplicas = (): Replica[] => replicas.filter((r) => r.alive);
  const logs = (): string => replicas.map((r) => `--- ${r.identity}\n${r.log}`).join('\n');
  let phase = 'start';
  const sample = (): void => {
    for (const r of liveReplicas()) {
      const now = rss(r.pid).now;
      r.peakRss = Math.max(r.peakRss, now);
      r.peakBy.set(phase, Math.max(r.peakBy.get(phase) ?? 0, now));
    }
  };
  const sampler = setInterval(sample, 200);
  try {
    await Promise.all(replicas.flatMap((r) => r.clients.map((c) => new Promise<void>((res, rej) => {
      (c as unknown as grpc.Client).waitForReady(Date.now() + 30_000, (e) => (e === undefined || e === null ? res() : rej(e)));
    }))));
    const rssIdle = replicas.map((r) => rss(r.pid).now);
    const sims: SimSidecar[] = [];
    let served = 0;
    let stopping = false;
    /** Opens the sidecar's stream on its replica; a broken stream reconnects with the real sidecar's backoff to a live replica. */
    const connect = (sim: SimSidecar, backoff: Backoff): void => {
      const replica = replicas[sim.replica];
      if (replica === undefined) return;
      const client = replica.clients[served++ % CHANNELS];
      if (client === undefined) return;
      const call = client.Stream();
      sim.call = call;
      let pushed = false;
      call.on('data', (msg: ControllerMessage) => {
        if (msg.kind.case !== 'snapshot' || msg.kind.value.snapshot === undefined) return;
        const { snapshot, nonce } = msg.kind.value;
        if (!pushed && sim.brokeAtMs !== 0) {
          sim.reconnectedAtMs = performance.now();
          sim.versionAfterReconnect = snapshot.version;
        }
        pushed = true;
        sim.version = snapshot.version;
        sim.received.set(snapshot.version, performance.now());
        call.write(create(SidecarMessageSchema, { kind: { case: 'ack', value: { version: snapshot.version, nonce } } }));
      });
      let ended = false;
      const broken = (): void => {
        if (ended || stopping || sim.call !== call) return;
        ended = true;
        if (sim.brokeAtMs === 0) {
          sim.brokeAtMs = performance.now();
          sim.versionAtBreak = sim.version;
        }
        // The real sidecar keeps enforcing its last snapshot: the sim's version stays.
        if (sim.versionAtBreak !== '' && sim.version === '') sim.gap = true;
        if (pushed) backoff.reset();
        const delay = backoff.delay();
        setTimeout(() => {
          // Through a Service, the next connection lands on a live replica; while its own is
          // alive (a TokenReview refused in the connect storm) it stays there, so that each
          // replica's RSS is measured with its share of the streams.
          const live = liveReplicas();
          const next = replica.alive ? replica : live[Math.floor(Math.random() * live.length)];
          if (next === undefined) return;
          sim.replica = next.index;
          connect(sim, backoff);
        }, delay).unref();
      };
      call.on('error', broken);
      call.on('end', broken);
      call.write(create(SidecarMessageSchema, { kind: { case: 'hello', value: { token: tokens.get(sim.pod) ?? '', namespace: NS, podName: sim.pod, currentVersion: sim.version } } }));
    };
    t = performance.now();
    phase = 'connect';
    pods.forEach((pod, i) => {
      const sim: SimSidecar = { pod, replica: i % REPLICAS, version: '', received: new Map(), brokeAtMs: 0, reconnectedAtMs: 0, versionAtBreak: '', versionAfterReconnect: '', gap: false, call: undefined };
      sims.push(sim);
      connect(sim, new Backoff({ initialMs: 250, maxMs: 15_000 }));
    });
    await until('every sidecar to get its first snapshot', () => sims.every((s) => s.version !== ''), 180_000);
    console.log(`connect: ${SIDECARS} sidecars over ${REPLICAS} replica(s) authenticated (TokenReview) and synced in ${((performance.now() - t) / 1000).toFixed(2)} s`);

    const readStatus = async (): Promise<{ selected: number; synced: number; generation: number; observed: number }> => {
      const o = await custom.getNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies', name: 'fanout' }) as { metadata?: { generation?: number }; status?: { observedGeneration?: number; pods?: { selected?: number; synced?: number } } };
      return { selected: o.status?.pods?.selected ?? 0, synced: o.status?.pods?.synced ?? 0, generation: o.metadata?.generation ?? 0, observed: o.status?.observedGeneration ?? -1 };
    };
    /** ms from `start` until status.pods.synced counts every sidecar at the current generation. */
    const statusSynced = async (start: number, timeoutMs: number): Promise<number> => {
      await until(`AgentPolicy status pods.synced = ${SIDECARS}`, async () => {
        const s = await readStatus();
        return s.synced === SIDECARS && s.selected === SIDECARS && s.observed === s.generation;
      }, timeoutMs, 100);
      return performance.now() - start;
    };

    let editNo = 0;
    const edit = async (): Promise<{ p50: number; p99: number; max: number; start: number }> => {
      const targets = sims;
      const before = new Set(targets.map((s) => s.version));
      const start = performance.now();
      // A JSON patch of the spec: no resourceVersion race with the controller's status writes.
      await custom.patchNamespacedCustomObject({ group: 'agentwarden.io', version: 'v1alpha1', namespace: NS, plural: 'agentpolicies', name: 'fanout', body: [{ op: 'replace', path: '/spec/rules/0/http/paths', value: [`/v1/edit-${editNo++}`] }] });
      await until(`edit ${editNo} to reach every sidecar`, () => targets.every((s) => !before.has(s.version)), 60_000);
      sample();
      const lat = targets.map((s) => (s.received.get(s.version) ?? start) - start).sort((a, b) => a - b);
      return { p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: lat[lat.length - 1] ?? 0, start };
    };

    const perEdit: { p50: number; p99: number; max: number }[] = [];
    let statusMs = 0;
    phase = 'edits';
    const cpuBefore = replicas.map((r) => cpuSeconds(r.pid));
    for (let e = 0; e < EDITS; e++) {
      const r = await edit();
      perEdit.push(r);
      if (e === 0) statusMs = await statusSynced(r.start, 60_000);
    }
    console.log(`\npropagation of one AgentPolicy edit (API write -> snapshot at the sidecar) to ${SIDECARS} sidecars over ${REPLICAS} replica(s), ${EDITS} edits`);
    console.log('edit   p50 ms   p99 ms   max ms');
    perEdit.forEach((r, i) => console.log(`${String(i + 1).padStart(4)}   ${r.p50.toFixed(0).padStart(6)}   ${r.p99.toFixed(0).padStart(6)}   ${r.max.toFixed(0).padStart(6)}`));
    const p99s = perEdit.map((r) => r.p99).sort((a, b) => a - b);
    const worst = Math.max(...perEdit.map((r) => r.max));
    const cpuEdits = replicas.map((r, i) => cpuSeconds(r.pid) - (cpuBefore[i] ?? 0));
    const status = await readStatus();
    console.log(`AgentPolicy status after edit 1: pods.synced = ${SIDECARS} of ${status.selected} selected ${(statusMs / 1000).toFixed(2)} s after the edit${REPLICAS > 1 ? ' (the leader counts every replica\'s report Lease)' : ''}`);
    const heap: number[] = [];
    for (const r of replicas) {
      const metrics = await (await fetch(`http://127.0.0.1:${BASE_PORT + 2 * r.index + 1}/metrics`)).text();
      heap.push(Number(/nodejs_heap_used_bytes (\d+)/.exec(metrics)?.[1] ?? 0) / 1024 / 1024);
    }
    const perReplica = SIDECARS / REPLICAS;
    const leaderLease = REPLICAS > 1 ? await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'agentwarden-controller', namespace: NS }).catch(() => undefined) : undefined;
    console.log(`\ncontroller replica   streams   RSS idle MB   RSS peak MB   (connect storm / edits)   heap MB (after the edits)   CPU s (the edits)`);
    for (const r of replicas) {
      const streams = sims.filter((s) => s.replica === r.index).length;
      const phases = `${(r.peakBy.get('connect') ?? 0).toFixed(0)} / ${(r.peakBy.get('edits') ?? 0).toFixed(0)}`;
      console.log(`${r.identity.padEnd(19)}   ${String(streams).padStart(7)}   ${(rssIdle[r.index] ?? 0).toFixed(0).padStart(11)}   ${r.peakRss.toFixed(0).padStart(11)}   ${phases.padStart(23)}   ${(heap[r.index] ?? 0).toFixed(0).padStart(7)}   ${(cpuEdits[r.index] ?? 0).toFixed(2).padStart(9)}${leaderLease?.spec?.holderIdentity === r.identity ? '   (leader)' : ''}`);
    }
    const peakRss = Math.max(...replicas.map((r) => r.peakRss));
    console.log(`bench: controller propagation_${SIDECARS}_sidecars_${REPLICAS}_replicas p99_ms=${pct(p99s, 0.5).toFixed(0)} worst_p99_ms=${(p99s[p99s.length - 1] ?? 0).toFixed(0)} all_acked_max_ms=${worst.toFixed(0)} status_synced_ms=${statusMs.toFixed(0)}`);
    console.log(`bench: controller rss_mb_idle=${Math.max(...rssIdle).toFixed(0)} rss_mb_peak_max_replica_${SIDECARS}_pods_about_${perReplica.toFixed(0)}_streams_each=${peakRss.toFixed(0)} heap_mb_max=${Math.max(...heap).toFixed(0)} cpu_s_edits_max_replica=${Math.max(...cpuEdits).toFixed(2)}`);
    // BENCH_HEAP_SNAPSHOT=1: every replica writes a heap snapshot into the working directory here.
    if (process.env['BENCH_HEAP_SNAPSHOT'] === '1') {
      for (const r of replicas) r.process.kill('SIGUSR2');
      await new Promise((res) => setTimeout(res, 30_000));
    }

    if (REPLICAS > 1) {
      // One replica lost: SIGKILL, no goodbye (its report Lease expires instead of being deleted).
      const victim = replicas[0];
      if (victim === undefined) throw new Error('no replica to kill');
      const moved = sims.filter((s) => s.replica === victim.index);
      // Streams that broke during the connect storm (a TokenReview failed or not answered in time under load) start afresh here.
      for (const s of moved) {
        s.brokeAtMs = 0;
        s.reconnectedAtMs = 0;
        s.versionAtBreak = '';
        s.versionAfterReconnect = '';
      }
      const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'agentwarden-controller', namespace: NS }).catch(() => undefined);
      const led = lease?.spec?.holderIdentity === victim.identity;
      const killedAt = performance.now();
      phase = 'failover';
      victim.process.kill('SIGKILL');
      await until(`the ${moved.length} sidecars of ${victim.identity} to be served by another replica`, () => moved.every((s) => s.reconnectedAtMs !== 0), 60_000);
      const reconnect = moved.map((s) => s.reconnectedAtMs - killedAt).sort((a, b) => a - b);
      const gaps = moved.filter((s) => s.gap || s.versionAtBreak === '' || s.version === '').length;
      const sameVersion = moved.filter((s) => s.versionAfterReconnect === s.versionAtBreak).length;
      console.log(`\n${victim.identity} (${led ? 'the leader: another takes the Lease within its 15 s' : `not the leader; ${lease?.spec?.holderIdentity ?? 'none'} leads`}) killed (SIGKILL) with ${moved.length} streams: all reconnected to the ${REPLICAS - 1} others; reconnect after the kill p50 ${pct(reconnect, 0.5).toFixed(0)} ms, p99 ${pct(reconnect, 0.99).toFixed(0)} ms, max ${(reconnect[reconnect.length - 1] ?? 0).toFixed(0)} ms (sidecar backoff 250 ms ±20%)`);
      console.log(`enforcement while reconnecting: ${moved.length - gaps} of ${moved.length} held a snapshot when their stream broke and kept it applied until the new replica's push (the sidecar client's rule: the last good snapshot stays while reconnecting); ${sameVersion} got back the very version they enforced (content-addressed snapshots are equal across replicas)`);
      const after = await edit();
      console.log(`edit after the kill: ${SIDECARS} sidecars on ${REPLICAS - 1} replicas acked in p50 ${after.p50.toFixed(0)} ms, p99 ${after.p99.toFixed(0)} ms, max ${after.max.toFixed(0)} ms`);
      // The killed replica's report is ignored once expired (15 s); if it led, another takes the lease first.
      const failoverStatusMs = await statusSynced(after.start, 90_000);
      console.log(`AgentPolicy status after the kill: pods.synced = ${SIDECARS} ${(failoverStatusMs / 1000).toFixed(2)} s after that edit`);
      console.log(`bench: controller failover_${moved.length}_streams reconnect_p99_ms=${pct(reconnect, 0.99).toFixed(0)} reconnect_max_ms=${(reconnect[reconnect.length - 1] ?? 0).toFixed(0)} lost_enforcement=${gaps} next_edit_p99_ms=${after.p99.toFixed(0)} status_synced_ms=${failoverStatusMs.toFixed(0)}`);
    }
    stopping = true;
    for (const s of sims) s.call?.cancel();
  } catch (e: unknown) {
    console.error(`propagation benchmark failed: ${e instanceof Error ? e.message : String(e)}\n${logs()}`);
    process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    for (const r of replicas) {
      for (const c of r.clients) c.close();
      if (r.alive) r.process.kill('SIGTERM');
    }
    // The pods go (unscheduled, they go at once), so that the next run's controllers do not cache them; namespaces never finish terminating here.
    await core.deleteCollectionNamespacedPod({ namespace: NS }).catch((e: unknown) => { console.error(`cannot delete the bench's pods in ${NS}: ${e instanceof Error ? e.message : String(e)}`); });
  }
}

await main();
