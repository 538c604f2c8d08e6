// Starts the controller and sidecars in-process against the local control
// plane: a namespace with a ServiceAccount and Pods, projected-style bound
// tokens from the TokenRequest API, and a sidecar in controller mode.
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readControllerConfig } from '../../controller/src/config.js';
import { startController, type RunningController } from '../../controller/src/main.js';
import { readSidecarConfig } from '../../sidecar/src/config.js';
import { jsonLogger } from '../../sidecar/src/log.js';
import { startSidecar, type RunningSidecar } from '../../sidecar/src/main.js';
import { AuthzClient } from '../../sidecar/src/authz/client.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import { KUBECONFIG, ROOT, kubectlOk } from './cluster.js';
import { INJECTED_LABEL, INJECTED_LABEL_VALUE } from '../../controller/src/kube/objects.js';

export const logs: string[] = [];
const quiet = (level: string, msg: string, fields?: Record<string, unknown>): void => { logs.push(JSON.stringify({ level, msg, ...fields })); };

/** A free loopback port (so that a restarted controller comes back on the same address). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = addr !== null && typeof addr === 'object' ? addr.port : 0;
      s.close(() => { resolve(port); });
    });
    s.on('error', reject);
  });
}

export const PKI = join(ROOT, '.cache/e2e/pki');

export async function controllerOn(port: number, namespace: string, identity = 'controller-0', tls = false, leaderElect = true, extraFlags: readonly string[] = []): Promise<RunningController> {
  const tlsFlags = tls ? ['--tls-cert', join(PKI, 'webhook.crt'), '--tls-key', join(PKI, 'webhook.key')] : [];
  const config = readControllerConfig(['--kubeconfig', KUBECONFIG, '--distribution-listen', `127.0.0.1:${port}`, '--metrics-listen', '127.0.0.1:0', '--namespace', namespace, '--identity', identity, '--leader-elect', String(leaderElect), ...tlsFlags, ...extraFlags], {});
  return startController(config, quiet);
}

/** Creates a Pending pod (nothing schedules it here) labelled as the injector labels it, and returns its uid. */
export async function createPod(namespace: string, name: string, serviceAccount: string, labels: Record<string, string>): Promise<string> {
  const manifest = JSON.stringify({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace, labels: { ...labels, [INJECTED_LABEL]: INJECTED_LABEL_VALUE } },
    spec: { serviceAccountName: serviceAccount, containers: [{ name: 'agent', image: 'example.com/agent:1' }] },
  });
  await kubectlOk(['apply', '-f', '-'], manifest);
  return (await kubectlOk(['get', 'pod', '-n', namespace, name, '-o', 'jsonpath={.metadata.uid}'])).trim();
}

/** A token as the kubelet would project it: audience agentwarden, bound to the pod. */
export async function boundToken(namespace: string, serviceAccount: string, pod: string, uid: string): Promise<string> {
  const token = (await kubectlOk(['create', 'token', serviceAccount, '-n', namespace, '--audience', 'agentwarden', '--bound-object-kind', 'Pod', '--bound-object-name', pod, '--bound-object-uid', uid, '--duration', '1h'])).trim();
  const dir = mkdtempSync(join(tmpdir(), 'aw-token-'));
  const file = join(dir, 'token');
  writeFileSync(file, token);
  return file;
}

export interface ControlledSidecar {
  readonly running: RunningSidecar;
  readonly client: AuthzClient;
  /** allow | deny, and the rule, of a request. */
  decide(request: RequestShorthand): Promise<{ readonly allowed: boolean; readonly rule: string }>;
  stop(): Promise<void>;
}

/** `extraArgs` and `env` (default: no span export) go to the sidecar's configuration as they would on its command line. */
export async function sidecarFor(controllerPort: number, namespace: string, pod: string, tokenFile: string, caFile?: string, extraArgs: readonly string[] = [], env: Readonly<Record<string, string>> = { OTEL_TRACES_EXPORTER: 'none' }): Promise<ControlledSidecar> {
  const config = readSidecarConfig(['--controller', `127.0.0.1:${controllerPort}`, ...(caFile === undefined ? [] : ['--controller-ca', caFile]), '--token-file', tokenFile, '--pod-name', pod, '--namespace', namespace, '--listen', '127.0.0.1:0', '--allow-tcp-credentials', '--admin-listen', '127.0.0.1:0', ...extraArgs], env);
  const running = await startSidecar(config, jsonLogger('error', (l) => { logs.push(l); }));
  const client = new AuthzClient(running.authz.address);
  return {
    running,
    client,
    async decide(request) {
      const res = await client.check(checkRequestFrom(request));
      if (res.httpResponse.case === 'okResponse') {
        const rule = res.httpResponse.value.responseHeadersToAdd.find((h) => h.header?.key === 'x-agentwarden-rule')?.header?.value ?? '';
        return { allowed: true, rule: rule.split('/')[1] ?? '' };
      }
      const body = res.httpResponse.case === 'deniedResponse' ? (JSON.parse(res.httpResponse.value.body) as { rule?: string }) : {};
      return { allowed: false, rule: body.rule ?? '' };
    },
    async stop() {
      client.close();
      await running.stop();
    },
  };
}

export function policyManifest(namespace: string, name: string, paths: readonly string[], extra = ''): string {
  return `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  podSelector: {matchLabels: {app: agent}}
  rules:
    - name: read-api
      to: {hosts: [api.example.com]}
      http: {methods: [GET], paths: ${JSON.stringify(paths)}}
${extra}`;
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] ?? 0;
}
