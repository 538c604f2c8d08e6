// `agentwarden status` against a real controller with a real sidecar connected
// (the pod harness: Envoy and the sidecar in their own network namespace, the
// controller serving the pod over TLS on the local API server): the version
// the sidecar itself reports on /readyz is the version status shows, SYNCED;
// a policy edit moves it; and the same table comes through the API server's
// service proxy with the kubeconfig (a Service and Endpoints naming the
// controller's metrics port on the test side of the pod's veth), as in a
// cluster. Netns slot 34.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { KUBECONFIG, kubectlOk, uniqueNamespace, waitFor } from '../../test/cluster.js';
import { POD_NAME, startScenario, type Scenario } from '../scenario.js';
import { ROOT } from '../pod.js';
import { AGENT_POLICY_HEAD } from '../manifests.js';
import type { SynczReport } from '../../../common/syncz.js';

const SLOT = 34;
const HOST = `10.254.${SLOT}.1`;
const ns = uniqueNamespace('pod-status');
const controllerNs = `${ns}-controller`;
const BIN = join(ROOT, 'bin/agentwarden');

const policy = (paths: string): string => `${AGENT_POLICY_HEAD}    - name: read-tickets
      to: {hosts: [api.example.com]}
      http: {methods: [GET], paths: [${paths}]}
`;

let s: Scenario;
let metricsPort = 0;

function agentwarden(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 30_000, env: { ...process.env, KUBECONFIG: '/nonexistent' } }, (e, out, err) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, out, err });
    });
  });
}

/** The snapshot version the sidecar itself holds ("ready: snapshot sha256:…" on its /readyz). */
async function sidecarVersion(): Promise<string | undefined> {
  const text = await fetch(`http://${s.network.podIp}:15021/readyz`).then((r) => r.text(), () => '');
  return /^ready: snapshot (\S+)/.exec(text)?.[1];
}

async function report(): Promise<SynczReport> {
  return (await fetch(`http://${HOST}:${metricsPort}/debug/syncz`)).json() as Promise<SynczReport>;
}

beforeAll(async () => {
  s = await startScenario({
    slot: SLOT,
    namespace: ns,
    manifests: policy('"/tickets/*"'),
    // The metrics port on the veth's test side: an address the API server's proxy may reach (not loopback).
    controller: { extraArgs: ['--metrics-listen', `${HOST}:0`] },
    servers: () => Promise.resolve([]),
  });
  expect(s.network.hostIp(1)).toBe(HOST);
  metricsPort = Number(s.controller.metricsAddress.split(':').at(-1));
  await waitFor('the pod SYNCED', async () => ((await report()).pods.find((p) => p.pod === POD_NAME)?.state === 'SYNCED' ? true : undefined), 30_000, 100);
}, 180_000);

afterAll(async () => {
  await s?.stop();
  await kubectlOk(['delete', 'namespace', ns, controllerNs, '--wait=false', '--ignore-not-found']).catch(() => undefined);
}, 60_000);

describe('agentwarden status', () => {
  it('shows the pod SYNCED on the very version its sidecar reports, from the controller (--controller-url)', async () => {
    const version = await sidecarVersion();
    expect(version).toMatch(/^sha256:[0-9a-f]{64}$/);
    const r = await agentwarden('status', '--controller-url', `http://${HOST}:${metricsPort}`, '-n', ns);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    const [header, row, ...rest] = r.out.trimEnd().split('\n');
    expect(header).toMatch(/^NAMESPACE +POD +STATE +VERSION +DESIRED +AGE +STREAMS +ERROR$/);
    expect(rest).toEqual([]);
    const short = (version ?? '').replace('sha256:', '').slice(0, 12);
    expect(row?.split(/ {3,}/)).toEqual([ns, POD_NAME, 'SYNCED', short, short, expect.stringMatching(/^\d+s$/), '1']);

    const json = await agentwarden('status', '--controller-url', `http://${HOST}:${metricsPort}`, '-n', ns, '-o', 'json');
    const parsed = JSON.parse(json.out) as SynczReport;
    expect(parsed.pods).toEqual([expect.objectContaining({ namespace: ns, pod: POD_NAME, state: 'SYNCED', acked: version, desired: version, sent: version, nackError: null, streams: 1 })]);
  });

  it('follows a policy edit: the pod moves to the new version once its sidecar ACKs it', async () => {
    const before = await sidecarVersion();
    await s.tenant.apply(policy('"/tickets/*", "/users/*"'));
    const after = await waitFor('the sidecar on a new version', async () => {
      const v = await sidecarVersion();
      return v !== undefined && v !== before ? v : undefined;
    }, 30_000, 100);
    const synced = await waitFor('status on the new version', async () => {
      const r = await agentwarden('status', '--controller-url', `http://${HOST}:${metricsPort}`, '-n', ns, '-o', 'json');
      const pod = (JSON.parse(r.out) as SynczReport).pods[0];
      return pod?.acked === after && pod.state === 'SYNCED' ? pod : undefined;
    }, 30_000, 200);
    expect(synced.desired).toBe(after);
    expect(Date.parse(synced.lastChange)).toBeGreaterThan(Date.parse(synced.connectedAt));
  });

  it('reaches the controller through the API server\'s service proxy with the kubeconfig, as in a cluster', async () => {
    // The controller's namespace as the chart makes it: the metrics Service, and behind it the
    // controller's Pod (the API server proxies only to an endpoint whose Pod has that IP). No
    // kubelet here: the Pod object stands for the controller this test runs on the veth.
    await kubectlOk(['apply', '-f', '-'], `apiVersion: v1
kind: Namespace
metadata: {name: ${controllerNs}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: ${controllerNs}}
---
apiVersion: v1
kind: Pod
metadata: {name: agentwarden-controller-0, namespace: ${controllerNs}, labels: {app.kubernetes.io/component: controller}}
spec:
  automountServiceAccountToken: false
  containers: [{name: controller, image: agentwarden:e2e}]
---
apiVersion: v1
kind: Service
metadata: {name: agentwarden-controller-metrics, namespace: ${controllerNs}}
spec:
  ports: [{name: http-metrics, port: 8080, targetPort: ${metricsPort}, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: agentwarden-controller-metrics-1, namespace: ${controllerNs}, labels: {kubernetes.io/service-name: agentwarden-controller-metrics}}
addressType: IPv4
endpoints: [{addresses: [${HOST}], conditions: {ready: true}, targetRef: {kind: Pod, namespace: ${controllerNs}, name: agentwarden-controller-0}}]
ports: [{name: http-metrics, port: ${metricsPort}, protocol: TCP}]
`);
    await kubectlOk(['patch', 'pod', '-n', controllerNs, 'agentwarden-controller-0', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { podIP: HOST, podIPs: [{ ip: HOST }] } })]);
    const version = await sidecarVersion();
    const r = await agentwarden('status', '--kubeconfig', KUBECONFIG, '--controller-namespace', controllerNs, '-n', ns);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    expect(r.out).toMatch(new RegExp(`^${ns} +${POD_NAME} +SYNCED +${(version ?? '').replace('sha256:', '').slice(0, 12)} `, 'm'));
  });

  it('exits 1 with the API server\'s answer and the URL when the Service has no controller behind it', async () => {
    const r = await agentwarden('status', '--kubeconfig', KUBECONFIG, '--controller-namespace', controllerNs, '--controller-service', 'no-such-service');
    expect(r.code).toBe(1);
    expect(r.err).toContain('agentwarden status: ');
    expect(r.err).toContain(`/api/v1/namespaces/${controllerNs}/services/no-such-service:http-metrics/proxy/debug/syncz`);
    expect(r.err).toContain('HTTP 503: no endpoints available for service "no-such-service"');
  });
});
