// One injected pod in its own network namespace, with everything around it
// that a node and a cluster would give it: the pod's resolver (the test's DNS),
// real upstreams on the test side of the veth, the tenant's namespace, policies
// and Secrets in the local API server, the controller serving the pod over TLS,
// and the pod itself started from exactly what the injector produced.
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { injectPod, parseInjectOptions, INJECTED_LABEL, INJECTED_LABEL_VALUE, type InjectOptions } from '../../controller/src/inject/index.js';
import type { RunningController } from '../../controller/src/main.js';
import { createTenant, startControllerOn, type ControllerOnOptions, type Tenant } from './control-plane.js';
import { createPodNetwork, type PodNetwork } from './netns.js';
import { startPod, type RunningPod } from './pod.js';
import { makeTestCa } from './upstreams/test-ca.js';

export const CONTROLLER_PORT = 15012;

export interface ScenarioOptions {
  /** 1-250: the pod network 10.254.<slot>.0/24 (parallel scenarios need different slots). */
  readonly slot: number;
  readonly namespace: string;
  /** Pod annotations (agentwarden.io/capture, agentwarden.io/tls-origination). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Pod labels, what the tenant's policies select (default {app: agent}). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Injector options over the chart's defaults (controller address, CA and upstream CA are set here). */
  readonly inject?: Readonly<Record<string, unknown>>;
  /** Manifests of the tenant (Secrets, AgentPolicies), applied before the pod starts. */
  readonly manifests: string;
  /**
   * Starts the test side's servers on the network once it exists (DNS on
   * network.resolver:53, upstreams on network.hostIp(n)); returns their closers.
   */
  readonly servers: (network: PodNetwork, caDir: string) => Promise<readonly (() => Promise<void>)[]>;
  /** What the controller serves besides the distribution stream (the AgentAccessRequest webhooks). */
  readonly controller?: ControllerOnOptions;
}

export interface Scenario {
  readonly network: PodNetwork;
  readonly tenant: Tenant;
  readonly pod: RunningPod;
  readonly injected: V1Pod;
  readonly options: InjectOptions;
  readonly controller: RunningController;
  /** Starts another controller as the scenario's was started (after `controller.stop()`), stopped with the scenario. */
  restartController(): Promise<RunningController>;
  /** Where the test CA lives (Envoy's upstreamCaFile is its ca.crt). */
  readonly caDir: string;
  stop(): Promise<void>;
}

export const POD_NAME = 'agent-0';

export async function startScenario(o: ScenarioOptions): Promise<Scenario> {
  const dir = mkdtempSync(join(tmpdir(), 'aw-scenario-'));
  chmodSync(dir, 0o755);
  const caDir = join(dir, 'pki');
  const closers: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const network = await createPodNetwork(o.slot);
    closers.push(() => network.remove());
    // The test CA signs the controller's certificate (for its veth IP) and the HTTPS upstreams'.
    const controllerCert = await makeTestCa(caDir, [network.hostIp(1)]);
    // The CA as the pod's processes (the proxy UID) read it: Envoy's upstreamCaFile and the controller's CA.
    const caFile = join(dir, 'ca.crt');
    copyFileSync(controllerCert.caFile, caFile);
    chmodSync(caFile, 0o644);
    for (const close of await o.servers(network, caDir)) closers.push(close);
    const tenant = await createTenant(o.namespace);
    await tenant.apply(o.manifests);
    const startOne = async (): Promise<RunningController> => {
      const started = await startControllerOn(network.hostIp(1), CONTROLLER_PORT, controllerCert, o.namespace, o.controller);
      closers.push(() => started.stop());
      return started;
    };
    const controller = await startOne();
    const options = parseInjectOptions({
      controllerAddress: `${network.hostIp(1)}:${CONTROLLER_PORT}`,
      upstreamCaFile: caFile,
      sidecarEnv: [{ name: 'OTEL_TRACES_EXPORTER', value: 'none' }],
      ...o.inject,
    }, 'pod harness');
    const pod: V1Pod = {
      apiVersion: 'v1', kind: 'Pod',
      // Labelled as the injecting webhook labels it: the controller watches only pods so labelled.
      metadata: { name: POD_NAME, namespace: o.namespace, labels: { ...(o.labels ?? { app: 'agent' }), [INJECTED_LABEL]: INJECTED_LABEL_VALUE }, annotations: { ...o.annotations } },
      spec: { serviceAccountName: 'agent', containers: [{ name: 'agent', image: 'example.com/agent:1' }] },
    };
    const injected = injectPod(pod, options);
    const { tokenFile } = await tenant.createPod(pod, dir);
    const running = await startPod(network, injected, { token: tokenFile, controllerCa: caFile }, options.proxyUid);
    closers.push(() => running.stop());
    return { network, tenant, pod: running, injected, options, controller, restartController: startOne, caDir, stop };
  } catch (e: unknown) {
    await stop();
    throw e;
  }
}
