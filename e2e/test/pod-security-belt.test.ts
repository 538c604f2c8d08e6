// The pod guard's belt and Pod Security admission (issue 14 item 6), on the
// real API server. The chart's ValidatingAdmissionPolicy and bindings (helm
// template, validatingAdmissionPolicy.enabled=true, scoped to this run's
// namespaces) are installed, and the chart's webhooks too, but with
// failurePolicy Ignore and nothing answering them: the pod guard webhook is
// out of the way, as it is when the controller is down and someone set Ignore.
// Every write is made by an impersonated namespace admin. Pods are injected
// in-process by the chart's injector options (what the mutating webhook would
// have stored), then broken one rule at a time; each refusal is asserted by
// the policy's binding and the rule's name. The Pod Security part labels
// namespaces as the chart's podSecurity values render them and shows what the
// real PodSecurity admission says about injected pods in each capture mode.
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { kubectl, kubectlOk, tempFile, uniqueNamespace, waitFor } from './cluster.js';
import { PKI, freePort } from './controller-env.js';
import { AGENT_IMAGE as IMAGE, agentPod, asTenant, admitTenant, createNamespaceAdminRole, getPod, renderChart, tenantNamespace } from './tenant.js';
import { guardPod } from '../../controller/src/admission/index.js';
import { injectPod, parseInjectOptions, type InjectOptions } from '../../controller/src/inject/index.js';

const SCOPE = 'agentwarden-e2e/pod-security-belt';
const run = uniqueNamespace('awb');
const POLICY = `${run}-agentwarden-pod-guard`;
const NAMESPACE_ADMIN = `${run}-namespace-admin`;
/** Enabled by the platform. */
const enabled = `${run}-on`;
/** Not enabled: pods opt in with their own label. */
const optIn = `${run}-opt`;
/** Created by the chart (podSecurity.namespaces) with enforceRestricted: true. */
const restricted = `${run}-rs`;
/** Created by the chart with enforceRestricted: false (enforce privileged). */
const privileged = `${run}-pr`;
/** Enabled, labelled pod-security.kubernetes.io/enforce=baseline by hand. */
const baseline = `${run}-bl`;
/** Where the chart's own workloads would run: the release namespace, enforcing restricted. */
const release = `${run}-sys`;
const scopeArgs = ['--set-string', `webhook.scopeLabels.${SCOPE}=${run}`];
let options: InjectOptions;

function denied(binding: 'namespace' | 'object', rule: string): string {
  return `ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}-${binding}' denied request: [${rule}]`;
}

/** The pod as the chart's injector stores it, then changed by `after` (what the tenant writes instead). */
function injected(pod: V1Pod, after?: (p: V1Pod) => void): string {
  const out = injectPod(pod, options);
  after?.(out);
  return JSON.stringify(out);
}

function container(p: V1Pod, name: string): V1Container {
  const c = [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].find((x) => x.name === name);
  if (c === undefined) throw new Error(`no container ${name} in the injected pod`);
  return c;
}

const randomName = (): string => `p-${Math.random().toString(36).slice(2, 10)}`;

beforeAll(async () => {
  await createNamespaceAdminRole(NAMESPACE_ADMIN);
  await tenantNamespace(enabled, [`${SCOPE}=${run}`, 'agentwarden.io/inject=enabled'], NAMESPACE_ADMIN);
  await tenantNamespace(optIn, [`${SCOPE}=${run}`], NAMESPACE_ADMIN);
  await tenantNamespace(baseline, [`${SCOPE}=${run}`, 'agentwarden.io/inject=enabled', 'pod-security.kubernetes.io/enforce=baseline'], NAMESPACE_ADMIN);
  await kubectlOk(['create', 'namespace', release]);
  await kubectlOk(['label', 'namespace', release, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
  await kubectlOk(['create', 'serviceaccount', 'default', '-n', release]);
  // The chart's podSecurity namespaces, one release per level (a real install would list them in one).
  for (const [ns, restrict] of [[restricted, true], [privileged, false]] as const) {
    await kubectlOk(['apply', '-f', '-'], await renderChart(run, 'templates/namespaces.yaml', [...scopeArgs, '--set', `podSecurity.namespaces={${ns}}`, '--set', `podSecurity.enforceRestricted=${restrict}`]));
    await admitTenant(ns, NAMESPACE_ADMIN);
  }
  const configMap = parseYaml(await renderChart(run, 'templates/inject-configmap.yaml', scopeArgs)) as { data: Record<string, string> };
  options = parseInjectOptions(parseYaml(configMap.data['inject.yaml'] ?? ''), 'the chart\'s inject.yaml');
  // The chart's webhooks, failing open at an address where nothing listens.
  const nobody = await freePort();
  await kubectlOk(['apply', '-f', '-'], await renderChart(run, 'templates/webhooks.yaml', [...scopeArgs, '--set', 'webhook.failurePolicy=Ignore',
    '--set', `webhook.url=https://127.0.0.1:${nobody}`, '--set-file', `webhook.caBundle=${join(PKI, 'ca.crt')}`]));
  await kubectlOk(['apply', '-f', '-'], await renderChart(run, 'templates/admission-policy.yaml', [...scopeArgs, '--set', 'validatingAdmissionPolicy.enabled=true']));
  // The API server picks policies and bindings up asynchronously.
  for (const [ns, binding, labels] of [[enabled, 'namespace', {}], [optIn, 'object', { 'agentwarden.io/inject': 'enabled' }]] as const) {
    await waitFor(`the ${binding} binding to be active`, async () => {
      const r = await kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(agentPod(ns, 'probe', { labels })));
      return r.code !== 0 && r.stderr.includes(denied(binding, 'injection')) ? true : undefined;
    }, 60_000, 200);
  }
  await asTenant(['create', '-f', '-'], injected(agentPod(enabled, 'agent-0')));
  await asTenant(['create', '-f', '-'], injected(agentPod(optIn, 'agent-0', { labels: { 'agentwarden.io/inject': 'enabled' } })));
});

afterAll(async () => {
  // Cluster-scoped: left behind, they would judge pods of later runs' namespaces (scoped by label, but still).
  for (const suffix of ['namespace', 'object']) await kubectl(['delete', 'validatingadmissionpolicybinding', `${POLICY}-${suffix}`, '--ignore-not-found']);
  await kubectl(['delete', 'validatingadmissionpolicy', POLICY, '--ignore-not-found']);
  await kubectl(['delete', 'mutatingwebhookconfiguration', `${run}-agentwarden-inject`, '--ignore-not-found']);
  await kubectl(['delete', 'validatingwebhookconfiguration', `${run}-agentwarden-validate`, '--ignore-not-found']);
  await kubectl(['delete', 'clusterrole', NAMESPACE_ADMIN, '--ignore-not-found']);
});

describe('the admission-policy belt, with the pod guard webhook failing open', () => {
  it('is tried by a namespace admin, with the chart\'s webhooks registered as failurePolicy Ignore', async () => {
    expect((await asTenant(['auth', 'can-i', 'create', 'pods', '-n', enabled])).stdout.trim()).toBe('yes');
    expect((await asTenant(['auth', 'can-i', 'patch', `namespace/${enabled}`])).stdout.trim()).toBe('no');
    const webhooks = await kubectlOk(['get', 'validatingwebhookconfiguration', `${run}-agentwarden-validate`, '-o', 'jsonpath={.webhooks[*].failurePolicy}']);
    expect(new Set(webhooks.split(' '))).toEqual(new Set(['Ignore']));
  });

  it('admits the pod as the chart\'s injector stores it (iptables capture), as the webhook\'s guard does', async () => {
    const pod = await getPod(enabled, 'agent-0');
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(['agentwarden-init', 'agentwarden-sidecar', 'agentwarden-envoy']);
    const stored = injectPod(agentPod(enabled, 'agent-0'), options);
    expect(guardPod({ operation: 'CREATE', namespace: enabled, pod: stored, oldPod: undefined, namespaceLabels: { 'agentwarden.io/inject': 'enabled' }, proxyUid: options.proxyUid, allowProxyEnv: options.allowProxyEnv })).toEqual([]);
  });

  it('refuses an uninjected agent pod: the mutating webhook did not run', async () => {
    const r = await asTenant(['create', '-f', '-'], JSON.stringify(agentPod(enabled, randomName())));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${denied('namespace', 'injection')} the pod was not injected`);
  });

  // One pod per rule, created by the tenant in an enabled namespace: injected, and broken in one way.
  // Each is also put to the webhook's own guard (guardPod, in-process): it refuses them all but
  // the two the belt adds (an injected container's image and privileges, which the webhook leaves
  // to the injector, whose containers it trusts by the record).
  const BELT_ONLY = new Set(['an injected container running another image', 'agentwarden-init with SYS_ADMIN']);
  const creations: readonly (readonly [string, () => string, string])[] = [
    ['capture downgrade: agentwarden.io/capture=proxy-env where the platform did not allow it',
      () => injected(agentPod(enabled, randomName(), { annotations: { 'agentwarden.io/capture': 'proxy-env' } })),
      `[capture-mode] agentwarden.io/capture=proxy-env is not allowed in namespace ${enabled}`],
    ['opting out of injection in an enabled namespace', () => JSON.stringify(agentPod(enabled, randomName(), { labels: { 'agentwarden.io/inject': 'disabled' } })),
      `[opt-out] the pod opts out of injection (agentwarden.io/inject=disabled) but namespace ${enabled} has agentwarden.io/inject=enabled`],
    ['hostNetwork', () => JSON.stringify(agentPod(enabled, randomName(), { spec: { hostNetwork: true } })), '[host-network] spec.hostNetwork: true'],
    ['iptables capture without agentwarden-init', () => injected(agentPod(enabled, randomName()), (p) => { p.spec!.initContainers = p.spec!.initContainers!.filter((c) => c.name !== 'agentwarden-init'); }),
      '[injection] the pod was not injected'],
    ['an injected container running another image', () => injected(agentPod(enabled, randomName()), (p) => { container(p, 'agentwarden-envoy').image = 'registry.example/not-envoy:1'; }),
      "[injected-image] container(s) agentwarden-envoy (registry.example/not-envoy:1): the names agentwarden-envoy, agentwarden-sidecar and agentwarden-init are agentwarden's"],
    ['agentwarden-init with SYS_ADMIN', () => injected(agentPod(enabled, randomName()), (p) => { container(p, 'agentwarden-init').securityContext!.capabilities!.add = ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN']; }),
      '[injected-profile] agentwarden-envoy and agentwarden-sidecar run as the proxy UID 1337'],
    ['mounting agentwarden-authz (the Check socket)', () => injected(agentPod(enabled, randomName(), { agent: { volumeMounts: [{ name: 'agentwarden-authz', mountPath: '/authz' }] } })),
      "[agentwarden-volume] container(s) agent mount agentwarden's own volumes"],
    ['mounting agentwarden-token (the sidecar\'s token)', () => injected(agentPod(enabled, randomName(), { agent: { volumeMounts: [{ name: 'agentwarden-token', mountPath: '/token', readOnly: true }] } })),
      "[agentwarden-volume] container(s) agent mount agentwarden's own volumes"],
    ['projecting its own token with audience agentwarden',
      () => injected(agentPod(enabled, randomName(), { spec: { volumes: [{ name: 'mine', projected: { sources: [{ serviceAccountToken: { audience: 'agentwarden', path: 'token' } }] } }] } })),
      "[agentwarden-token] a volume other than agentwarden-token projects a ServiceAccount token with audience agentwarden, the sidecar's identity"],
    ['hostPID', () => injected(agentPod(enabled, randomName(), { spec: { hostPID: true } })), '[host-pid] spec.hostPID: true'],
    ['hostIPC', () => injected(agentPod(enabled, randomName(), { spec: { hostIPC: true } })), '[host-ipc] spec.hostIPC: true'],
    ['a hostPath volume', () => injected(agentPod(enabled, randomName(), { spec: { volumes: [{ name: 'node', hostPath: { path: '/var/lib/kubelet/pods' } }] } })),
      '[host-path] volume(s) node (hostPath /var/lib/kubelet/pods)'],
    ['shareProcessNamespace', () => injected(agentPod(enabled, randomName(), { spec: { shareProcessNamespace: true } })), '[share-process-namespace] spec.shareProcessNamespace: true'],
    ...['SYS_PTRACE', 'SYS_ADMIN', 'SETUID', 'NET_RAW', 'NET_ADMIN'].map((cap) => [`capability ${cap}`,
      () => injected(agentPod(enabled, randomName(), { agent: { securityContext: { capabilities: { add: [cap] } } } })),
      `[capabilities] container(s) agent (adds ${cap}): an agent container may add only NET_BIND_SERVICE`] as const),
    ['privileged', () => injected(agentPod(enabled, randomName(), { agent: { securityContext: { privileged: true } } })), '[privileged] container(s) agent'],
    ['capabilities.drop without ALL', () => injected(agentPod(enabled, randomName()), (p) => { container(p, 'agent').securityContext!.capabilities = { drop: ['NET_RAW'] }; }),
      '[drop-all] container(s) agent: capabilities.drop does not include ALL'],
    ['allowPrivilegeEscalation: true', () => injected(agentPod(enabled, randomName(), { agent: { securityContext: { allowPrivilegeEscalation: true } } })),
      '[privilege-escalation] container(s) agent: allowPrivilegeEscalation is not false'],
    ['runAsNonRoot: false', () => injected(agentPod(enabled, randomName(), { spec: { securityContext: { runAsNonRoot: false } } })),
      '[run-as-non-root] container(s) agent: runAsNonRoot is not true'],
    ['running as root (runAsUser 0)', () => injected(agentPod(enabled, randomName(), { agent: { securityContext: { runAsUser: 0 } } })), '[run-as-user] container(s) agent (UID 0)'],
    ['running as the proxy UID 1337 (pod level)', () => injected(agentPod(enabled, randomName(), { spec: { securityContext: { runAsUser: 1337 } } })), '[run-as-user] container(s) agent (UID 1337)'],
    ['running as the proxy UID 1337 (container level)', () => injected(agentPod(enabled, randomName(), { agent: { securityContext: { runAsUser: 1337 } } })), '[run-as-user] container(s) agent (UID 1337)'],
    ['no runAsUser: the image\'s USER would decide', () => injected(agentPod(enabled, randomName()), (p) => { delete p.spec!.securityContext!.runAsUser; }),
      '[run-as-user] container(s) agent (no runAsUser)'],
    ['an app init container with the proxy UID', () => injected(agentPod(enabled, randomName(), { spec: { initContainers: [{ name: 'setup', image: IMAGE, securityContext: { runAsUser: 1337 } }] } })),
      '[run-as-user] container(s) setup (UID 1337)'],
    ['an app container named like agentwarden\'s', () => injected(agentPod(enabled, randomName()), (p) => { container(p, 'agent').name = 'agentwarden-helper'; }),
      "[reserved-name] container(s) agentwarden-helper: the name prefix agentwarden- is agentwarden's"],
  ];
  it.each(creations)('refuses a pod with %s, saying why', async (rule, manifest, reason) => {
    const body = manifest();
    const pod = JSON.parse(body) as V1Pod;
    const name = pod.metadata?.name ?? '';
    const webhook = guardPod({ operation: 'CREATE', namespace: enabled, pod, oldPod: undefined, namespaceLabels: { 'agentwarden.io/inject': 'enabled' }, proxyUid: options.proxyUid, allowProxyEnv: options.allowProxyEnv });
    expect(webhook.length === 0).toBe(BELT_ONLY.has(rule));
    const r = await asTenant(['create', '-f', '-'], body);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}-namespace' denied request: ${reason}`);
    expect((await kubectl(['get', 'pod', '-n', enabled, name])).code).not.toBe(0);
  });

  it('stays within the CEL cost budget for a pod of 40 containers with 16 mounts each, and still names the one that breaks a rule', async () => {
    const volumes = Array.from({ length: 16 }, (_, i) => ({ name: `v${i}`, emptyDir: {} }));
    const containers = Array.from({ length: 40 }, (_, i) => ({ name: `c${i}`, image: IMAGE, volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/m/${v.name}` })) }));
    const big = (name: string): V1Pod => agentPod(enabled, name, { spec: { containers, volumes } });
    const ok = await asTenant(['create', '-f', '-'], injected(big('big')));
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const bad = await asTenant(['create', '-f', '-'], injected(big(randomName()), (p) => { container(p, 'c39').securityContext!.capabilities!.add = ['NET_RAW']; }));
    expect(bad.stderr).toContain(`${denied('namespace', 'capabilities')} container(s) c39 (adds NET_RAW)`);
  });

  // kubectl debug: an update of pods/ephemeralcontainers; only the containers it adds are judged.
  const debugs: readonly (readonly [string, readonly string[], object | undefined, string])[] = [
    ['targeting agentwarden-sidecar', ['--profile=restricted', '--target=agentwarden-sidecar'], undefined, '[debug-target] ephemeral container(s) dbg-0 -> agentwarden-sidecar'],
    ['with the general profile: SYS_PTRACE', ['--profile=general'], undefined, '[capabilities] container(s) dbg-1 (adds SYS_PTRACE)'],
    ['with the sysadmin profile: privileged', ['--profile=sysadmin'], undefined, '[privileged] container(s) dbg-2'],
    ['with the netadmin profile: NET_ADMIN', ['--profile=netadmin'], undefined, '[capabilities] container(s) dbg-3 (adds NET_ADMIN, NET_RAW)'],
    ['mounting agentwarden-authz', ['--profile=restricted'], { volumeMounts: [{ name: 'agentwarden-authz', mountPath: '/authz' }] }, "[agentwarden-volume] container(s) dbg-4 mount agentwarden's own volumes"],
    ['running as the proxy UID', ['--profile=restricted'], { securityContext: { runAsUser: 1337 } }, '[run-as-user] container(s) dbg-5 (UID 1337)'],
  ];
  it.each(debugs.map((d, i) => [...d, i] as const))('refuses kubectl debug %s', async (_what, flags, custom, reason, i) => {
    const extra = custom === undefined ? [] : [`--custom=${tempFile('custom.json', JSON.stringify(custom))}`];
    const r = await asTenant(['debug', '-n', enabled, 'agent-0', `--image=${IMAGE}`, `--container=dbg-${i}`, ...flags, ...extra]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}-namespace' denied request: ${reason}`);
  });

  it('admits kubectl debug --profile=restricted: it inherits the pod\'s UID 1000', async () => {
    const r = await asTenant(['debug', '-n', enabled, 'agent-0', `--image=${IMAGE}`, '--container=dbg-ok', '--profile=restricted']);
    expect(r.stderr).not.toContain('denied');
    expect(r.code).toBe(0);
  });

  it('refuses swapping the image of the injected Envoy', async () => {
    const r = await asTenant(['set', 'image', '-n', enabled, 'pod/agent-0', 'agentwarden-envoy=registry.example/not-envoy:1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${denied('namespace', 'injected-unchanged')} the containers agentwarden injected`);
  });

  it('refuses switching an injected pod to proxy-env capture by annotation', async () => {
    const r = await asTenant(['annotate', 'pod', '-n', enabled, 'agent-0', 'agentwarden.io/capture=proxy-env']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${denied('namespace', 'fixed-at-creation')} the label agentwarden.io/inject and the annotations`);
  });

  it('admits an update of the agent\'s own image', async () => {
    const r = await asTenant(['set', 'image', '-n', enabled, 'pod/agent-0', 'agent=registry.example/agent:2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('refuses an uninjected pod that opts in by label outside an enabled namespace (the object binding)', async () => {
    const r = await asTenant(['create', '-f', '-'], JSON.stringify(agentPod(optIn, randomName(), { labels: { 'agentwarden.io/inject': 'enabled' } })));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${denied('object', 'injection')} the pod was not injected`);
  });

  it('refuses a pod that opts in by label and out by annotation (the object binding)', async () => {
    const r = await asTenant(['create', '-f', '-'], JSON.stringify(agentPod(optIn, randomName(), { labels: { 'agentwarden.io/inject': 'enabled' }, annotations: { 'agentwarden.io/inject': 'disabled' } })));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${denied('object', 'opt-out')} the pod opts out of injection (agentwarden.io/inject=disabled) but the pod sets agentwarden.io/inject=enabled`);
  });

  it('leaves pods that do not opt in alone outside enabled namespaces', async () => {
    const r = await asTenant(['create', '-f', '-'], JSON.stringify(agentPod(optIn, randomName())));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('refuses removing the opt-in label: the old pod still matches the object binding', async () => {
    const r = await asTenant(['label', 'pod', '-n', optIn, 'agent-0', 'agentwarden.io/inject-']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${denied('object', 'fixed-at-creation')} the label agentwarden.io/inject`);
  });
});

describe('Pod Security admission and the injected containers', () => {
  it('restricted (the chart\'s podSecurity.enforceRestricted): refuses iptables capture for agentwarden-init alone', async () => {
    const r = await asTenant(['create', '-f', '-'], injected(agentPod(restricted, randomName(), { spec: { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } } })));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('violates PodSecurity "restricted:latest": ');
    expect(r.stderr).toContain('unrestricted capabilities (container "agentwarden-init" must not include "NET_ADMIN", "NET_RAW" in securityContext.capabilities.add)');
    expect(r.stderr).toContain('runAsNonRoot != true (container "agentwarden-init" must not set securityContext.runAsNonRoot=false)');
    expect(r.stderr).toContain('runAsUser=0 (container "agentwarden-init" must not set runAsUser=0)');
    expect(r.stderr).not.toMatch(/agentwarden-envoy|agentwarden-sidecar|"agent"/);
  });

  it('restricted: a proxy-env pod needs seccompProfile RuntimeDefault from its author; Envoy and the sidecar set their own', async () => {
    const proxyEnv = { annotations: { 'agentwarden.io/capture': 'proxy-env' } };
    const without = await asTenant(['create', '-f', '-'], injected(agentPod(restricted, randomName(), proxyEnv)));
    expect(without.code).not.toBe(0);
    expect(without.stderr).toContain('violates PodSecurity "restricted:latest": seccompProfile (pod or container "agent" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")');
    const withSeccomp = await asTenant(['create', '-f', '-'], injected(agentPod(restricted, 'proxy-env', { ...proxyEnv, spec: { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } } })));
    expect(withSeccomp.code).toBe(0);
    // The capture mode warning of the pod guard is the webhook's; with the webhook failing open there is none.
    expect(withSeccomp.stderr).toBe('');
  });

  it('restricted: the chart\'s own workloads (controller Deployment, pre-delete hook Job, helm test Pod) meet it in the release namespace, without a warning', async () => {
    const manifests = await renderChart(run, 'templates/deployment.yaml', [...scopeArgs, '--namespace', release,
      '--show-only', 'templates/hooks/delete-webhooks.yaml', '--show-only', 'templates/tests/readyz.yaml']);
    const r = await kubectl(['create', '--dry-run=server', '--namespace', release, '-f', '-'], manifests);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('baseline: refuses iptables capture too (NET_ADMIN and NET_RAW are not in its default capabilities)', async () => {
    const r = await asTenant(['create', '-f', '-'], injected(agentPod(baseline, randomName())));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('violates PodSecurity "baseline:latest": non-default capabilities (container "agentwarden-init" must not include "NET_ADMIN", "NET_RAW" in securityContext.capabilities.add)');
  });

  it('privileged (the chart\'s default for its namespaces): admits iptables capture, and the belt still judges the pod', async () => {
    const ok = await asTenant(['create', '-f', '-'], injected(agentPod(privileged, 'iptables')));
    expect(ok.code).toBe(0);
    const labels = JSON.parse(await kubectlOk(['get', 'namespace', privileged, '-o', 'jsonpath={.metadata.labels}'])) as Record<string, string>;
    expect(labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/audit': 'restricted', 'agentwarden.io/inject': 'enabled' });
    const bad = await asTenant(['create', '-f', '-'], injected(agentPod(privileged, randomName(), { spec: { hostPID: true } })));
    expect(bad.stderr).toContain(`${denied('namespace', 'host-pid')} spec.hostPID: true`);
  });
});
