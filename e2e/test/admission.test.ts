// The admission webhooks against the real API server: the webhook server runs
// in-process on 127.0.0.1 with the e2e PKI's serving certificate, registered
// by URL with failurePolicy Fail and scoped to this suite's namespace. Pods
// created there come back injected, invalid and risky AgentPolicies are
// answered in kubectl's own output, and pods that would bypass the capture
// are refused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { ROOT, kubectl, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { freePort } from './controller-env.js';
import { startLocalWebhookServer } from './webhook-server.js';
import type { RunningWebhookServer } from '../../controller/src/admission/index.js';
import { DEFAULT_INJECT_OPTIONS, INJECTED_ANNOTATION, INJECTED_LABEL, INJECTED_LABEL_VALUE } from '../../controller/src/inject/index.js';

const PKI = join(ROOT, '.cache/e2e/pki');
const ns = uniqueNamespace('adm');
const SCOPE_LABEL = 'agentwarden-e2e/admission';
const CONFIG_NAME = `agentwarden-e2e-${ns}`;
let server: RunningWebhookServer | undefined;

function webhookConfigurations(port: number): string {
  const clientConfig = (path: string): object => ({ url: `https://127.0.0.1:${port}${path}`, caBundle: readFileSync(join(PKI, 'ca.crt')).toString('base64') });
  const common = { namespaceSelector: { matchLabels: { [SCOPE_LABEL]: ns } }, failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 10 };
  const mutating = {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: CONFIG_NAME },
    webhooks: [{ name: 'pods.inject.agentwarden.io', clientConfig: clientConfig('/mutate-pods'), rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }], reinvocationPolicy: 'Never', ...common }],
  };
  const validating = {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: CONFIG_NAME },
    webhooks: [
      { name: 'agentpolicies.validate.agentwarden.io', clientConfig: clientConfig('/validate-agentpolicies'), rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['agentwarden.io'], apiVersions: ['v1alpha1'], resources: ['agentpolicies'] }], ...common },
      { name: 'pods.guard.agentwarden.io', clientConfig: clientConfig('/validate-pods'), rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'pods/ephemeralcontainers'] }], ...common },
    ],
  };
  return `${JSON.stringify(mutating)}\n---\n${JSON.stringify(validating)}\n`;
}

function podManifest(name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: object } = {}): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: 'agent', ...extra.labels }, ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }) },
    spec: { containers: [{ name: 'agent', image: 'registry.example/agent:1' }], ...extra.spec },
  });
}

function policyManifest(name: string, rules: string, extra = ''): string {
  return `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  podSelector: {matchLabels: {app: agent}}
${extra}  rules:
${rules}`;
}

async function getPod(name: string): Promise<V1Pod> {
  return JSON.parse(await kubectlOk(['get', 'pod', '-n', ns, name, '-o', 'json'])) as V1Pod;
}

beforeAll(async () => {
  await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentpolicy.yaml')]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io']);
  await kubectlOk(['create', 'namespace', ns]);
  // allow-proxy-env: the proxy-env injection below is allowed here (e2e/test/pod-guard.test.ts shows the refusal elsewhere).
  await kubectlOk(['label', 'namespace', ns, 'agentwarden.io/inject=enabled', 'agentwarden.io/allow-proxy-env=true', `${SCOPE_LABEL}=${ns}`]);
  await kubectlOk(['create', 'serviceaccount', 'default', '-n', ns]);

  const port = await freePort();
  server = await startLocalWebhookServer(port, DEFAULT_INJECT_OPTIONS);
  await kubectlOk(['apply', '-f', '-'], webhookConfigurations(port));
  // The API server picks webhook configurations up asynchronously: wait until a server-side dry run comes back injected.
  await waitFor('the mutating webhook to be active', async () => {
    const r = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], podManifest('probe'));
    return r.code === 0 && r.stdout.includes(INJECTED_ANNOTATION) ? true : undefined;
  }, 60_000, 200);
  await waitFor('the validating webhooks to be active', async () => {
    const r = await kubectl(['create', '--dry-run=server', '-f', '-'], podManifest('probe', { spec: { hostNetwork: true } }));
    return r.code !== 0 && r.stderr.includes('pods.guard.agentwarden.io') ? true : undefined;
  }, 60_000, 200);
});

afterAll(async () => {
  // Cluster-scoped: left behind, they would refuse this namespace's objects in later runs of other suites.
  await kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', CONFIG_NAME, '--ignore-not-found']);
  await server?.close();
});

describe('the admission webhooks on a real API server', () => {
  it('injects a pod created in an enabled namespace: the API server stores Envoy, the sidecar and the capture', async () => {
    await kubectlOk(['apply', '-f', '-'], podManifest('agent-0'));
    const pod = await getPod('agent-0');
    expect(pod.spec?.initContainers?.map((c) => [c.name, c.restartPolicy ?? ''])).toEqual([['agentwarden-init', ''], ['agentwarden-sidecar', 'Always'], ['agentwarden-envoy', 'Always']]);
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['agent']);
    expect(JSON.parse(pod.metadata?.annotations?.[INJECTED_ANNOTATION] ?? '{}')).toMatchObject({ initContainers: ['agentwarden-init', 'agentwarden-sidecar', 'agentwarden-envoy'], volumes: ['agentwarden-token', 'agentwarden-authz'] });
    // The label the controller's pods informer selects on (issue 20).
    expect(pod.metadata?.labels?.[INJECTED_LABEL]).toBe(INJECTED_LABEL_VALUE);
    const token = pod.spec?.volumes?.find((v) => v.name === 'agentwarden-token')?.projected?.sources?.[0]?.serviceAccountToken;
    expect(token).toEqual({ audience: 'agentwarden', expirationSeconds: 3600, path: 'token' });
    const envoy = pod.spec?.initContainers?.find((c) => c.name === 'agentwarden-envoy');
    expect(envoy?.args?.[0]).toBe('--config-yaml');
    expect(pod.spec?.initContainers?.[0]?.securityContext?.capabilities?.add).toEqual(['NET_ADMIN', 'NET_RAW']);
  });

  it('does not inject a pod in a namespace that is not enabled', async () => {
    const other = uniqueNamespace('adm-off');
    await kubectlOk(['create', 'namespace', other]);
    // In the webhooks' scope, but without agentwarden.io/inject=enabled.
    await kubectlOk(['label', 'namespace', other, `${SCOPE_LABEL}=${ns}`]);
    await kubectlOk(['create', 'serviceaccount', 'default', '-n', other]);
    await kubectlOk(['apply', '-f', '-'], podManifest('plain').replace(`"namespace":"${ns}"`, `"namespace":"${other}"`));
    const pod = JSON.parse(await kubectlOk(['get', 'pod', '-n', other, 'plain', '-o', 'json'])) as V1Pod;
    expect(pod.spec?.initContainers ?? []).toEqual([]);
    expect(pod.metadata?.annotations?.[INJECTED_ANNOTATION]).toBeUndefined();
    expect(pod.metadata?.labels?.[INJECTED_LABEL]).toBeUndefined();
  });

  it('injects a pod created right after its namespace is enabled: no window in which the old labels admit it uninjected', async () => {
    const other = uniqueNamespace('adm-late');
    await kubectlOk(['create', 'namespace', other]);
    await kubectlOk(['label', 'namespace', other, `${SCOPE_LABEL}=${ns}`]);
    await kubectlOk(['create', 'serviceaccount', 'default', '-n', other]);
    const inOther = (name: string): string => podManifest(name).replace(`"namespace":"${ns}"`, `"namespace":"${other}"`);
    // The webhooks have just read this namespace as not enabled (a cache would now hold that answer).
    await kubectlOk(['create', '-f', '-'], inOther('before'));
    await kubectlOk(['label', 'namespace', other, 'agentwarden.io/inject=enabled']);
    await kubectlOk(['create', '-f', '-'], inOther('after'));
    const before = JSON.parse(await kubectlOk(['get', 'pod', '-n', other, 'before', '-o', 'json'])) as V1Pod;
    const after = JSON.parse(await kubectlOk(['get', 'pod', '-n', other, 'after', '-o', 'json'])) as V1Pod;
    expect(before.metadata?.annotations?.[INJECTED_ANNOTATION]).toBeUndefined();
    expect(after.spec?.initContainers?.map((c) => c.name)).toEqual(['agentwarden-init', 'agentwarden-sidecar', 'agentwarden-envoy']);
  });

  it('changes nothing when an injected pod is submitted again', async () => {
    const first = await getPod('agent-0');
    const again = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent-0-again', namespace: ns, labels: first.metadata?.labels, annotations: first.metadata?.annotations }, spec: first.spec };
    await kubectlOk(['create', '-f', '-'], JSON.stringify(again));
    const second = await getPod('agent-0-again');
    const comparable = (p: V1Pod): unknown => ({ init: p.spec?.initContainers, containers: p.spec?.containers, volumes: p.spec?.volumes, injected: p.metadata?.annotations?.[INJECTED_ANNOTATION] });
    expect(comparable(second)).toEqual(comparable(first));
  });

  it('injects proxy-env capture as environment on the app containers, without the capture container', async () => {
    await kubectlOk(['apply', '-f', '-'], podManifest('agent-env', { annotations: { 'agentwarden.io/capture': 'proxy-env' } }));
    const pod = await getPod('agent-env');
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(['agentwarden-sidecar', 'agentwarden-envoy']);
    expect(pod.spec?.containers[0]?.env?.find((e) => e.name === 'HTTPS_PROXY')?.value).toBe('http://127.0.0.1:15001');
  });

  it('rejects a pod with an annotation it cannot honour, with the webhook\'s message', async () => {
    const r = await kubectl(['apply', '-f', '-'], podManifest('agent-bad', { annotations: { 'agentwarden.io/tls-origination': 'https://api.zendesk.com' } }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('admission webhook "pods.inject.agentwarden.io" denied the request');
    expect(r.stderr).toContain('metadata.annotations["agentwarden.io/tls-origination"]');
  });

  it('rejects an AgentPolicy whose when condition has a typo, naming the rule and the field', async () => {
    const r = await kubectl(['apply', '-f', '-'], policyManifest('typo', `    - name: read-tickets
      to: {hosts: [api.zendesk.com]}
      when: "reqest.method == 'GET'"
`));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`admission webhook "agentpolicies.validate.agentwarden.io" denied the request: AgentPolicy ${ns}/typo is invalid: spec.rules[0].when: rule "read-tickets": `);
    expect(r.stderr).toContain('reqest');
    expect((await kubectl(['get', 'agentpolicy', '-n', ns, 'typo'])).code).not.toBe(0);
  });

  it('admits a risky AgentPolicy and shows the warning in kubectl\'s stderr', async () => {
    const r = await kubectl(['apply', '-f', '-'], policyManifest('anywhere', `    - name: anything-goes
      to: {hosts: ["*"]}
`));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('agentpolicy.agentwarden.io/anywhere created');
    expect(r.stderr).toContain('Warning: spec.rules[0] (rule "anything-goes"): allows host "*": the agent may reach any host with any request');
  });

  it('rejects a hostNetwork pod, saying why', async () => {
    const r = await kubectl(['apply', '-f', '-'], podManifest('host', { spec: { hostNetwork: true } }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('admission webhook "pods.guard.agentwarden.io" denied the request: agentwarden: pod');
    expect(r.stderr).toContain('spec.hostNetwork: true');
  });

  it('rejects a pod that opts out of injection in an enabled namespace', async () => {
    const r = await kubectl(['apply', '-f', '-'], podManifest('optout', { labels: { 'agentwarden.io/inject': 'disabled' } }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('the pod opts out of injection (label agentwarden.io/inject=disabled)');
  });

  it('rejects an app container with NET_ADMIN', async () => {
    const r = await kubectl(['apply', '-f', '-'], podManifest('netadmin', { spec: { containers: [{ name: 'agent', image: 'registry.example/agent:1', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }] } }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.containers[0] (agent): capability NET_ADMIN');
  });

  it('rejects kubectl debug --profile=netadmin on an agent pod', async () => {
    const r = await kubectl(['debug', '-n', ns, 'agent-0', '--image=registry.example/busybox:1', '--profile=netadmin', '--container=debugger']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.ephemeralContainers[0] (debugger): capability NET_ADMIN');
  });
});
