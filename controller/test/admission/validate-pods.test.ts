// /validate-pods, the pod guard, over HTTP: in an enabled namespace an agent
// pod may not opt out, use the host's network, hold NET_ADMIN/NET_RAW, or run
// as the proxy's UID; the injection must be there and stay unchanged.
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_INJECT_OPTIONS, injectPod } from '../../src/inject/index.js';
import { pod, review, startApp, type TestApp } from './helpers.js';

const injected = (p: V1Pod): V1Pod => injectPod(p, DEFAULT_INJECT_OPTIONS);

describe('the /validate-pods webhook (pod guard)', () => {
  let app: TestApp;
  beforeAll(async () => { app = await startApp(); });
  afterAll(async () => { await app.close(); });

  const guard = async (object: V1Pod, extra: { namespace?: string; operation?: 'CREATE' | 'UPDATE'; oldObject?: V1Pod; subResource?: string } = {}) => {
    const { response } = await app.post('/validate-pods', review({ object, ...extra }));
    return response;
  };

  it('admits an injected agent pod', async () => {
    expect(await guard(injected(pod('agent-0')))).toMatchObject({ allowed: true });
  });

  it('refuses proxy-env capture where neither the chart nor the namespace allows it, saying how to allow it', async () => {
    const r = await guard(injected(pod('agent-0', {}, { annotations: { 'agentwarden.io/capture': 'proxy-env' } })));
    expect(r?.status?.message).toBe("agentwarden: pod support/agent-0 is refused: agentwarden.io/capture=proxy-env is not allowed in namespace support: it is cooperative (an agent that ignores HTTP_PROXY is not governed); the platform allows it with the namespace label agentwarden.io/allow-proxy-env=true or the chart's inject.allowProxyEnv");
  });

  it('admits proxy-env capture in a namespace labelled agentwarden.io/allow-proxy-env=true', async () => {
    const p = injected(pod('agent-0', {}, { namespace: 'legacy', annotations: { 'agentwarden.io/capture': 'proxy-env' } }));
    expect(await guard(p, { namespace: 'legacy' })).toMatchObject({ allowed: true });
  });

  it('admits proxy-env capture everywhere when the chart sets inject.allowProxyEnv', async () => {
    const open = await startApp({ inject: { ...DEFAULT_INJECT_OPTIONS, allowProxyEnv: true } });
    try {
      const { response } = await open.post('/validate-pods', review({ object: injected(pod('agent-0', {}, { annotations: { 'agentwarden.io/capture': 'proxy-env' } })) }));
      expect(response).toMatchObject({ allowed: true });
    } finally {
      await open.close();
    }
  });

  it('rejects a pod that opts out with the label, saying why', async () => {
    const r = await guard(pod('debug', {}, { labels: { 'agentwarden.io/inject': 'disabled' } }));
    expect(r?.allowed).toBe(false);
    expect(r?.status).toEqual({ code: 403, reason: 'Forbidden', message: 'agentwarden: pod support/debug is refused: the pod opts out of injection (label agentwarden.io/inject=disabled) but namespace support has agentwarden.io/inject=enabled: without the proxy its traffic would not be governed' });
  });

  it('rejects a pod that opts out with the annotation', async () => {
    const r = await guard(pod('debug', {}, { annotations: { 'agentwarden.io/inject': 'disabled' } }));
    expect(r?.status?.message).toContain('(annotation agentwarden.io/inject=disabled)');
  });

  it('rejects hostNetwork', async () => {
    const r = await guard(pod('host', { hostNetwork: true }));
    expect(r?.status?.message).toBe("agentwarden: pod support/host is refused: spec.hostNetwork: true: the pod would use the node's network, where the capture does not apply and the agent's traffic would bypass agentwarden");
  });

  it.each(['NET_ADMIN', 'NET_RAW', 'CAP_NET_ADMIN', 'ALL'])('rejects an app container with capability %s', async (cap) => {
    const p = injected(pod('agent', { containers: [{ name: 'agent', image: 'a', securityContext: { capabilities: { add: [cap] } } }] }));
    const r = await guard(p);
    expect(r?.allowed).toBe(false);
    expect(r?.status?.message).toContain(`spec.containers[0] (agent): capability ${cap.replace('CAP_', '')} would let the agent change the traffic capture rules`);
  });

  it('rejects an app init container with NET_ADMIN, but not the injected capture container', async () => {
    const p = injected(pod('agent', { initContainers: [{ name: 'setup', image: 's', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }] }));
    const r = await guard(p);
    expect(r?.status?.message).toBe('agentwarden: pod support/agent is refused: spec.initContainers[3] (setup): capability NET_ADMIN would let the agent change the traffic capture rules or send raw packets past them');
  });

  it('rejects a privileged app container', async () => {
    const r = await guard(injected(pod('agent', { containers: [{ name: 'agent', image: 'a', securityContext: { privileged: true } }] })));
    expect(r?.status?.message).toContain('spec.containers[0] (agent): privileged: a privileged container could change the traffic capture rules');
  });

  it('rejects an app that runs as the proxy UID (pod-level or container-level)', async () => {
    const r1 = await guard(injected(pod('agent', { securityContext: { runAsUser: 1337 } })));
    expect(r1?.status?.message).toContain("spec.containers[0] (agent): runs as UID 1337, the proxy's UID, whose traffic the capture lets through");
    const r2 = await guard(injected(pod('agent', { containers: [{ name: 'agent', image: 'a', securityContext: { runAsUser: 1337 } }] })));
    expect(r2?.allowed).toBe(false);
  });

  it('gives every reason at once', async () => {
    const r = await guard(pod('bad', { hostNetwork: true, containers: [{ name: 'agent', image: 'a', securityContext: { capabilities: { add: ['NET_RAW'] } } }] }, { labels: { 'agentwarden.io/inject': 'disabled' } }));
    expect(r?.status?.message.split('; ')).toHaveLength(3);
  });

  it('rejects an agent pod the injector never saw', async () => {
    const r = await guard(pod('agent'));
    expect(r?.status?.message).toBe('agentwarden: pod support/agent is refused: the pod was not injected (no agentwarden.io/injected record): is the agentwarden mutating webhook installed?');
  });

  it('rejects a pod whose record names injected containers that are not there', async () => {
    const p = injected(pod('agent'));
    p.spec!.initContainers = p.spec!.initContainers!.filter((c) => c.name !== 'agentwarden-envoy');
    const r = await guard(p);
    expect(r?.status?.message).toContain('the injected container(s) agentwarden-envoy are missing');
  });

  it('applies to a pod that opts in with its own label in a namespace without the label', async () => {
    const r = await guard(pod('x', { hostNetwork: true }, { namespace: 'web', labels: { 'agentwarden.io/inject': 'enabled' } }), { namespace: 'web' });
    expect(r?.allowed).toBe(false);
  });

  it('leaves pods in namespaces without the label alone', async () => {
    const r = await guard(pod('node-exporter', { hostNetwork: true, containers: [{ name: 'c', image: 'c', securityContext: { privileged: true } }] }, { namespace: 'web' }), { namespace: 'web' });
    expect(r).toMatchObject({ allowed: true });
  });

  it('rejects kubectl debug with a NET_ADMIN ephemeral container', async () => {
    const before = injected(pod('agent'));
    const after: V1Pod = { ...before, spec: { ...before.spec!, ephemeralContainers: [{ name: 'debugger', image: 'busybox', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }] } };
    const r = await guard(after, { operation: 'UPDATE', oldObject: before, subResource: 'ephemeralcontainers' });
    expect(r?.status?.message).toContain('spec.ephemeralContainers[0] (debugger): capability NET_ADMIN');
  });

  it('admits kubectl debug --profile=restricted: the ephemeral container inherits the injected pod-level UID', async () => {
    const before = injected(pod('agent'));
    const restricted = { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
    const after: V1Pod = { ...before, spec: { ...before.spec!, ephemeralContainers: [{ name: 'debugger', image: 'busybox', securityContext: restricted }] } };
    expect(await guard(after, { operation: 'UPDATE', oldObject: before, subResource: 'ephemeralcontainers' })).toMatchObject({ allowed: true });
  });

  it('refuses an ephemeral container without the profile, saying what is missing', async () => {
    const before = injected(pod('agent'));
    const after: V1Pod = { ...before, spec: { ...before.spec!, ephemeralContainers: [{ name: 'debugger', image: 'busybox' }] } };
    const r = await guard(after, { operation: 'UPDATE', oldObject: before, subResource: 'ephemeralcontainers' });
    expect(r?.status?.message).toContain('spec.ephemeralContainers[0] (debugger): capabilities.drop does not include ALL');
    expect(r?.status?.message).toContain('spec.ephemeralContainers[0] (debugger): allowPrivilegeEscalation is not false');
  });

  it('refuses an update that removes the opt-in label, judged against the stored pod', async () => {
    const before = injected(pod('agent', {}, { namespace: 'web', labels: { app: 'agent', 'agentwarden.io/inject': 'enabled' } }));
    const after = structuredClone(before);
    after.metadata!.labels = { app: 'agent' };
    after.spec!.initContainers![1]!.image = 'registry.example/not-the-sidecar:1';
    const r = await guard(after, { namespace: 'web', operation: 'UPDATE', oldObject: before });
    expect(r?.status?.message).toContain('container agentwarden-sidecar was injected by agentwarden and may not be changed');
    expect(r?.status?.message).toContain('label agentwarden.io/inject is set when an agent pod is created and may not be changed');
  });

  it('rejects an update that swaps the image of an injected container', async () => {
    const before = injected(pod('agent'));
    const after = structuredClone(before);
    after.spec!.initContainers![2]!.image = 'registry.example/not-envoy:1';
    const r = await guard(after, { operation: 'UPDATE', oldObject: before });
    expect(r?.status?.message).toContain('container agentwarden-envoy was injected by agentwarden and may not be changed');
  });

  it('admits an update of the app\'s own image and any update of a pod being deleted', async () => {
    const before = injected(pod('agent'));
    const after = structuredClone(before);
    after.spec!.containers[0]!.image = 'registry.example/agent:2';
    expect(await guard(after, { operation: 'UPDATE', oldObject: before })).toMatchObject({ allowed: true });
    const deleting = structuredClone(before);
    deleting.metadata!.deletionTimestamp = new Date('2026-03-03T09:00:00Z');
    deleting.metadata!.annotations = {};
    expect(await guard(JSON.parse(JSON.stringify(deleting)) as V1Pod, { operation: 'UPDATE', oldObject: before })).toMatchObject({ allowed: true });
  });

  const restrictedAgent = { name: 'agent', image: 'a' };
  it.each([
    ['hostPID', { hostPID: true }, 'spec.hostPID: true'],
    ['hostIPC', { hostIPC: true }, 'spec.hostIPC: true'],
    ['shareProcessNamespace', { shareProcessNamespace: true }, 'spec.shareProcessNamespace: true'],
    ['a hostPath volume', { volumes: [{ name: 'node', hostPath: { path: '/var/lib/kubelet' } }] }, 'spec.volumes[0] (node): hostPath /var/lib/kubelet'],
    ['its own token with audience agentwarden', { volumes: [{ name: 't', projected: { sources: [{ serviceAccountToken: { audience: 'agentwarden', path: 't' } }] } }] }, 'spec.volumes[0] (t): a ServiceAccount token with audience agentwarden'],
    ['a mount of agentwarden-authz', { containers: [{ ...restrictedAgent, volumeMounts: [{ name: 'agentwarden-authz', mountPath: '/x' }] }] }, "spec.containers[0] (agent): mounts volume agentwarden-authz, agentwarden's own"],
    ['a mount of agentwarden-token', { containers: [{ ...restrictedAgent, volumeMounts: [{ name: 'agentwarden-token', mountPath: '/x' }] }] }, "spec.containers[0] (agent): mounts volume agentwarden-token, agentwarden's own"],
    ['capability SYS_PTRACE', { containers: [{ ...restrictedAgent, securityContext: { capabilities: { add: ['SYS_PTRACE'] } } }] }, 'spec.containers[0] (agent): capability SYS_PTRACE'],
    ['runAsUser 0', { containers: [{ ...restrictedAgent, securityContext: { runAsUser: 0 } }] }, 'spec.containers[0] (agent): runs as UID 0 (root)'],
    ['runAsNonRoot false', { securityContext: { runAsNonRoot: false } }, 'spec.containers[0] (agent): runAsNonRoot is not true'],
    ['allowPrivilegeEscalation true', { containers: [{ ...restrictedAgent, securityContext: { allowPrivilegeEscalation: true } }] }, 'spec.containers[0] (agent): allowPrivilegeEscalation is not false'],
    ['a container named agentwarden-*', { containers: [{ name: 'agentwarden-helper', image: 'a' }] }, 'spec.containers[0] (agentwarden-helper): the name prefix agentwarden- is agentwarden\'s'],
  ])('refuses an injected pod with %s', async (_what, spec, message) => {
    const r = await guard(injected(pod('agent', spec)));
    expect(r?.allowed).toBe(false);
    expect(r?.status?.message).toContain(message);
  });

  it('sets the agent UID where the pod sets none, so the image USER never decides', async () => {
    const p = injected(pod('agent'));
    expect(p.spec?.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000 });
    expect(p.spec?.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(await guard(p)).toMatchObject({ allowed: true });
  });

  it('refuses an ephemeral container that targets agentwarden-sidecar', async () => {
    const before = injected(pod('agent'));
    const ec = { name: 'dbg', image: 'busybox', targetContainerName: 'agentwarden-sidecar', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } };
    const after: V1Pod = { ...before, spec: { ...before.spec!, ephemeralContainers: [ec] } };
    const r = await guard(after, { operation: 'UPDATE', oldObject: before, subResource: 'ephemeralcontainers' });
    expect(r?.status?.message).toBe("agentwarden: pod support/agent is refused: spec.ephemeralContainers[0] (dbg): targets container agentwarden-sidecar, agentwarden's own: in its process namespace the debugger could read its memory, files and sockets");
  });

  it('refuses when the namespace labels cannot be read', async () => {
    const r = await guard(pod('agent', {}, { namespace: 'broken' }), { namespace: 'broken' });
    expect(r?.allowed).toBe(false);
    expect(r?.status?.code).toBe(500);
  });
});
