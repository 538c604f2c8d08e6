// Issue 14, "streams outlive their pod", as a namespace admin would try it
// (kubectl impersonating a user granted in one namespace what the built-in
// `admin` role grants on pods, ServiceAccounts and Secrets) against the local control plane and the controller: a
// distribution stream is opened with a pod's real bound token (TokenRequest,
// as the kubelet projects it), then the pod is deleted, or deleted and
// recreated under the same name with another ServiceAccount and credential.
// The stream is held by a hand-driven gRPC client: what a holder of the token
// outside the pod would do. Token expiry (the API server's minimum lifetime is
// 10 min) is covered by controller/test/distribution.test.ts.
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { ControllerMessageSchema, SidecarMessageSchema, type ControllerMessage, type SidecarMessage } from '../../proto/gen/agentwarden/v1/distribution_pb.js';
import { distributionService } from '../../common/distribution-service.js';
import type { RunningController } from '../../controller/src/main.js';
import { ROOT, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { boundToken, controllerOn, freePort, policyManifest } from './controller-env.js';
import { INJECTED_LABEL, INJECTED_LABEL_VALUE } from '../../controller/src/kube/objects.js';

const ns = uniqueNamespace('streams');
const TENANT_ADMIN = 'tenant-admin@example.com';
const AGENT_VALUE = 'agent-credential-value';
const BILLING_VALUE = 'billing-credential-value';
let port = 0;
let controller: RunningController | undefined;
const streams: HeldStream[] = [];

/** kubectl as the tenant's namespace admin. */
function asTenant(args: readonly string[], stdin?: string): Promise<string> {
  return kubectlOk(['--as', TENANT_ADMIN, '-n', ns, ...args], stdin);
}

/**
 * Creates a pod as the tenant (Pending: nothing schedules it here), labelled as the injector
 * labels it unless `injected` is false, and returns its uid.
 */
async function tenantPod(name: string, serviceAccount: string, labels: Record<string, string>, injected = true): Promise<string> {
  await asTenant(['create', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: ns, labels: injected ? { ...labels, [INJECTED_LABEL]: INJECTED_LABEL_VALUE } : labels },
    spec: { serviceAccountName: serviceAccount, containers: [{ name: 'agent', image: 'example.com/agent:1' }] },
  }));
  const uid = (await asTenant(['get', 'pod', name, '-o', 'jsonpath={.metadata.uid}'])).trim();
  if (!injected) return uid;
  // A hello before the controller's pod cache has the pod is refused ("not known"): wait for it.
  await waitFor(`the controller to see pod ${name}`, () => (controller?.informers.pods.get(ns, name)?.metadata.uid === uid ? true : undefined), 30_000);
  return uid;
}

/** A stream held by a client that has a pod's token: every message it receives, and how the stream ended. */
class HeldStream {
  readonly received: { readonly atMs: number; readonly message: ControllerMessage }[] = [];
  ended: { readonly atMs: number; readonly status: grpc.StatusObject } | undefined;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<SidecarMessage, ControllerMessage>;

  constructor(token: string, pod: string) {
    const Ctor = grpc.makeGenericClientConstructor(distributionService, 'PolicyDistribution');
    this.client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    this.call = (this.client as unknown as { Stream: () => grpc.ClientDuplexStream<SidecarMessage, ControllerMessage> }).Stream();
    this.call.on('data', (message: ControllerMessage) => {
      this.received.push({ atMs: Date.now(), message });
      if (message.kind.case === 'snapshot') this.call.write(create(SidecarMessageSchema, { kind: { case: 'ack', value: { version: message.kind.value.snapshot?.version ?? '', nonce: message.kind.value.nonce } } }));
    });
    this.call.on('error', () => undefined);
    this.call.on('status', (status: grpc.StatusObject) => { this.ended = { atMs: Date.now(), status }; });
    this.call.write(create(SidecarMessageSchema, { kind: { case: 'hello', value: { token, namespace: ns, podName: pod, currentVersion: '', sidecarVersion: 'e2e' } } }));
    streams.push(this);
  }

  /** Whether any message received carries `value` (credential values travel in snapshots). */
  carries(value: string): boolean {
    return this.received.some((r) => Buffer.from(toBinary(ControllerMessageSchema, r.message)).includes(value));
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

async function tokenOf(pod: string, serviceAccount: string, uid: string): Promise<string> {
  return readFileSync(await boundToken(ns, serviceAccount, pod, uid), 'utf8');
}

beforeAll(async () => {
  await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentpolicy.yaml')]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io']);
  await kubectlOk(['create', 'namespace', ns]);
  // The built-in `admin` ClusterRole is an aggregation that kube-controller-manager fills in; this
  // control plane runs none, so the same grants `admin` gives on these resources are spelled out.
  await kubectlOk(['create', 'role', 'tenant-admin', '-n', ns, '--verb=*', '--resource=pods,serviceaccounts,secrets']);
  await kubectlOk(['create', 'rolebinding', 'tenant-admin', '-n', ns, '--role', 'tenant-admin', '--user', TENANT_ADMIN]);
  await asTenant(['create', 'serviceaccount', 'agent']);
  await asTenant(['create', 'serviceaccount', 'billing']);
  for (const [secret, value] of [['agent-token', AGENT_VALUE], ['billing-token', BILLING_VALUE]] as const) {
    await asTenant(['create', 'secret', 'generic', secret, `--from-literal=token=${value}`]);
    await asTenant(['label', 'secret', secret, 'agentwarden.io/credential=true']);
  }
  // Every app=agent pod gets the agent credential; a team=billing pod also gets the billing one.
  // Policies as the cluster admin (the agentpolicies ClusterRoles come with the chart, not installed here).
  await kubectlOk(['apply', '-f', '-'], policyManifest(ns, 'agent-policy', ['/v1/tickets/{id}'], '      credential: api\n  credentials:\n    - {name: api, secretRef: {name: agent-token, key: token}}\n'));
  await kubectlOk(['apply', '-f', '-'], policyManifest(ns, 'billing-policy', ['/v1/invoices/{id}'], '      credential: billing\n  credentials:\n    - {name: billing, secretRef: {name: billing-token, key: token}}\n').replace('{matchLabels: {app: agent}}', '{matchLabels: {team: billing}}'));
  port = await freePort();
  controller = await controllerOn(port, ns);
  // On a shared, busy API server the first lists can take a while; the timings below start after them.
  const { policies, pods, secrets } = controller.informers;
  await waitFor('the controller\'s caches to sync', () => ([policies, pods, secrets].every((i) => i.stats().synced) ? true : undefined), 150_000);
}, 180_000);

afterAll(async () => {
  for (const s of streams) s.close();
  await controller?.stop();
});

describe('the controller serves only pods labelled agentwarden.io/injected=true (issue 20)', () => {
  it('refuses a sidecar whose pod lacks the label, naming it, and serves the pod once it is labelled', async () => {
    const uid = await tenantPod('agent-unlabelled', 'agent', { app: 'agent' }, false);
    const token = await tokenOf('agent-unlabelled', 'agent', uid);
    const refused = new HeldStream(token, 'agent-unlabelled');
    const ended = await waitFor('the stream to be refused', () => refused.ended, 30_000, 5);
    expect(ended.status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(ended.status.details).toContain(`pod ${ns}/agent-unlabelled is not known: the controller serves only pods labelled ${INJECTED_LABEL}=${INJECTED_LABEL_VALUE}`);
    expect(refused.received).toEqual([]);
    // The cache never held it: the informer lists and watches with the label selector.
    expect(controller?.informers.pods.get(ns, 'agent-unlabelled')).toBeUndefined();

    // Labelling a pod injected by an older version (the README's upgrade step) brings it in.
    await asTenant(['label', 'pod', 'agent-unlabelled', `${INJECTED_LABEL}=${INJECTED_LABEL_VALUE}`]);
    await waitFor('the controller to see the labelled pod', () => (controller?.informers.pods.get(ns, 'agent-unlabelled')?.metadata.uid === uid ? true : undefined), 30_000);
    const served = new HeldStream(token, 'agent-unlabelled');
    await waitFor('the pod\'s snapshot', () => (served.received.length > 0 ? true : undefined), 60_000);
    expect(served.carries(AGENT_VALUE)).toBe(true);
  });
});

describe('a distribution stream is bound to one incarnation of its pod (issue 14, as a namespace admin)', () => {
  it('closes the stream of a deleted pod within 1 s of the deletion', async () => {
    const uid = await tenantPod('agent-deleted', 'agent', { app: 'agent' });
    const held = new HeldStream(await tokenOf('agent-deleted', 'agent', uid), 'agent-deleted');
    await waitFor('the pod\'s snapshot', () => (held.received.length > 0 ? true : undefined), 120_000);
    expect(held.carries(AGENT_VALUE)).toBe(true);

    await asTenant(['delete', 'pod', 'agent-deleted', '--wait=false']);
    const deletedAt = Date.now();
    const ended = await waitFor('the stream to close', () => held.ended, 5_000, 5);
    process.stdout.write(`bench: streams pod_deletion_to_stream_closed_ms=${ended.atMs - deletedAt}\n`);
    expect(ended.atMs - deletedAt).toBeLessThan(1_000);
    expect(ended.status.code).toBe(grpc.status.PERMISSION_DENIED);
    // The watch may deliver the pod's deletionTimestamp before its removal: either refusal names the deletion.
    expect(ended.status.details).toMatch(new RegExp(`^pod ${ns}/agent-deleted (was deleted|is being deleted)$`));
  });

  it('sends the old stream nothing of a pod recreated under the same name with another ServiceAccount; the new pod gets its snapshot only on its own stream', async () => {
    const firstUid = await tenantPod('agent-0', 'agent', { app: 'agent' });
    const firstToken = await tokenOf('agent-0', 'agent', firstUid);
    const held = new HeldStream(firstToken, 'agent-0');
    await waitFor('the first incarnation\'s snapshot', () => (held.received.length > 0 ? true : undefined), 120_000);

    // Deleted and recreated at once, running as another ServiceAccount, with the billing credential.
    await asTenant(['delete', 'pod', 'agent-0', '--wait=true']);
    const deletedAt = Date.now();
    const secondUid = await tenantPod('agent-0', 'billing', { app: 'agent', team: 'billing' });
    expect(secondUid).not.toBe(firstUid);
    const ended = await waitFor('the old stream to close', () => held.ended, 5_000, 5);
    expect(ended.atMs - deletedAt).toBeLessThan(1_000);
    expect(ended.status.code).toBe(grpc.status.PERMISSION_DENIED);

    // The old token opens nothing for the new pod.
    const again = new HeldStream(firstToken, 'agent-0');
    const refused = await waitFor('the old token to be refused', () => again.ended, 15_000);
    expect([grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED]).toContain(refused.status.code);
    expect(again.received).toEqual([]);

    // The new pod's own token gets the new pod's snapshot, billing credential included.
    const own = new HeldStream(await tokenOf('agent-0', 'billing', secondUid), 'agent-0');
    await waitFor('the new pod\'s snapshot with the billing credential', () => (own.carries(BILLING_VALUE) ? true : undefined), 120_000);
    // Nothing of it ever reached the first incarnation's holders.
    expect(held.carries(BILLING_VALUE)).toBe(false);
    expect(again.carries(BILLING_VALUE)).toBe(false);
    expect(held.received.every((r) => r.atMs < deletedAt)).toBe(true);
  });
});
