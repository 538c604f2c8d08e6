// The Helm chart (helm/agentwarden) against the real API server. The chart is
// installed with the dev values by e2e/dev/up.sh, which also runs the
// controller as a local process authenticated with the chart's ServiceAccount
// token, so that every list, watch, status write, lease and TokenReview goes
// through the chart's RBAC. The webhooks are registered by URL and scoped to
// this run's namespaces (webhook.scopeLabels), because other suites share the
// cluster; a unique release and namespace per run, since deleted namespaces
// never finish terminating here.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { BIN, KUBECONFIG, ROOT, kubectl, kubectlOk, tempFile, uniqueNamespace, waitFor, type Run } from './cluster.js';
import { freePort } from './controller-env.js';
import { INJECTED_ANNOTATION, parseInjectOptions } from '../../controller/src/inject/index.js';
import { readControllerConfig } from '../../controller/src/config.js';
import { startController } from '../../controller/src/main.js';

const CHART = join(ROOT, 'helm/agentwarden');
const DEV_VALUES = join(ROOT, 'e2e/dev/values-dev.yaml');
const PKI = join(dirname(KUBECONFIG), 'pki');
const release = uniqueNamespace('awh');
const SCOPE = 'agentwarden-e2e/helm';
const fullname = `${release}-agentwarden`;
const serviceAccount = `${fullname}-controller`;
const stateDir = mkdtempSync(join(tmpdir(), 'aw-helm-'));
const controllerKubeconfig = join(stateDir, 'controller.kubeconfig');
const ports = { webhook: 0, distribution: 0, metrics: 0 };
const CA_ROOT = 'agentwarden-ca-root';
// Every install in this suite: scoped to this run's namespaces, labelled for cleanup, and
// with values that differ from the defaults so that the test sees them arrive.
const installArgs = [
  '--set-string', `webhook.scopeLabels.${SCOPE}=${release}`,
  '--set-string', `commonLabels.${SCOPE}=${release}`,
  '--set', 'image.tag=0.1.0-e2e',
  '--set', 'inject.envoy.maxRequestBytes=2097152',
  '--set', 'inject.sidecar.logLevel=debug',
  // Cluster-scoped: one name per release, since earlier runs' releases stay installed.
  '--set', `approvals.approverClusterRole=${release}-approver`,
];

function run(file: string, args: readonly string[], env: Record<string, string> = {}, timeout = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, maxBuffer: 16 << 20, timeout }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

function helm(args: readonly string[]): Promise<Run> {
  return run(join(BIN, 'helm'), ['--kubeconfig', KUBECONFIG, ...args]);
}

function devEnv(): Record<string, string> {
  return {
    E2E_BIN_DIR: BIN, E2E_STATE_DIR: dirname(KUBECONFIG), E2E_KUBECONFIG: KUBECONFIG,
    DEV_RELEASE: release, DEV_NAMESPACE: release, DEV_STATE_DIR: stateDir,
    DEV_WEBHOOK_PORT: String(ports.webhook), DEV_DISTRIBUTION_PORT: String(ports.distribution), DEV_METRICS_PORT: String(ports.metrics),
  };
}

/** kubectl as whoever the kubeconfig names (not the admin). */
function kubectlAs(kubeconfig: string, args: readonly string[]): Promise<Run> {
  return run(join(BIN, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], {}, 60_000);
}

/** A kubeconfig with the API server's CA and a token of the ServiceAccount. */
async function tokenKubeconfig(namespace: string, name: string): Promise<string> {
  const token = (await kubectlOk(['create', 'token', name, '-n', namespace, '--duration', '1h'])).trim();
  const server = (await kubectlOk(['config', 'view', '--raw', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim();
  return tempFile('kubeconfig', JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': readFileSync(join(PKI, 'ca.crt')).toString('base64') } }],
    users: [{ name, user: { token } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user: name } }],
    'current-context': 'local',
  }));
}

async function scopedNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const ns = uniqueNamespace(prefix);
  await kubectlOk(['create', 'namespace', ns]);
  await kubectlOk(['label', 'namespace', ns, `${SCOPE}=${release}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  await kubectlOk(['create', 'serviceaccount', 'default', '-n', ns]);
  return ns;
}

function policy(namespace: string, name: string, when?: string): string {
  return `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  podSelector: {matchLabels: {app: agent}}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com]}
${when === undefined ? '' : `      when: ${JSON.stringify(when)}\n`}`;
}

function pod(namespace: string, name: string, labels: Record<string, string> = {}, spec: object = {}): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'agent', ...labels } },
    spec: { containers: [{ name: 'agent', image: 'registry.example/agent:1' }], ...spec },
  });
}

async function cleanUp(): Promise<void> {
  await run(join(ROOT, 'e2e/dev/down.sh'), [], devEnv());
  // Cluster-scoped leftovers of this run (the hook's RBAC is no part of the release).
  await kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration,clusterrole,clusterrolebinding', '-l', `${SCOPE}=${release}`, '--ignore-not-found']);
}

describe('the Helm chart', () => {
  it('is clean under helm lint --strict with the default values, the dev values and cert-manager', async () => {
    for (const extra of [[], ['-f', DEV_VALUES], ['--set', 'certManager.enabled=true'], ['--set', 'controller.replicas=1', '--set-json', 'webhook.scopeLabels={"team":"a"}', '--set-json', 'webhook.excludeNamespaces=["batch"]']]) {
      const r = await helm(['lint', '--strict', CHART, ...extra]);
      expect({ extra, code: r.code, out: r.stdout + r.stderr }).toMatchObject({ code: 0 });
      expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  it.each(['agentpolicy.yaml', 'clusteragentpolicy.yaml', 'agentaccessrequest.yaml', 'agentbaseline.yaml'])('ships the repository\'s CRD %s unchanged', (crd) => {
    expect(readFileSync(join(CHART, 'crds', crd), 'utf8')).toBe(readFileSync(join(ROOT, 'crds', crd), 'utf8'));
  });

  it('refuses a typo in the values, at any depth, because of values.schema.json', async () => {
    const top = await helm(['template', 'x', CHART, '--set', 'controler.replicas=1']);
    expect(top.code).not.toBe(0);
    expect(top.stderr).toContain("additional properties 'controler' not allowed");
    const nested = await helm(['template', 'x', CHART, '--set', 'inject.envoy.image.tagg=v1']);
    expect(nested.code).not.toBe(0);
    expect(nested.stderr).toContain("at '/inject/envoy/image': additional properties 'tagg' not allowed");
    const lint = await helm(['lint', CHART, '--set', 'webhook.timeoutSecond=5']);
    expect(lint.code).not.toBe(0);
    expect(lint.stdout + lint.stderr).toContain("additional properties 'timeoutSecond' not allowed");
    const range = await helm(['template', 'x', CHART, '--set', 'webhook.timeoutSeconds=30']);
    expect(range.code).not.toBe(0);
    expect(range.stderr).toContain('/webhook/timeoutSeconds');
    const gc = await helm(['template', 'x', CHART, '--set', 'inject.sidecar.gc=concurrent']);
    expect(gc.code).not.toBe(0);
    expect(gc.stderr).toContain('/inject/sidecar/gc');
    // Removed (the controller publishes the CA root now): refused, not silently ignored.
    const removed = await helm(['template', 'x', CHART, '--set-json', 'caRoot.namespaces=["support"]']);
    expect(removed.code).not.toBe(0);
    expect(removed.stderr).toContain("at '/caRoot': additional properties 'namespaces' not allowed");
  });

  it('mounts the serving certificate\'s CA into the controller and passes the CA root flags that the controller accepts, in the webhooks\' scope', async () => {
    const r = await helm(['template', 'x', CHART, '-n', 'aw', '--show-only', 'templates/deployment.yaml',
      '--set-json', 'webhook.scopeLabels={"tier":"prod","team":"a"}', '--set-json', 'webhook.excludeNamespaces=["batch"]']);
    expect(r.stderr).toBe('');
    const spec = (parseAllDocuments(r.stdout)[0]?.toJS() as V1Deployment).spec?.template.spec;
    const container = spec?.containers[0];
    const config = readControllerConfig((container?.args ?? []).slice(1), {});
    expect(config.caRoot).toEqual({
      file: '/etc/agentwarden/ca-root/ca.crt', configMapName: 'agentwarden-ca-root',
      namespaceLabels: { team: 'a', tier: 'prod' }, excludeNamespaces: ['kube-system', 'aw', 'batch'],
    });
    expect(container?.volumeMounts).toContainEqual({ name: 'ca-root', mountPath: '/etc/agentwarden/ca-root', readOnly: true });
    expect(spec?.volumes).toContainEqual({ name: 'ca-root', secret: { secretName: 'x-agentwarden-controller-tls', optional: true, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    // Without a ConfigMap name, nothing is published (and the ClusterRole grants nothing for it).
    const off = await helm(['template', 'x', CHART, '-n', 'aw', '--show-only', 'templates/deployment.yaml', '--show-only', 'templates/rbac.yaml', '--set', 'caRoot.configMapName=']);
    expect(off.stdout).not.toContain('ca-root');
    expect(off.stdout).not.toContain('configmaps');
  });

  it('passes the oauth values as flags the controller accepts, and mounts the token endpoints\' CA ConfigMap', async () => {
    const r = await helm(['template', 'x', CHART, '-n', 'aw', '--show-only', 'templates/deployment.yaml',
      '--set', 'oauth.caConfigMap=idp-ca', '--set', 'oauth.tokenTimeout=5s', '--set', 'oauth.maxConcurrentFetches=2']);
    expect(r.stderr).toBe('');
    const spec = (parseAllDocuments(r.stdout)[0]?.toJS() as V1Deployment).spec?.template.spec;
    const container = spec?.containers[0];
    const config = readControllerConfig((container?.args ?? []).slice(1), {});
    expect(config.oauth).toMatchObject({ caFile: '/etc/agentwarden/oauth-ca/ca.crt', requestTimeoutMs: 5000, maxConcurrentFetches: 2, maxResponseBytes: 65_536, retryMaxMs: 60_000 });
    expect(container?.volumeMounts).toContainEqual({ name: 'oauth-ca', mountPath: '/etc/agentwarden/oauth-ca', readOnly: true });
    expect(spec?.volumes).toContainEqual({ name: 'oauth-ca', configMap: { name: 'idp-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
    const off = await helm(['template', 'x', CHART, '-n', 'aw', '--show-only', 'templates/deployment.yaml']);
    expect(off.stdout).not.toContain('oauth-ca');
  });

  it('passes the approvals values as flags the controller accepts, and lets it read only the notification Secret', async () => {
    const r = await helm(['template', 'x', CHART, '-n', 'aw', '--show-only', 'templates/deployment.yaml', '--show-only', 'templates/rbac.yaml',
      '--set', 'approvals.maxGrantDuration=2h', '--set', 'approvals.pendingTTL=30m', '--set', 'approvals.maxPendingPerPod=7', '--set', 'approvals.defaultDuration=10m', '--set', 'approvals.grantUses=1', '--set', 'approvals.notifyWebhookSecret=ops/slack-hook']);
    expect(r.stderr).toBe('');
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string }; spec?: V1Deployment['spec']; rules?: { resources: string[]; resourceNames?: string[]; verbs: string[] }[] });
    const container = docs.find((d) => d.kind === 'Deployment')?.spec?.template.spec?.containers[0];
    const config = readControllerConfig((container?.args ?? []).slice(1), {});
    expect(config.approvals).toEqual({
      maxGrantDurationMs: 7_200_000, pendingTtlMs: 1_800_000, maxPendingPerPod: 7, defaultDurationMs: 600_000, grantUses: 1,
      notifyWebhookSecret: { namespace: 'ops', name: 'slack-hook' }, controllerUsername: 'system:serviceaccount:aw:x-agentwarden-controller',
    });
    const notify = docs.find((d) => d.kind === 'Role' && d.metadata.name === 'x-agentwarden-controller-notify');
    expect(notify?.metadata.namespace).toBe('ops');
    expect(notify?.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: ['slack-hook'], verbs: ['get'] }]);
    const approver = docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'agentwarden-approver');
    expect(approver?.rules).toEqual([
      { apiGroups: ['agentwarden.io'], resources: ['agentaccessrequests'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['agentwarden.io'], resources: ['agentaccessrequests/status'], verbs: ['get', 'update', 'patch'] },
    ]);
  });

  it('renders injector settings that the controller\'s parser accepts, with the values given', async () => {
    const r = await helm(['template', 'x', CHART, '-n', 'aw', '--show-only', 'templates/inject-configmap.yaml',
      '--set', 'inject.sidecar.otlp.endpoint=http://otel-collector.observability:4317', '--set', 'inject.sidecar.otlp.protocol=grpc',
      '--set', 'inject.sidecar.gc=parallel', '--set', 'inject.sidecar.jit=v8-default',
      '--set-json', 'inject.sidecar.env=[{"name":"OTEL_BSP_MAX_QUEUE_SIZE","value":4096}]',
      '--set', 'inject.envoy.resources.limits.cpu=1', '--set', 'inject.envoy.image.digest=sha256:' + 'a'.repeat(64)]);
    expect(r.stderr).toBe('');
    const configMap = parseAllDocuments(r.stdout)[0]?.toJS() as { data: Record<string, string> };
    const options = parseInjectOptions(parseAllDocuments(configMap.data['inject.yaml'] ?? '')[0]?.toJS(), 'inject.yaml');
    expect(options.controllerAddress).toBe('x-agentwarden-controller.aw.svc:15012');
    expect(options.controllerCaConfigMap).toBe('agentwarden-ca-root');
    expect(options.sidecarImage).toBe('docker.io/agentwarden/agentwarden:0.1.0');
    expect(options.envoyImage).toBe(`docker.io/envoyproxy/envoy:v1.40.0@sha256:${'a'.repeat(64)}`);
    expect(options.resources.envoy.limits).toEqual({ cpu: '1', memory: '256Mi' });
    expect(options.sidecarEnv).toEqual([
      { name: 'AGENTWARDEN_LOG_LEVEL', value: 'info' },
      { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability:4317' },
      { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'grpc' },
      { name: 'AGENTWARDEN_SIDECAR_GC', value: 'parallel' },
      { name: 'AGENTWARDEN_SIDECAR_JIT', value: 'v8-default' },
      { name: 'OTEL_BSP_MAX_QUEUE_SIZE', value: '4096' },
    ]);
  });
});

describe('the chart installed on the local control plane, the controller running as its ServiceAccount', () => {
  beforeAll(async () => {
    ports.webhook = await freePort();
    ports.distribution = await freePort();
    ports.metrics = await freePort();
    const up = await run(join(ROOT, 'e2e/dev/up.sh'), installArgs, devEnv());
    if (up.code !== 0) throw new Error(`e2e/dev/up.sh failed (${up.code}):\n${up.stdout}\n${up.stderr}`);
    // The API server picks webhook configurations up asynchronously.
    const probe = await scopedNamespace('awh-probe');
    await waitFor('the AgentPolicy webhook to be active', async () => {
      const r = await kubectl(['create', '--dry-run=server', '-f', '-'], policy(probe, 'probe', "reqest.method == 'GET'"));
      return r.code !== 0 && r.stderr.includes('agentpolicies.validate.agentwarden.io') ? true : undefined;
    }, 60_000, 200);
  });

  afterAll(cleanUp);

  it('is installed, and the controller it authorises lists and watches until /readyz is ready', async () => {
    const status = await helm(['status', release, '-n', release, '-o', 'json']);
    expect((JSON.parse(status.stdout) as { info: { status: string } }).info.status).toBe('deployed');
    const res = await fetch(`http://127.0.0.1:${ports.metrics}/readyz`);
    expect(res.status).toBe(200);
    // The controller's identity is the chart's ServiceAccount token, not the admin certificate.
    const kubeconfig = readFileSync(controllerKubeconfig, 'utf8');
    expect(kubeconfig).toMatch(/^\s+token: \S+$/m);
    expect(kubeconfig).not.toContain('client-certificate');
    const whoami = await kubectlAs(controllerKubeconfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(whoami.stdout).toBe(`system:serviceaccount:${release}:${serviceAccount}`);
  });

  it('writes AgentPolicy status (Compiled, Synced, Ready) as the Lease holder', async () => {
    const ns = await scopedNamespace('awh-pol');
    await kubectlOk(['apply', '-f', '-'], policy(ns, 'support'));
    const conditions = await waitFor('status.conditions', async () => {
      const out = JSON.parse(await kubectlOk(['get', 'agentpolicy', '-n', ns, 'support', '-o', 'json'])) as { status?: { conditions?: { type: string; status: string }[] } };
      return (out.status?.conditions?.length ?? 0) >= 3 ? out.status?.conditions : undefined;
    }, 30_000, 100);
    expect(Object.fromEntries((conditions ?? []).map((c) => [c.type, c.status]))).toEqual({ Compiled: 'True', Synced: 'True', Ready: 'True' });
    const lease = JSON.parse(await kubectlOk(['get', 'lease', '-n', release, 'agentwarden-controller', '-o', 'json'])) as { spec?: { holderIdentity?: string } };
    expect(lease.spec?.holderIdentity).toMatch(/^dev-/);
    // The replica's report Lease, written under the chart's RBAC (controller/src/replicas).
    const reports = JSON.parse(await kubectlOk(['get', 'leases', '-n', release, '-l', 'agentwarden.io/replica-report=true', '-o', 'json'])) as { items: { metadata: { name: string; annotations?: Record<string, string> } }[] };
    expect(reports.items.map((l) => l.metadata.name)).toEqual([`agentwarden-controller-replica-${lease.spec?.holderIdentity ?? ''}`]);
    expect(reports.items[0]?.metadata.annotations?.['agentwarden.io/replica-acks']).toBeDefined();
  });

  it('rejects an invalid AgentPolicy through the webhook registered by URL', async () => {
    const ns = await scopedNamespace('awh-bad');
    const r = await kubectl(['apply', '-f', '-'], policy(ns, 'typo', "reqest.method == 'GET'"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`admission webhook "agentpolicies.validate.agentwarden.io" denied the request: AgentPolicy ${ns}/typo is invalid: spec.rules[0].when: rule "read-tickets": `);
  });

  it('injects pods of enabled namespaces, and labelled pods elsewhere, with the chart\'s settings', async () => {
    const enabled = await scopedNamespace('awh-inj', { 'agentwarden.io/inject': 'enabled' });
    const other = await scopedNamespace('awh-obj');
    await kubectlOk(['apply', '-f', '-'], pod(enabled, 'agent-0'));
    await kubectlOk(['apply', '-f', '-'], pod(other, 'agent-1', { 'agentwarden.io/inject': 'enabled' }));
    await kubectlOk(['apply', '-f', '-'], pod(other, 'not-an-agent'));
    for (const [ns, name] of [[enabled, 'agent-0'], [other, 'agent-1']] as const) {
      const p = JSON.parse(await kubectlOk(['get', 'pod', '-n', ns, name, '-o', 'json'])) as V1Pod;
      expect(p.metadata?.annotations?.[INJECTED_ANNOTATION]).toBeDefined();
      const sidecar = p.spec?.initContainers?.find((c) => c.name === 'agentwarden-sidecar');
      expect(sidecar?.image).toBe('docker.io/agentwarden/agentwarden:0.1.0-e2e');
      expect(sidecar?.args).toEqual(expect.arrayContaining(['--controller', `127.0.0.1:${ports.distribution}`]));
      expect(sidecar?.args).not.toContain('--controller-ca');
      expect(sidecar?.env).toEqual(expect.arrayContaining([
        { name: 'AGENTWARDEN_LOG_LEVEL', value: 'debug' },
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: `http://127.0.0.1:${process.env['JAEGER_OTLP_HTTP_PORT'] ?? '4318'}` },
      ]));
      const envoy = p.spec?.initContainers?.find((c) => c.name === 'agentwarden-envoy');
      expect(envoy?.args?.[1]).toContain('"max_request_bytes":2097152');
    }
    const untouched = JSON.parse(await kubectlOk(['get', 'pod', '-n', other, 'not-an-agent', '-o', 'json'])) as V1Pod;
    expect(untouched.spec?.initContainers).toBeUndefined();
  });

  it('refuses a pod that would bypass the capture in an enabled namespace (pod guard)', async () => {
    const ns = await scopedNamespace('awh-grd', { 'agentwarden.io/inject': 'enabled' });
    const r = await kubectl(['apply', '-f', '-'], pod(ns, 'host', {}, { hostNetwork: true }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('admission webhook "namespace.guard.agentwarden.io" denied the request');
    expect(r.stderr).toContain('spec.hostNetwork: true');
  });

  it('grants the ServiceAccount what the controller uses and nothing more', async () => {
    const other = uniqueNamespace('awh-rbac');
    const can = async (args: readonly string[]): Promise<string> => (await kubectlAs(controllerKubeconfig, ['auth', 'can-i', ...args])).stdout.trim();
    const expected: [string[], 'yes' | 'no'][] = [
      [['list', 'agentpolicies.agentwarden.io', '-A'], 'yes'],
      [['watch', 'agentpolicies.agentwarden.io', '-A'], 'yes'],
      [['patch', 'agentpolicies.agentwarden.io', '--subresource=status', '-n', other], 'yes'],
      [['list', 'pods', '-A'], 'yes'],
      [['watch', 'pods', '-A'], 'yes'],
      // RBAC cannot restrict by label: granted cluster-wide, used only with agentwarden.io/credential=true (next test).
      [['list', 'secrets', '-A'], 'yes'],
      [['watch', 'secrets', '-A'], 'yes'],
      [['get', 'namespaces/default'], 'yes'],
      // ClusterAgentPolicies (informer, status writer) and the namespace labels their namespaceSelectors read.
      [['list', 'clusteragentpolicies.agentwarden.io'], 'yes'],
      [['watch', 'clusteragentpolicies.agentwarden.io'], 'yes'],
      [['patch', 'clusteragentpolicies.agentwarden.io', '--subresource=status'], 'yes'],
      [['list', 'namespaces'], 'yes'],
      [['watch', 'namespaces'], 'yes'],
      [['create', 'tokenreviews.authentication.k8s.io'], 'yes'],
      [['create', 'leases.coordination.k8s.io', '-n', release], 'yes'],
      [['get', 'leases.coordination.k8s.io/agentwarden-controller', '-n', release], 'yes'],
      [['update', 'leases.coordination.k8s.io/agentwarden-controller', '-n', release], 'yes'],
      // Replica reports (controller/src/replicas): any replica's Lease in the release namespace.
      [['list', 'leases.coordination.k8s.io', '-n', release], 'yes'],
      [['watch', 'leases.coordination.k8s.io', '-n', release], 'yes'],
      [['update', 'leases.coordination.k8s.io/agentwarden-controller-replica-x', '-n', release], 'yes'],
      [['delete', 'leases.coordination.k8s.io/agentwarden-controller-replica-x', '-n', release], 'yes'],
      // AgentAccessRequests: the informer, requests from sidecars, ended ones recreated, expiry;
      // the webhook reads the pod of spec.pod fresh; Events on pods.
      [['list', 'agentaccessrequests.agentwarden.io', '-A'], 'yes'],
      [['watch', 'agentaccessrequests.agentwarden.io', '-A'], 'yes'],
      [['create', 'agentaccessrequests.agentwarden.io', '-n', other], 'yes'],
      [['delete', 'agentaccessrequests.agentwarden.io', '-n', other], 'yes'],
      [['patch', 'agentaccessrequests.agentwarden.io', '--subresource=status', '-n', other], 'yes'],
      [['get', 'pods', '-n', other], 'yes'],
      [['create', 'events', '-n', other], 'yes'],
      // AgentBaselines: the informer, one created per agent identity, its status written.
      [['list', 'agentbaselines.agentwarden.io', '-A'], 'yes'],
      [['watch', 'agentbaselines.agentwarden.io', '-A'], 'yes'],
      [['create', 'agentbaselines.agentwarden.io', '-n', other], 'yes'],
      [['patch', 'agentbaselines.agentwarden.io', '--subresource=status', '-n', other], 'yes'],
      [['patch', 'agentbaselines.agentwarden.io', '-n', other], 'no'],
      [['delete', 'agentbaselines.agentwarden.io', '-n', other], 'no'],
      // Not used by the code: refused.
      [['get', 'secrets', '-n', other], 'no'],
      [['get', 'secrets', '-n', release], 'no'],
      [['create', 'secrets', '-n', other], 'no'],
      [['update', 'secrets', '-n', other], 'no'],
      [['patch', 'secrets', '-n', other], 'no'],
      [['delete', 'secrets', '-n', other], 'no'],
      [['update', 'agentaccessrequests.agentwarden.io', '-n', other], 'no'],
      [['update', 'agentaccessrequests.agentwarden.io', '--subresource=status', '-n', other], 'no'],
      [['create', 'pods', '-n', other], 'no'],
      [['patch', 'pods', '-n', other], 'no'],
      [['get', 'configmaps', '-n', other], 'no'],
      [['list', 'configmaps', '-A'], 'no'],
      [['update', 'namespaces/default'], 'no'],
      [['create', 'clusteragentpolicies.agentwarden.io'], 'no'],
      [['update', 'clusteragentpolicies.agentwarden.io'], 'no'],
      [['get', 'serviceaccounts', '-n', other], 'no'],
      [['create', 'serviceaccounts/token', '-n', other], 'no'],
      [['update', 'agentpolicies.agentwarden.io', '-n', other], 'no'],
      [['delete', 'agentpolicies.agentwarden.io', '-n', other], 'no'],
      [['delete', 'pods', '-n', other], 'no'],
      [['create', 'deployments.apps', '-n', release], 'no'],
      [['create', 'configmaps', '-n', other], 'no'],
      [['create', 'leases.coordination.k8s.io', '-n', other], 'no'],
      [['update', 'leases.coordination.k8s.io/another-lease', '-n', other], 'no'],
      [['list', 'leases.coordination.k8s.io', '-n', other], 'no'],
      [['delete', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'], 'no'],
    ];
    const actual: [string[], string][] = [];
    for (const [args] of expected) actual.push([args, await can(args)]);
    expect(actual).toEqual(expected);
  });

  it('holds only the labelled credential Secrets, with only the keys policies read, and names an unlabelled one in Ready, under the chart\'s RBAC', async () => {
    const ns = await scopedNamespace('awh-sec');
    const secret = (name: string, data: Record<string, string>, labelled: boolean): string => JSON.stringify({
      apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns, ...(labelled ? { labels: { 'agentwarden.io/credential': 'true' } } : {}) }, stringData: data,
    });
    await kubectlOk(['apply', '-f', '-'], secret('api-token', { token: 'tk-e2e', 'admin-token': 'never-read' }, true));
    await kubectlOk(['apply', '-f', '-'], secret('unrelated', { password: 'unrelated-value' }, false));
    await kubectlOk(['apply', '-f', '-'], secret('not-labelled', { token: 'tk-unlabelled' }, false));
    const credentialPolicy = (name: string, secretName: string): string => `${policy(ns, name)}      credential: api
  credentials:
    - {name: api, secretRef: {name: ${secretName}, key: token}}
`;
    await kubectlOk(['apply', '-f', '-'], credentialPolicy('reads-labelled', 'api-token'));
    await kubectlOk(['apply', '-f', '-'], credentialPolicy('reads-unlabelled', 'not-labelled'));

    // The controller as the chart's ServiceAccount (the local controller of up.sh holds the Lease).
    const logs: string[] = [];
    const config = readControllerConfig(['--kubeconfig', controllerKubeconfig, '--namespace', release, '--identity', 'secrets-e2e', '--leader-elect', 'false',
      '--distribution-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0'], {});
    const controller = await startController(config, (level, msg, fields) => { logs.push(JSON.stringify({ level, msg, ...fields })); });
    const ready = async (name: string): Promise<{ status: string; reason: string; message: string } | undefined> => {
      const out = await kubectlOk(['get', 'agentpolicy', '-n', ns, name, '-o', 'json']);
      return (JSON.parse(out) as { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }).status?.conditions?.find((c) => c.type === 'Ready');
    };
    try {
      await waitFor('/readyz of the controller', async () => ((await fetch(`http://${controller.metricsAddress}/readyz`)).status === 200 ? true : undefined), 30_000, 100);
      const cached = await waitFor('the labelled Secret with the key the policy reads', () => {
        const s = controller.informers.secrets.get(ns, 'api-token');
        return s !== undefined && s.data['token'] !== undefined ? s : undefined;
      }, 30_000, 100);
      expect(Object.keys(cached.data)).toEqual(['token']);
      expect(Buffer.from(cached.data['token'] ?? '', 'base64').toString()).toBe('tk-e2e');
      expect(controller.informers.secrets.get(ns, 'unrelated')).toBeUndefined();
      expect(controller.informers.secrets.get(ns, 'not-labelled')).toBeUndefined();
      // Nothing of the release's own Secrets (the CA and serving certificate), nor any other unlabelled one.
      const labelled = (await kubectlOk(['get', 'secrets', '-A', '-l', 'agentwarden.io/credential=true', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}'])).split('\n').filter((l) => l !== '');
      const all = (await kubectlOk(['get', 'secrets', '-A', '-o', 'name'])).split('\n').filter((l) => l !== '').length;
      const held = controller.informers.secrets.list().map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
      expect(held.every((id) => labelled.includes(id))).toBe(true);
      expect(held.length).toBeLessThan(all);
      const text = await (await fetch(`http://${controller.metricsAddress}/metrics`)).text();
      expect(text).toContain(`agentwarden_informer_objects{resource="secrets"} ${held.length}\n`);
      expect(text).not.toContain('unrelated');
      expect(text).toMatch(/^agentwarden_credential_secret_keys \d+$/m);

      const unavailable = await waitFor('Ready to name the unlabelled Secret', async () => ((await ready('reads-unlabelled'))?.reason === 'CredentialUnavailable' ? ready('reads-unlabelled') : undefined), 30_000, 200);
      expect(unavailable?.message).toContain(`credential "api" unavailable: Secret ${ns}/not-labelled is not among the Secrets labelled agentwarden.io/credential=true`);
      expect(unavailable?.message).not.toContain('tk-unlabelled');
      expect((await ready('reads-labelled'))?.status).toBe('True');

      // Labelled, the Secret is read, and Ready follows.
      await kubectlOk(['label', 'secret', '-n', ns, 'not-labelled', 'agentwarden.io/credential=true']);
      await waitFor('the newly labelled Secret in the cache', () => controller.informers.secrets.get(ns, 'not-labelled')?.data['token'], 30_000, 100);
      await waitFor('Ready once the Secret is labelled', async () => ((await ready('reads-unlabelled'))?.status === 'True' ? true : undefined), 30_000, 200);
    } catch (e: unknown) {
      process.stderr.write(`controller log:\n${logs.join('\n')}\n`);
      throw e;
    } finally {
      await controller.stop();
    }
  });

  it('runs its pods under the restricted Pod Security Standard', async () => {
    const ns = uniqueNamespace('awh-psa');
    await kubectlOk(['create', 'namespace', ns]);
    await kubectlOk(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted']);
    await kubectlOk(['create', 'serviceaccount', serviceAccount, '-n', ns]);
    const deployment = JSON.parse(await kubectlOk(['get', 'deployment', '-n', release, serviceAccount, '-o', 'json'])) as V1Deployment;
    const template = deployment.spec?.template;
    expect(deployment.spec?.replicas).toBe(0);
    const manifest = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'controller', namespace: ns, labels: template?.metadata?.labels }, spec: template?.spec };
    const r = await kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(manifest));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('lets the controller publish the CA root ConfigMap where pods are injected, and roll a new CA out, once caRoot is on', async () => {
    // The dev values turn the CA root off (a loopback controller without TLS); the chart's default turns it on.
    const upgrade = await helm(['upgrade', release, CHART, '-n', release, '--reuse-values', '--set', `caRoot.configMapName=${CA_ROOT}`]);
    expect({ code: upgrade.code, stderr: upgrade.stderr }).toEqual({ code: 0, stderr: '' });
    const deployment = JSON.parse(await kubectlOk(['get', 'deployment', '-n', release, serviceAccount, '-o', 'json'])) as V1Deployment;
    const caRootArgs = (deployment.spec?.template.spec?.containers[0]?.args ?? []).filter((a) => a.startsWith('--ca-root-'));
    expect(caRootArgs).toEqual(['--ca-root-file=/etc/agentwarden/ca-root/ca.crt', `--ca-root-configmap=${CA_ROOT}`, `--ca-root-exclude-namespaces=kube-system,${release}`, `--ca-root-namespace-labels=${SCOPE}=${release}`]);

    // What the ca-root volume holds: the ca.crt of the chart's serving certificate Secret.
    const chartCa = Buffer.from(await kubectlOk(['get', 'secret', '-n', release, `${fullname}-controller-tls`, '-o', 'jsonpath={.data.ca\\.crt}']), 'base64').toString();
    expect(chartCa).toContain('-----BEGIN CERTIFICATE-----');
    const caFile = join(mkdtempSync(join(tmpdir(), 'aw-ca-root-')), 'ca.crt');
    writeFileSync(caFile, chartCa);

    // The controller with the Deployment's flags, as the chart's ServiceAccount. The local controller
    // of up.sh holds the Lease, so this one runs without election (leadership: unit tests).
    const logs: string[] = [];
    const config = readControllerConfig(['--kubeconfig', controllerKubeconfig, '--namespace', release, '--identity', 'ca-root-e2e', '--leader-elect', 'false',
      '--distribution-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', ...caRootArgs.map((a) => (a.startsWith('--ca-root-file=') ? `--ca-root-file=${caFile}` : a))], {});
    const publisher = await startController({ ...config, fileReloadMs: 500 }, (level, msg, fields) => { logs.push(JSON.stringify({ level, msg, ...fields })); });
    const caIn = async (ns: string): Promise<{ ca: string; labels: Record<string, string> } | undefined> => {
      const r = await kubectl(['get', 'configmap', '-n', ns, CA_ROOT, '-o', 'json']);
      if (r.code !== 0) return undefined;
      const cm = JSON.parse(r.stdout) as { data?: Record<string, string>; metadata?: { labels?: Record<string, string> } };
      return { ca: cm.data?.['ca.crt'] ?? '', labels: cm.metadata?.labels ?? {} };
    };
    try {
      const enabled = await scopedNamespace('awh-car', { 'agentwarden.io/inject': 'enabled' });
      const withPod = await scopedNamespace('awh-crp');
      await kubectlOk(['apply', '-f', '-'], pod(withPod, 'agent-0', { 'agentwarden.io/inject': 'enabled' }));
      const plain = await scopedNamespace('awh-crn');
      // Someone else's ConfigMap of that name, in a namespace enabled afterwards.
      const foreign = await scopedNamespace('awh-crf');
      await kubectlOk(['create', 'configmap', CA_ROOT, '-n', foreign, '--from-literal=ca.crt=their own']);
      await kubectlOk(['label', 'namespace', foreign, 'agentwarden.io/inject=enabled']);
      // Enabled, but outside the webhooks' scope (no scope label): never injected, never written.
      const outOfScope = uniqueNamespace('awh-cro');
      await kubectlOk(['create', 'namespace', outOfScope]);
      await kubectlOk(['label', 'namespace', outOfScope, 'agentwarden.io/inject=enabled']);

      const published = `${chartCa.trim()}\n`;
      for (const ns of [enabled, withPod]) {
        const cm = await waitFor(`the CA root ConfigMap in ${ns}`, async () => ((await caIn(ns))?.ca === published ? caIn(ns) : undefined), 30_000, 100);
        expect(cm?.labels['app.kubernetes.io/managed-by']).toBe('agentwarden');
      }
      await waitFor('the foreign ConfigMap to be seen', () => (publisher.caRoot?.stats().foreign === 1 ? true : undefined), 30_000, 100);
      expect(await caIn(plain)).toBeUndefined();
      expect(await caIn(outOfScope)).toBeUndefined();
      expect((await caIn(foreign))?.ca).toBe('their own');

      // A CA rotation: the file now holds the current and the next CA.
      const dir = mkdtempSync(join(tmpdir(), 'aw-next-ca-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '1', '-subj', '/CN=next-ca', '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
      const next = readFileSync(join(dir, 'ca.crt'), 'utf8');
      writeFileSync(`${caFile}.new`, `${chartCa.trim()}\n${next}`);
      renameSync(`${caFile}.new`, caFile);
      const rotated = `${chartCa.trim()}\n${next.trim()}\n`;
      for (const ns of [enabled, withPod]) await waitFor(`the new CA in ${ns}`, async () => ((await caIn(ns))?.ca === rotated ? true : undefined), 30_000, 100);
      expect((await caIn(foreign))?.ca).toBe('their own');
      expect(publisher.caRoot?.stats()).toMatchObject({ loaded: true, caLoads: 2, writeFailures: 0 });

      // What the chart grants for it, and no more.
      const can = async (args: readonly string[]): Promise<string> => (await kubectlAs(controllerKubeconfig, ['auth', 'can-i', ...args])).stdout.trim();
      const other = uniqueNamespace('awh-rbac');
      const expected: [string[], 'yes' | 'no'][] = [
        [['list', 'namespaces'], 'yes'],
        [['watch', 'namespaces'], 'yes'],
        [['create', 'configmaps', '-n', other], 'yes'],
        [['get', `configmaps/${CA_ROOT}`, '-n', other], 'yes'],
        [['update', `configmaps/${CA_ROOT}`, '-n', other], 'yes'],
        [['get', 'configmaps/another', '-n', other], 'no'],
        [['update', 'configmaps/another', '-n', other], 'no'],
        [['delete', `configmaps/${CA_ROOT}`, '-n', other], 'no'],
        [['patch', `configmaps/${CA_ROOT}`, '-n', other], 'no'],
        [['list', 'configmaps', '-n', other], 'no'],
      ];
      const actual: [string[], string][] = [];
      for (const [args] of expected) actual.push([args, await can(args)]);
      expect(actual).toEqual(expected);
    } catch (e: unknown) {
      process.stderr.write(`controller log:\n${logs.join('\n')}\n`);
      throw e;
    } finally {
      await publisher.stop();
    }
  });

  it('keeps the CA and the serving certificate across an upgrade', async () => {
    const secrets = async (): Promise<string> => kubectlOk(['get', 'secret', '-n', release, `${fullname}-ca`, `${fullname}-controller-tls`, '-o', 'jsonpath={.items[*].data.tls\\.crt}']);
    const caBundle = async (): Promise<string> => kubectlOk(['get', 'validatingwebhookconfiguration', `${fullname}-validate`, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']);
    const before = await secrets();
    const upgrade = await helm(['upgrade', release, CHART, '-n', release, '--reuse-values']);
    expect({ code: upgrade.code, stderr: upgrade.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await secrets()).toBe(before);
    // The dev values' caBundle (the local PKI, which signed the local controller's certificate) stays too.
    expect(Buffer.from(await caBundle(), 'base64').toString()).toBe(readFileSync(join(PKI, 'ca.crt'), 'utf8'));
  });

  // Last: it removes the webhook configurations, as the hook does on uninstall.
  it('lets the pre-delete hook delete the release\'s webhook configurations and nothing else', async () => {
    const rendered = await helm(['template', release, CHART, '-n', release, '--show-only', 'templates/hooks/delete-webhooks.yaml', ...installArgs]);
    expect(rendered.stderr).toBe('');
    const docs = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec?: { template?: V1Pod } });
    for (const d of docs) expect(d.metadata.annotations?.['helm.sh/hook']).toBe('pre-delete');
    const job = docs.find((d) => d.kind === 'Job');
    const container = job?.spec?.template?.spec?.containers[0];
    expect(container?.command).toEqual(['/bin/kubectl']);
    // No pods run here: create the hook's ServiceAccount and RBAC, then run the Job's command with its token.
    await kubectlOk(['apply', '-f', '-'], docs.filter((d) => d.kind !== 'Job').map((d) => JSON.stringify(d)).join('\n---\n'));
    const hookKubeconfig = await tokenKubeconfig(release, `${fullname}-delete-webhooks`);
    const cannot = await kubectlAs(hookKubeconfig, ['auth', 'can-i', 'delete', 'validatingwebhookconfigurations.admissionregistration.k8s.io/another']);
    expect(cannot.stdout.trim()).toBe('no');
    const r = await kubectlAs(hookKubeconfig, container?.args ?? []);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`mutatingwebhookconfiguration.admissionregistration.k8s.io "${fullname}-inject" deleted`);
    expect(r.stdout).toContain(`validatingwebhookconfiguration.admissionregistration.k8s.io "${fullname}-validate" deleted`);
    const left = await kubectl(['get', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', '-l', `${SCOPE}=${release}`, '-o', 'name']);
    expect(left.stdout.trim()).toBe('');
  });
});
