// The controller against the real API server: policies reach the sidecar of
// the pods they select over an authenticated stream, edits propagate (timed),
// status reports it, a sidecar claiming another pod gets nothing, and neither
// a controller restart nor an API server restart loses an update.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { PKI, boundToken, controllerOn, createPod, freePort, percentile, policyManifest, sidecarFor, type ControlledSidecar } from './controller-env.js';
import type { RunningController } from '../../controller/src/main.js';

const ns = uniqueNamespace('ctl');
let port = 0;
let controller: RunningController | undefined;
let sidecar: ControlledSidecar | undefined;
const others: ControlledSidecar[] = [];
let podUid = '';

beforeAll(async () => {
  await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentpolicy.yaml')]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io']);
  await kubectlOk(['create', 'namespace', ns]);
  await kubectlOk(['create', 'serviceaccount', 'agent', '-n', ns]);
  podUid = await createPod(ns, 'agent-0', 'agent', { app: 'agent' });
  await createPod(ns, 'agent-1', 'agent', { app: 'agent' });
  await kubectlOk(['apply', '-f', '-'], policyManifest(ns, 'agent-policy', ['/v1/tickets/{id}']));
  port = await freePort();
  controller = await controllerOn(port, ns);
  sidecar = await sidecarFor(port, ns, 'agent-0', await boundToken(ns, 'agent', 'agent-0', podUid));
});

afterAll(async () => {
  for (const s of [sidecar, ...others]) await s?.stop();
  await controller?.stop();
});

function current(): ControlledSidecar {
  if (sidecar === undefined) throw new Error('sidecar not started');
  return sidecar;
}

async function enforced(path: string, allowed: boolean, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${path} to be ${allowed ? 'allowed' : 'denied'}`, async () => ((await current().decide({ url: `https://api.example.com${path}` })).allowed === allowed ? true : undefined), timeoutMs, 5);
}

describe('the controller distributes policies to the sidecars of the pods they select', () => {
  it('enforces an applied policy in the selected pod', async () => {
    await enforced('/v1/tickets/7', true);
    expect(await current().decide({ url: 'https://api.example.com/v1/admin' })).toEqual({ allowed: false, rule: 'default-deny' });
  });

  it('reports Compiled, Synced and Ready with the pods selected and synced in status', async () => {
    const status = await waitFor('status to show both pods selected and one synced', async () => {
      const out = await kubectlOk(['get', 'agentpolicy', '-n', ns, 'agent-policy', '-o', 'json']);
      const s = (JSON.parse(out) as { status?: { pods?: { selected: number; synced: number }; rules?: number; conditions?: { type: string; status: string; reason: string }[]; observedGeneration?: number } }).status;
      return s?.pods?.selected === 2 && s.pods.synced === 1 ? s : undefined;
    });
    expect(status.rules).toBe(1);
    expect(status.observedGeneration).toBe(1);
    const byType = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c]));
    expect(byType['Compiled']?.status).toBe('True');
    // agent-1 has no sidecar connected: not every selected pod is synced yet.
    expect(byType['Synced']).toMatchObject({ status: 'False', reason: 'PodsPending' });
    expect(byType['Ready']?.status).toBe('False');
  });

  it('enforces each edit; propagation from kubectl apply to enforcement over 50 edits', async () => {
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const path = `/v1/edit-${i}`;
      const started = performance.now();
      await kubectlOk(['apply', '-f', '-'], policyManifest(ns, 'agent-policy', ['/v1/tickets/{id}', path]));
      await enforced(path, true);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const p50 = percentile(times, 0.5);
    const p99 = percentile(times, 0.99);
    process.stdout.write(`bench: controller propagation_kubectl_apply_to_enforcement p50_ms=${p50.toFixed(0)} p99_ms=${p99.toFixed(0)} edits=50\n`);
    expect(times).toHaveLength(50);
    await enforced('/v1/edit-0', false);
  });

  it('gives a sidecar presenting pod A\'s token while claiming pod B nothing, and it stays denying', async () => {
    const impostor = await sidecarFor(port, ns, 'agent-1', await boundToken(ns, 'agent', 'agent-0', podUid));
    others.push(impostor);
    await waitFor('the controller to refuse the impostor', () => (controller !== undefined && controller.distribution.authFailures > 0 ? true : undefined));
    expect(await impostor.decide({ url: 'https://api.example.com/v1/tickets/7' })).toEqual({ allowed: false, rule: 'no-policy-loaded' });
    expect(controller?.distribution.connectedPods()).toEqual([`${ns}/agent-0`]);
  });

  it('serves the distribution stream over TLS, trusted through the CA given to the sidecar', async () => {
    const tlsPort = await freePort();
    // Without leader election: this second replica must serve sidecars next to the leader.
    const secure = await controllerOn(tlsPort, ns, 'controller-tls', true, false);
    try {
      const viaTls = await sidecarFor(tlsPort, ns, 'agent-0', await boundToken(ns, 'agent', 'agent-0', podUid), join(PKI, 'ca.crt'));
      others.push(viaTls);
      await waitFor('the snapshot over TLS', async () => ((await viaTls.decide({ url: 'https://api.example.com/v1/tickets/7' })).allowed ? true : undefined));
      // Without the CA the sidecar cannot reach a TLS controller: it stays denying.
      const untrusting = await sidecarFor(tlsPort, ns, 'agent-0', await boundToken(ns, 'agent', 'agent-0', podUid));
      others.push(untrusting);
      await waitFor('the plaintext attempt to fail', () => (untrusting.running.state.snapshot === undefined && secure.distribution.connectionCount() === 1 ? true : undefined));
      expect(await untrusting.decide({ url: 'https://api.example.com/v1/tickets/7' })).toEqual({ allowed: false, rule: 'no-policy-loaded' });
    } finally {
      await secure.stop();
    }
  });

  it('keeps enforcing while the controller is down and resyncs when it is back', async () => {
    await controller?.stop();
    controller = undefined;
    expect((await current().decide({ url: 'https://api.example.com/v1/tickets/7' })).allowed).toBe(true);
    await kubectlOk(['apply', '-f', '-'], policyManifest(ns, 'agent-policy', ['/v1/tickets/{id}', '/v1/while-away']));
    // Still the old snapshot: nobody could push the edit.
    expect((await current().decide({ url: 'https://api.example.com/v1/while-away' })).allowed).toBe(false);
    controller = await controllerOn(port, ns, 'controller-1');
    await enforced('/v1/while-away', true, 60_000);
  });

  it('elects one leader among two replicas, and the other takes over when it stops', async () => {
    const second = await controllerOn(await freePort(), ns, 'controller-2');
    try {
      const leading = async (c: RunningController): Promise<number> => Number(/agentwarden_leader (\d)/.exec(await (await fetch(`http://${c.metricsAddress}/metrics`)).text())?.[1] ?? -1);
      const first = controller;
      if (first === undefined) throw new Error('controller not running');
      await waitFor('exactly one leader', async () => ((await leading(first)) + (await leading(second)) === 1 ? true : undefined), 60_000, 200);
      const leader = (await leading(first)) === 1 ? first : second;
      const follower = leader === first ? second : first;
      await leader.stop();
      await waitFor('the other replica to lead', async () => ((await leading(follower)) === 1 ? true : undefined), 60_000, 200);
      // The sidecar's controller address must serve again for the suites that follow.
      if (leader === first) controller = await controllerOn(port, ns, 'controller-3');
    } finally {
      if (controller !== second) await second.stop().catch(() => undefined);
    }
  });

  it('loses no update across an API server restart', async () => {
    await restartApiServer();
    await kubectlOk(['apply', '-f', '-'], policyManifest(ns, 'agent-policy', ['/v1/tickets/{id}', '/v1/after-restart']));
    await enforced('/v1/after-restart', true, 90_000);
  });

  it('sends a rotated Secret to the sidecar without a restart, and never shows its value in status', async () => {
    await kubectlOk(['create', 'secret', 'generic', 'api-token', '-n', ns, '--from-literal=token=first-value']);
    await kubectlOk(['label', 'secret', 'api-token', '-n', ns, 'agentwarden.io/credential=true']);
    await kubectlOk(['apply', '-f', '-'], policyManifest(ns, 'agent-policy', ['/v1/tickets/{id}'], `      credential: api\n  credentials:\n    - {name: api, secretRef: {name: api-token, key: token}}\n`));
    const header = async (): Promise<string | undefined> => {
      const res = await current().client.check((await import('../../cli/src/request-shorthand.js')).checkRequestFrom({ url: 'https://api.example.com/v1/tickets/1' }));
      return res.httpResponse.case === 'okResponse' ? res.httpResponse.value.headers.find((h) => h.header?.key === 'authorization')?.header?.value : undefined;
    };
    await waitFor('the first credential', async () => ((await header()) === 'Bearer first-value' ? true : undefined));
    await kubectlOk(['create', 'secret', 'generic', 'api-token', '-n', ns, '--from-literal=token=second-value', '--dry-run=client', '-o', 'yaml']).then((y) => kubectlOk(['apply', '-f', '-'], y));
    await waitFor('the rotated credential', async () => ((await header()) === 'Bearer second-value' ? true : undefined));
    const status = await kubectlOk(['get', 'agentpolicy', '-n', ns, 'agent-policy', '-o', 'json']);
    expect(status).not.toContain('second-value');
    expect(status).not.toContain('first-value');
  });
});

function restartApiServer(): Promise<void> {
  return new Promise((resolve, reject) => {
    // Kill the API server hard (a crash; a graceful stop drains watches for ~30 s), then let up.sh (idempotent) start just the missing component.
    const script = `set -e; source e2e/cluster/env.sh; pid=$(e2e_running_pid kube-apiserver); kill -9 "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; e2e/cluster/up.sh >/dev/null`;
    execFile('bash', ['-c', script], { cwd: ROOT, timeout: 120_000 }, (err, _out, stderr) => (err === null ? resolve() : reject(new Error(`API server restart failed: ${stderr}`))));
  });
}
