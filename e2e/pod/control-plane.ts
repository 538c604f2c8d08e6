// The pod harness's side of the local control plane (`make cluster-up`): a
// tenant namespace enabled for injection with its ServiceAccount, Secrets,
// AgentPolicies and the Pod object; the controller serving the distribution
// stream over TLS on the test's veth address (and, when asked, the
// AgentAccessRequest webhooks the API server calls); and the pod's bound token.
import { createServer as createNetServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { readControllerConfig } from '../../controller/src/config.js';
import { startController, type RunningController } from '../../controller/src/main.js';
import { approvalWebhookFlags, installApprovalWebhooks } from '../test/approval-webhooks.js';
import { kubectlOk, KUBECONFIG } from '../test/cluster.js';
import { freePort } from '../test/controller-env.js';
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

/** The AgentPolicy, AgentAccessRequest and AgentBaseline CRDs, as `helm install` or `kubectl apply -f crds/` puts them in (once per process). */
async function ensureCrd(): Promise<void> {
  if (crdInstalled) return;
  for (const crd of ['agentpolicy.yaml', 'agentaccessrequest.yaml', 'agentbaseline.yaml']) await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', join(ROOT, 'crds', crd)]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io', 'crd/agentaccessrequests.agentwarden.io', 'crd/agentbaselines.agentwarden.io']);
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

export interface ControllerOnOptions {
  /**
   * Serve the AgentAccessRequest webhooks (status stamp, transitions, create/update check) on a
   * free loopback port and register them with the API server for the namespace `namespace` only,
   * under the configuration name `name`; stop() removes the registration. Without it the
   * controller serves no webhooks, and approving a request is not stamped.
   */
  readonly approvalWebhooks?: { readonly name: string; readonly namespace: string };
  /** More controller flags; `--webhook-listen` among them replaces the default (any port on loopback). */
  readonly extraArgs?: readonly string[];
}

/** The controller on `address` (the test side of the pod's veth) with `cert`, a certificate for that IP. */
export async function startControllerOn(address: string, port: number, cert: TestCaFiles, leaseNamespace: string, o: ControllerOnOptions = {}): Promise<RunningController> {
  const webhookPort = o.approvalWebhooks === undefined ? undefined : await freePort();
  // --controller-username stays the chart's ServiceAccount, not the admin kubeconfig's user this
  // controller runs as: the webhook refuses approval by the controller's user, and here a person
  // approves with that same kubeconfig. (Ending grants, Expired, is then refused; the sidecar ends
  // them on its own clock, and an approval grant after its one use.)
  const extraArgs = o.extraArgs ?? [];
  const webhooks = webhookPort !== undefined ? approvalWebhookFlags(webhookPort) : extraArgs.includes('--webhook-listen') ? [] : ['--webhook-listen', '127.0.0.1:0'];
  const config = readControllerConfig(['--kubeconfig', KUBECONFIG, '--distribution-listen', `${address}:${port}`, '--metrics-listen', '127.0.0.1:0', ...webhooks,
    '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--namespace', leaseNamespace, '--identity', `pod-harness-${address}`, '--leader-elect', 'false', ...extraArgs], {});
  const controller = await startController(config, quiet);
  if (o.approvalWebhooks === undefined || webhookPort === undefined) return controller;
  const { name, namespace } = o.approvalWebhooks;
  let remove: () => Promise<void>;
  try {
    remove = await installApprovalWebhooks(name, webhookPort, namespace, { 'kubernetes.io/metadata.name': namespace });
  } catch (e: unknown) {
    await controller.stop();
    throw e;
  }
  return { ...controller, async stop() { await remove(); await controller.stop(); } };
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
