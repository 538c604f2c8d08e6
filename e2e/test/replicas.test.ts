// Issue 20, "every replica serves sidecars": two controller processes with
// leader election against the local control plane, a real sidecar on each
// (real gRPC streams, bound tokens), each reaching the controllers through its
// own little "Service" (a TCP forwarder that picks the first live replica of
// its list, as kube-proxy does once a dead endpoint is gone). The leader's
// status counts both sidecars (the other replica's through its report Lease);
// the leader is SIGKILLed: its sidecar keeps enforcing its last snapshot,
// reconnects to the other replica, which takes over status writing, and both
// sidecars get the next edit. Each sidecar's operation summaries reach the
// AgentBaseline through the replica it is connected to.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { INJECTED_LABEL } from '../../controller/src/kube/objects.js';
import { REPORT_ANNOTATION, reportLeaseName } from '../../controller/src/replicas/index.js';
import type { SynczReport } from '../../common/syncz.js';
import { KUBECONFIG, ROOT, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { boundToken, createPod, freePort, policyManifest, sidecarFor, type ControlledSidecar } from './controller-env.js';

const ns = uniqueNamespace('replicas');
/** The policy learns (issue 17): the sidecars send operation summaries to the replica they are connected to. */
const ANOMALY = '    - {name: approve-posts, action: RequireApproval, to: {hosts: [api.example.com]}, http: {methods: [POST]}}\n  anomaly: {learnFor: 10m, novelOperation: Alert}\n';
const SIDECAR_FLAGS = ['--anomaly-summary-interval', '200ms'];
const children: ChildProcess[] = [];
const services: Server[] = [];
const sidecars: ControlledSidecar[] = [];

interface ReplicaProcess { readonly identity: string; readonly port: number; readonly metrics: number; readonly child: ChildProcess; stderr: string }

async function startReplica(identity: string): Promise<ReplicaProcess> {
  const port = await freePort();
  const metrics = await freePort();
  const child = spawn(join(ROOT, 'bin/agentwarden'), ['controller', '--kubeconfig', KUBECONFIG, '--distribution-listen', `127.0.0.1:${port}`, '--metrics-listen', `127.0.0.1:${metrics}`,
    '--namespace', ns, '--identity', identity, '--leader-elect', 'true', '--baseline-write-interval', '300ms'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AGENTWARDEN_LOG_LEVEL: 'warn' } });
  children.push(child);
  const r: ReplicaProcess = { identity, port, metrics, child, stderr: '' };
  child.stderr?.on('data', (b: Buffer) => { r.stderr = (r.stderr + b.toString()).slice(-20_000); });
  await waitFor(`${identity} ready`, async () => {
    const res = await fetch(`http://127.0.0.1:${metrics}/readyz`).catch(() => undefined);
    return res?.ok === true ? true : undefined;
  }, 60_000, 100);
  return r;
}

/** A loopback "Service": each connection goes to the first of `ports` that accepts it. */
async function service(ports: readonly number[]): Promise<number> {
  const server = createServer((client: Socket) => {
    client.pause();
    const attempt = (i: number): void => {
      const port = ports[i];
      if (port === undefined) { client.destroy(); return; }
      const upstream = connect(port, '127.0.0.1');
      upstream.once('error', () => { upstream.destroy(); attempt(i + 1); });
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        client.pipe(upstream).pipe(client);
        client.resume();
        const end = (): void => { client.destroy(); upstream.destroy(); };
        upstream.on('error', end);
        upstream.on('close', end);
        client.on('error', end);
        client.on('close', end);
      });
    };
    attempt(0);
  });
  services.push(server);
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const addr = server.address();
  return addr !== null && typeof addr === 'object' ? addr.port : 0;
}

async function policyStatus(): Promise<{ generation: number; observed: number; selected: number; synced: number }> {
  const o = JSON.parse(await kubectlOk(['get', 'agentpolicy', 'fanout', '-n', ns, '-o', 'json'])) as { metadata: { generation: number }; status?: { observedGeneration?: number; pods?: { selected?: number; synced?: number } } };
  return { generation: o.metadata.generation, observed: o.status?.observedGeneration ?? -1, selected: o.status?.pods?.selected ?? 0, synced: o.status?.pods?.synced ?? 0 };
}

async function leaseHolder(): Promise<string> {
  return (await kubectlOk(['get', 'lease', 'agentwarden-controller', '-n', ns, '-o', 'jsonpath={.spec.holderIdentity}'])).trim();
}

async function syncz(r: ReplicaProcess): Promise<SynczReport> {
  return (await (await fetch(`http://127.0.0.1:${r.metrics}/debug/syncz`)).json()) as SynczReport;
}

afterAll(async () => {
  for (const s of sidecars) await s.stop().catch(() => undefined);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  for (const s of services) s.close();
  await kubectlOk(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

describe('two controller replicas, each serving its own sidecars', () => {
  it('counts both replicas\' sidecars in status, and survives losing the leader without an enforcement gap', async () => {
    for (const crd of ['agentpolicy', 'agentbaseline', 'agentaccessrequest']) await kubectlOk(['apply', '-f', join(ROOT, `crds/${crd}.yaml`)]);
    await kubectlOk(['create', 'namespace', ns]);
    await kubectlOk(['create', 'serviceaccount', 'agent', '-n', ns]);
    const labels = { app: 'agent', [INJECTED_LABEL]: 'true' };
    const tokens: string[] = [];
    for (const pod of ['agent-a', 'agent-b']) tokens.push(await boundToken(ns, 'agent', pod, await createPod(ns, pod, 'agent', labels)));
    await kubectlOk(['apply', '-f', '-'], policyManifest(ns, 'fanout', ['/v1/start', '/v1/b'], ANOMALY));

    // a leads (started first); b serves too.
    const a = await startReplica('e2e-replica-a');
    await waitFor('replica a to lead', async () => ((await leaseHolder()) === a.identity ? true : undefined), 30_000, 100);
    const b = await startReplica('e2e-replica-b');
    // Sidecar 1 reaches a (b when a is gone), sidecar 2 reaches b.
    sidecars.push(await sidecarFor(await service([a.port, b.port]), ns, 'agent-a', tokens[0] ?? '', undefined, SIDECAR_FLAGS));
    sidecars.push(await sidecarFor(await service([b.port, a.port]), ns, 'agent-b', tokens[1] ?? '', undefined, SIDECAR_FLAGS));
    const [one, two] = sidecars;
    if (one === undefined || two === undefined) throw new Error('sidecars not started');
    for (const s of sidecars) await waitFor('the first snapshot', async () => ((await s.decide({ url: 'https://api.example.com/v1/start' })).allowed ? true : undefined), 30_000, 100);

    // Each replica serves one stream; the leader's status counts both (b's through its report Lease).
    await waitFor('status pods.synced = 2', async () => {
      const s = await policyStatus();
      return s.synced === 2 && s.selected === 2 && s.observed === s.generation ? s : undefined;
    }, 30_000, 200);
    const report = await kubectlOk(['get', 'lease', reportLeaseName(b.identity), '-n', ns, '-o', `jsonpath={.metadata.annotations.${REPORT_ANNOTATION.replace(/\./g, '\\.')}}`]);
    expect(report.length).toBeGreaterThan(0);
    const fromA = await syncz(a);
    expect(fromA.controller).toEqual({ identity: a.identity, leader: true });
    expect(fromA.pods.map((p) => [p.pod, p.state, p.replica ?? a.identity])).toEqual([['agent-a', 'SYNCED', a.identity], ['agent-b', 'SYNCED', b.identity]]);
    // Sidecar 2's operations reach the AgentBaseline through b (not the leader) as sidecar 1's through a.
    expect((await two.decide({ url: 'https://api.example.com/v1/b' })).allowed).toBe(true);
    const learned = await waitFor('the AgentBaseline with the operations of both sidecars', async () => {
      const o = JSON.parse(await kubectlOk(['get', 'agentbaseline', 'agent', '-n', ns, '-o', 'json'])) as { status?: { operations?: { operation: string }[] } };
      const ops = (o.status?.operations ?? []).map((x) => x.operation).sort();
      return ops.length >= 2 ? ops : undefined;
    }, 30_000, 200);
    expect(learned).toEqual(['GET api.example.com/v1/b', 'GET api.example.com/v1/start']);
    // A RequireApproval deny at sidecar 2: b (not the leader) creates the AgentAccessRequest, once.
    expect(await two.decide({ method: 'POST', url: 'https://api.example.com/v1/refunds' })).toEqual({ allowed: false, rule: 'approve-posts' });
    const requests = await waitFor('the AgentAccessRequest of agent-b', async () => {
      const l = JSON.parse(await kubectlOk(['get', 'agentaccessrequests', '-n', ns, '-l', 'agentwarden.io/pod=agent-b', '-o', 'json'])) as { items: { spec: { pod: string; operation: { method: string; path: string } } }[] };
      return l.items.length > 0 ? l.items : undefined;
    }, 30_000, 200);
    expect(requests.map((r) => [r.spec.pod, r.spec.operation.method, r.spec.operation.path])).toEqual([['agent-b', 'POST', '/v1/refunds']]);

    // The leader is lost without a goodbye.
    a.child.kill('SIGKILL');
    await new Promise<void>((resolve) => { a.child.once('exit', () => { resolve(); }); });
    // Sidecar 1 keeps enforcing its last snapshot while it reconnects.
    expect(await one.decide({ url: 'https://api.example.com/v1/start' })).toMatchObject({ allowed: true });
    expect(await one.decide({ url: 'https://api.example.com/v1/other' })).toMatchObject({ allowed: false });
    await waitFor('sidecar 1 to reconnect to replica b', async () => ((await syncz(b)).pods.some((p) => p.pod === 'agent-a' && p.replica === undefined && p.state === 'SYNCED') ? true : undefined), 60_000, 100);
    await waitFor('replica b to take the lead', async () => ((await leaseHolder()) === b.identity ? true : undefined), 60_000, 200);

    // The next edit reaches both sidecars through b, and b writes status for both.
    await kubectlOk(['apply', '-f', '-'], policyManifest(ns, 'fanout', ['/v1/next'], ANOMALY));
    for (const s of sidecars) await waitFor('the edit at the sidecar', async () => ((await s.decide({ url: 'https://api.example.com/v1/next' })).allowed ? true : undefined), 30_000, 100);
    const after = await waitFor('status pods.synced = 2 at the new generation', async () => {
      const s = await policyStatus();
      return s.synced === 2 && s.selected === 2 && s.observed === s.generation ? s : undefined;
    }, 60_000, 200);
    expect(after.observed).toBeGreaterThan(1);
    expect(b.child.exitCode).toBeNull();
  }, 240_000);
});
