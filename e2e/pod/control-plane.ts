// The pod harness's side of the local control plane (`make cluster-up`): a
// tenant namespace enabled for injection with its ServiceAccount, Secrets,
// AgentPolicies and the Pod object; the controller serving the distribution
// stream over TLS on the test's veth address; and the pod's bound token.
import { createServer as createNetServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { readControllerConfig } from '../../controller/src/config.js';
import { startController, type RunningController } from '../../controller/src/main.js';
import { kubectlOk, KUBECONFIG } from '../test/cluster.js';
import type { TestCaFiles } from './upstreams/test-ca.js';
import { publicFile, ROOT } from './pod.js';

export const SERVICE_ACCOUNT = 'agent';

export interface Tenant {
  readonly namespace: string;
  /** Applies YAML (policies, secrets) in the tenant's namespace. */
  apply(yaml: string): Promise<void>;
  /** Creates the Pod object (as the API server stores it) and returns a bound token file for it, readable by the proxy UID. */
  createPod(pod: V1Pod, dir: string): Promise<{ uid: string; tokenFile: string }>;
}

let crdInstalled = false;

/** The AgentPolicy CRD, as `helm install` or `kubectl apply -f crds/` puts it in (once per process). */
async function ensureCrd(): Promise<void> {
  if (crdInstalled) return;
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', join(ROOT, 'crds/agentpolicy.yaml')]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io']);
  crdInstalled = true;
}

export async function createTenant(namespace: string): Promise<Tenant> {
  await ensureCrd();
  await kubectlOk(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${namespace}, labels: {agentwarden.io/inject: enabled}}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${SERVICE_ACCOUNT}, namespace: ${namespace}}\n`);
  return {
    namespace,
    async apply(yaml) { await kubectlOk(['apply', '-n', namespace, '-f', '-'], yaml); },
    async createPod(pod, dir) {
      const name = pod.metadata?.name ?? '';
      await kubectlOk(['apply', '-n', namespace, '-f', '-'], JSON.stringify({ ...pod, metadata: { ...pod.metadata, namespace } }));
      const uid = (await kubectlOk(['get', 'pod', '-n', namespace, name, '-o', 'jsonpath={.metadata.uid}'])).trim();
      const token = (await kubectlOk(['create', 'token', SERVICE_ACCOUNT, '-n', namespace, '--audience', 'agentwarden', '--bound-object-kind', 'Pod', '--bound-object-name', name, '--bound-object-uid', uid, '--duration', '1h'])).trim();
      return { uid, tokenFile: publicFile(dir, `${name}.token`, token) };
    },
  };
}

const quiet = (): void => undefined;

/**
 * The controller on `address` (the test side of the pod's veth) with `cert`, a certificate for that IP.
 * `extraArgs` are more controller flags; `--webhook-listen` among them replaces the default (any port on loopback).
 */
export async function startControllerOn(address: string, port: number, cert: TestCaFiles, leaseNamespace: string, extraArgs: readonly string[] = []): Promise<RunningController> {
  const webhook = extraArgs.includes('--webhook-listen') ? [] : ['--webhook-listen', '127.0.0.1:0'];
  const config = readControllerConfig(['--kubeconfig', KUBECONFIG, '--distribution-listen', `${address}:${port}`, '--metrics-listen', '127.0.0.1:0', ...webhook,
    '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--namespace', leaseNamespace, '--identity', `pod-harness-${address}`, '--leader-elect', 'false', ...extraArgs], {});
  return startController(config, quiet);
}

/** Forwards TCP from `listen` (host:port on the test side) to `target` (host:port), e.g. the pod's OTLP export to Jaeger on loopback. */
export function forwardTcp(listen: { host: string; port: number }, target: { host: string; port: number }): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createNetServer((down) => {
      const up = connect(target.port, target.host);
      down.pipe(up).pipe(down);
      const end = (): void => { down.destroy(); up.destroy(); };
      down.on('error', end);
      up.on('error', end);
    });
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => { resolve(server); });
  });
}
