// The pod guard against a hostile tenant (issue 14 item 1), on the real API
// server: every write is made by an impersonated namespace admin (the built-in
// `admin` ClusterRole's aggregated rules bound in the tenant's namespaces), against the chart's
// own webhook configurations (helm template, registered by URL and scoped to
// this run's namespaces) and the chart's rendered injection options, served by
// the webhook server in-process. One pod (or one update, or one kubectl debug)
// per rule; each refusal is asserted by the webhook's name and its reason. The
// README's pod-guard table lists the same rules.
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { kubectl, kubectlOk, tempFile, uniqueNamespace, waitFor } from './cluster.js';
import { PKI, freePort } from './controller-env.js';
import { AGENT_IMAGE as IMAGE, TENANT, agentPod, asTenant, createNamespaceAdminRole, getPod, renderChart as renderTemplate, tenantNamespace as adminOf, type PodParts } from './tenant.js';
import { startLocalWebhookServer } from './webhook-server.js';
import type { RunningWebhookServer } from '../../controller/src/admission/index.js';
import { INJECTED_ANNOTATION, parseInjectOptions, type InjectOptions } from '../../controller/src/inject/index.js';

const SCOPE = 'agentwarden-e2e/pod-guard';
const run = uniqueNamespace('awg');
/** Enabled by the platform; the tenant is admin there. */
const enabled = `${run}-on`;
/** Not enabled: pods opt in with their own label. */
const optIn = `${run}-opt`;
/** Enabled, and the platform allows proxy-env capture there. */
const proxyEnvNs = `${run}-env`;
const NAMESPACE_GUARD = 'admission webhook "namespace.guard.agentwarden.io" denied the request';
const OBJECT_GUARD = 'admission webhook "object.guard.agentwarden.io" denied the request';
let server: RunningWebhookServer | undefined;
let options: InjectOptions;

function renderChart(template: string, port: number): Promise<string> {
  return renderTemplate(run, template, ['--set', `webhook.url=https://127.0.0.1:${port}`, '--set-file', `webhook.caBundle=${join(PKI, 'ca.crt')}`,
    '--set-string', `webhook.scopeLabels.${SCOPE}=${run}`]);
}

function podManifest(namespace: string, name: string, parts: PodParts = {}): string {
  return JSON.stringify(agentPod(namespace, name, parts));
}

const NAMESPACE_ADMIN = `${run}-namespace-admin`;

function tenantNamespace(name: string, labels: readonly string[]): Promise<void> {
  return adminOf(name, [`${SCOPE}=${run}`, ...labels], NAMESPACE_ADMIN);
}

beforeAll(async () => {
  await createNamespaceAdminRole(NAMESPACE_ADMIN);
  await tenantNamespace(enabled, ['agentwarden.io/inject=enabled']);
  await tenantNamespace(optIn, []);
  await tenantNamespace(proxyEnvNs, ['agentwarden.io/inject=enabled', 'agentwarden.io/allow-proxy-env=true']);
  const port = await freePort();
  // The injection options as the chart renders them for the controller (inject.allowProxyEnv: false, agentUid 1000).
  const configMap = parseYaml(await renderChart('templates/inject-configmap.yaml', port)) as { data: Record<string, string> };
  options = parseInjectOptions(parseYaml(configMap.data['inject.yaml'] ?? ''), 'the chart\'s inject.yaml');
  server = await startLocalWebhookServer(port, options);
  await kubectlOk(['apply', '-f', '-'], await renderChart('templates/webhooks.yaml', port));
  await waitFor('the chart\'s webhooks to be active', async () => {
    const r = await kubectl(['create', '--dry-run=server', '-f', '-'], podManifest(enabled, 'probe', { spec: { hostNetwork: true } }));
    return r.code !== 0 && r.stderr.includes(NAMESPACE_GUARD) ? true : undefined;
  }, 60_000, 200);
  // The agent pods the updates and debug sessions below start from.
  await kubectlOk([`--as=${TENANT.user}`, `--as-group=${TENANT.group}`, 'create', '-f', '-'], podManifest(enabled, 'agent-0'));
  await kubectlOk([`--as=${TENANT.user}`, `--as-group=${TENANT.group}`, 'create', '-f', '-'], podManifest(optIn, 'agent-0', { labels: { 'agentwarden.io/inject': 'enabled' } }));
});

afterAll(async () => {
  // Cluster-scoped: left behind, they would call a webhook server that is gone.
  await kubectl(['delete', 'mutatingwebhookconfiguration', `${run}-agentwarden-inject`, '--ignore-not-found']);
  await kubectl(['delete', 'validatingwebhookconfiguration', `${run}-agentwarden-validate`, '--ignore-not-found']);
  await kubectl(['delete', 'clusterrole', NAMESPACE_ADMIN, '--ignore-not-found']);
  await server?.close();
});

describe('the pod guard against a namespace admin', () => {
  it('is tried by a namespace admin, not a cluster admin', async () => {
    expect((await asTenant(['auth', 'can-i', 'create', 'pods', '-n', enabled])).stdout.trim()).toBe('yes');
    expect((await asTenant(['auth', 'can-i', 'update', 'pods/ephemeralcontainers', '-n', enabled])).stdout.trim()).toBe('yes');
    expect((await asTenant(['auth', 'can-i', 'patch', `namespace/${enabled}`])).stdout.trim()).toBe('no');
  });

  it('admits an ordinary agent pod and stores it injected, as UID 1000, non-root, ALL dropped, no escalation', async () => {
    const pod = await getPod(enabled, 'agent-0');
    expect(pod.metadata?.annotations?.[INJECTED_ANNOTATION]).toBeDefined();
    expect(pod.spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: options.agentUid });
    expect(options.agentUid).not.toBe(options.proxyUid);
    expect(pod.spec?.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });

  it('runs an image whose USER is 1337 as UID 1000: the injector sets runAsUser, so the image cannot pick the proxy UID', async () => {
    // The API server cannot see an image's USER; what decides is the runAsUser the stored pod carries.
    await asTenant(['create', '-f', '-'], podManifest(enabled, 'image-user-1337', { agent: { image: 'registry.example/runs-as-1337:1' } }));
    const pod = await getPod(enabled, 'image-user-1337');
    expect(pod.spec?.securityContext?.runAsUser).toBe(1000);
  });

  it('admits proxy-env capture where the platform labelled the namespace agentwarden.io/allow-proxy-env=true, with the warning', async () => {
    const r = await asTenant(['create', '-f', '-'], podManifest(proxyEnvNs, 'env', { annotations: { 'agentwarden.io/capture': 'proxy-env' } }));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('agentwarden.io/capture=proxy-env is cooperative');
  });

  // One pod per rule, created by the tenant in an enabled namespace.
  const creations: readonly (readonly [string, PodParts, string])[] = [
    ['capture downgrade: agentwarden.io/capture=proxy-env where the platform did not allow it', { annotations: { 'agentwarden.io/capture': 'proxy-env' } },
      `agentwarden.io/capture=proxy-env is not allowed in namespace ${enabled}`],
    ['opting out of injection in an enabled namespace', { labels: { 'agentwarden.io/inject': 'disabled' } }, 'the pod opts out of injection (label agentwarden.io/inject=disabled)'],
    ['hostNetwork', { spec: { hostNetwork: true } }, 'spec.hostNetwork: true'],
    ['mounting agentwarden-authz (the Check socket)', { agent: { volumeMounts: [{ name: 'agentwarden-authz', mountPath: '/authz' }] } },
      "spec.containers[0] (agent): mounts volume agentwarden-authz, agentwarden's own: the sidecar's Check socket"],
    ['mounting agentwarden-token (the sidecar\'s token)', { agent: { volumeMounts: [{ name: 'agentwarden-token', mountPath: '/token', readOnly: true }] } },
      "spec.containers[0] (agent): mounts volume agentwarden-token, agentwarden's own: the sidecar's token"],
    ['projecting its own token with audience agentwarden', { spec: { volumes: [{ name: 'mine', projected: { sources: [{ serviceAccountToken: { audience: 'agentwarden', path: 'token' } }] } }] } },
      'spec.volumes[0] (mine): a ServiceAccount token with audience agentwarden is the sidecar\'s identity'],
    ['hostPID', { spec: { hostPID: true } }, 'spec.hostPID: true'],
    ['hostIPC', { spec: { hostIPC: true } }, 'spec.hostIPC: true'],
    ['a hostPath volume', { spec: { volumes: [{ name: 'node', hostPath: { path: '/var/lib/kubelet/pods' } }] } }, 'spec.volumes[0] (node): hostPath /var/lib/kubelet/pods'],
    ['shareProcessNamespace', { spec: { shareProcessNamespace: true } }, 'spec.shareProcessNamespace: true'],
    ['capability SYS_PTRACE', { agent: { securityContext: { capabilities: { add: ['SYS_PTRACE'] } } } }, 'spec.containers[0] (agent): capability SYS_PTRACE'],
    ['capability SYS_ADMIN', { agent: { securityContext: { capabilities: { add: ['SYS_ADMIN'] } } } }, 'spec.containers[0] (agent): capability SYS_ADMIN'],
    ['capability SETUID', { agent: { securityContext: { capabilities: { add: ['SETUID'] } } } }, "spec.containers[0] (agent): capability SETUID would let the agent switch to the proxy's UID"],
    ['capability NET_RAW', { agent: { securityContext: { capabilities: { add: ['NET_RAW'] } } } }, 'spec.containers[0] (agent): capability NET_RAW'],
    ['capability NET_ADMIN', { agent: { securityContext: { capabilities: { add: ['NET_ADMIN'] } } } }, 'spec.containers[0] (agent): capability NET_ADMIN'],
    ['privileged', { agent: { securityContext: { privileged: true } } }, 'spec.containers[0] (agent): privileged'],
    ['running as root (runAsUser 0)', { agent: { securityContext: { runAsUser: 0 } } }, 'spec.containers[0] (agent): runs as UID 0 (root)'],
    ['runAsNonRoot: false', { spec: { securityContext: { runAsNonRoot: false } } }, 'spec.containers[0] (agent): runAsNonRoot is not true'],
    ['running as the proxy UID 1337 (pod level)', { spec: { securityContext: { runAsUser: 1337 } } }, "spec.containers[0] (agent): runs as UID 1337, the proxy's UID"],
    ['running as the proxy UID 1337 (container level)', { agent: { securityContext: { runAsUser: 1337 } } }, "spec.containers[0] (agent): runs as UID 1337, the proxy's UID"],
    ['allowPrivilegeEscalation: true', { agent: { securityContext: { allowPrivilegeEscalation: true } } }, 'spec.containers[0] (agent): allowPrivilegeEscalation is not false'],
    ['an app init container with the proxy UID', { spec: { initContainers: [{ name: 'setup', image: IMAGE, securityContext: { runAsUser: 1337 } }] } }, "spec.initContainers[3] (setup): runs as UID 1337, the proxy's UID"],
    ['an app container named like agentwarden\'s', { spec: { containers: [{ name: 'agentwarden-helper', image: IMAGE }] } }, "spec.containers[0] (agentwarden-helper): the name prefix agentwarden- is agentwarden's"],
  ];
  it.each(creations)('refuses a pod with %s, saying why', async (_rule, parts, reason) => {
    const name = `p-${Math.random().toString(36).slice(2, 10)}`;
    const r = await asTenant(['create', '-f', '-'], podManifest(enabled, name, parts));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(NAMESPACE_GUARD);
    expect(r.stderr).toContain(reason);
    expect((await kubectl(['get', 'pod', '-n', enabled, name])).code).not.toBe(0);
  });

  // kubectl debug: an update of pods/ephemeralcontainers, judged with the stored pod.
  const debugs: readonly (readonly [string, readonly string[], object | undefined, string])[] = [
    ['targeting agentwarden-sidecar', ['--profile=restricted', '--target=agentwarden-sidecar'], undefined,
      "(dbg-0): targets container agentwarden-sidecar, agentwarden's own"],
    ['with the default (general) profile: SYS_PTRACE', ['--profile=general'], undefined, '(dbg-1): capability SYS_PTRACE'],
    ['with the sysadmin profile: privileged', ['--profile=sysadmin'], undefined, '(dbg-2): privileged'],
    ['with the netadmin profile: NET_ADMIN', ['--profile=netadmin'], undefined, '(dbg-3): capability NET_ADMIN'],
    ['mounting agentwarden-authz', ['--profile=restricted'], { volumeMounts: [{ name: 'agentwarden-authz', mountPath: '/authz' }] },
      "(dbg-4): mounts volume agentwarden-authz, agentwarden's own"],
    ['running as the proxy UID', ['--profile=restricted'], { securityContext: { runAsUser: 1337 } }, "(dbg-5): runs as UID 1337, the proxy's UID"],
  ];
  it.each(debugs.map((d, i) => [...d, i] as const))('refuses kubectl debug %s', async (_what, flags, custom, reason, i) => {
    const extra = custom === undefined ? [] : [`--custom=${tempFile('custom.json', JSON.stringify(custom))}`];
    const r = await asTenant(['debug', '-n', enabled, 'agent-0', `--image=${IMAGE}`, `--container=dbg-${i}`, ...flags, ...extra]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(NAMESPACE_GUARD);
    expect(r.stderr).toContain(reason);
  });

  it('admits kubectl debug --profile=restricted: it inherits the pod\'s UID 1000', async () => {
    const r = await asTenant(['debug', '-n', enabled, 'agent-0', `--image=${IMAGE}`, '--container=dbg-ok', '--profile=restricted']);
    expect(r.stderr).not.toContain('denied');
    expect(r.code).toBe(0);
    expect((await getPod(enabled, 'agent-0')).spec?.ephemeralContainers?.map((c) => c.name)).toContain('dbg-ok');
  });

  it('refuses an update that removes the opt-in label and swaps the sidecar\'s image in one go (judged against the stored pod)', async () => {
    const pod = await getPod(optIn, 'agent-0');
    const labels = { ...pod.metadata?.labels };
    delete labels['agentwarden.io/inject'];
    const swapped: V1Pod = { ...pod, metadata: { ...pod.metadata, labels }, spec: { ...pod.spec!, initContainers: pod.spec?.initContainers?.map((c) => (c.name === 'agentwarden-sidecar' ? { ...c, image: 'registry.example/not-the-sidecar:1' } : c)) } };
    const r = await asTenant(['replace', '-f', '-'], JSON.stringify(swapped));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(OBJECT_GUARD);
    expect(r.stderr).toContain('container agentwarden-sidecar was injected by agentwarden and may not be changed');
    expect(r.stderr).toContain('label agentwarden.io/inject is set when an agent pod is created and may not be changed');
  });

  it('refuses removing the opt-in label alone: the next update would escape the guard', async () => {
    const r = await asTenant(['label', 'pod', '-n', optIn, 'agent-0', 'agentwarden.io/inject-']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(OBJECT_GUARD);
    expect(r.stderr).toContain('label agentwarden.io/inject is set when an agent pod is created and may not be changed');
  });

  it('refuses switching an injected pod to proxy-env capture by annotation', async () => {
    const r = await asTenant(['annotate', 'pod', '-n', enabled, 'agent-0', 'agentwarden.io/capture=proxy-env']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(NAMESPACE_GUARD);
    expect(r.stderr).toContain('annotation agentwarden.io/capture is set when an agent pod is created and may not be changed');
  });

  it('refuses swapping the image of the injected Envoy', async () => {
    const r = await asTenant(['set', 'image', '-n', enabled, 'pod/agent-0', 'agentwarden-envoy=registry.example/not-envoy:1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('container agentwarden-envoy was injected by agentwarden and may not be changed');
  });

  it('admits an update of the agent\'s own image', async () => {
    const r = await asTenant(['set', 'image', '-n', enabled, 'pod/agent-0', `agent=registry.example/agent:2`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
