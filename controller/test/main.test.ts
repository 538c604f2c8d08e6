// The controller as main.ts wires it (informers, snapshots, distribution,
// status), on a fake Kube (lists over in-memory objects, watches that stay
// open until aborted, TokenReview by table) with a real sidecar
// DistributionClient over gRPC on loopback. What e2e/ cannot time precisely:
// the first moments after a start, and an edit blocked by another policy.
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, type CoordinationV1Api, type V1Secret, type Watch } from '@kubernetes/client-node';
import { DistributionClient } from '../../sidecar/src/distribution/client.js';
import { readControllerConfig } from '../src/config.js';
import { startController, type RunningController } from '../src/main.js';
import type { ClusterPolicyApi } from '../src/cluster/index.js';
import type { ApprovalApi } from '../src/approvals/index.js';
import type { Kube } from '../src/kube/api.js';
import type { AgentPolicyObject, SlimPod, SlimSecret } from '../src/kube/objects.js';
import type { PolicyStatus } from '../src/status/compute.js';
import { TOKEN_AUDIENCE, type TokenReviewResult } from '../src/distribution/auth.js';
import { NAMESPACE, SERVICE_ACCOUNT, allowSpec, eventually, jwtLike, policyObject, slimPod } from './helpers.js';

const POD = 'support-agent-0';
/** The pod's projected token, as its sidecar reads it from the file. */
const TOKEN_OF_POD = jwtLike('token-of-pod');

const BOUND: TokenReviewResult = {
  authenticated: true,
  username: `system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`,
  extra: { 'authentication.kubernetes.io/pod-name': [POD], 'authentication.kubernetes.io/pod-uid': [`uid-${POD}`] },
  audiences: [TOKEN_AUDIENCE],
  error: '',
};
const REJECTED: TokenReviewResult = { authenticated: false, username: '', extra: {}, audiences: [], error: 'invalid bearer token' };

/** Watches that report nothing and end, as client-node's do, when aborted. */
const silentWatch = {
  watch(_path: string, _params: unknown, _callback: unknown, done: (err: unknown) => void): Promise<AbortController> {
    const controller = new AbortController();
    controller.signal.addEventListener('abort', () => { setImmediate(() => { done(new DOMException('This operation was aborted', 'AbortError')); }); });
    return Promise.resolve(controller);
  },
} as unknown as Watch;

class FakeKube implements Kube {
  readonly config = new KubeConfig();
  readonly watch = silentWatch;
  readonly coordination = {} as CoordinationV1Api;
  policies: AgentPolicyObject[] = [];
  pods: SlimPod[] = [slimPod({ name: POD })];
  readonly statusWrites: { readonly name: string; readonly status: PolicyStatus }[] = [];
  private rv = 100;

  /** The policy list completes once this resolves (a slow LIST). */
  policiesListed: Promise<void> = Promise.resolve();

  async listPolicies(keep: (p: AgentPolicyObject) => AgentPolicyObject = (p) => p) {
    await this.policiesListed;
    return { items: this.policies.map(keep), resourceVersion: String(this.rv++) };
  }
  listPods() { return Promise.resolve({ items: this.pods, resourceVersion: String(this.rv++) }); }
  /** What the API server answers the labelled list with. */
  secrets: V1Secret[] = [];
  listSecrets(slim: (s: V1Secret) => SlimSecret) { return Promise.resolve({ items: this.secrets.map(slim), resourceVersion: String(this.rv++) }); }
  reviewToken(token: string): Promise<TokenReviewResult> {
    return Promise.resolve(token === TOKEN_OF_POD ? BOUND : REJECTED);
  }
  namespaceLabels(): Promise<Record<string, string> | undefined> {
    return Promise.resolve({});
  }
  writeStatus(_namespace: string, name: string, status: unknown) {
    this.statusWrites.push({ name, status: status as PolicyStatus });
    return Promise.resolve();
  }

  /** The latest status written for `name` that satisfies `where`. */
  statusOf(name: string, where: (s: PolicyStatus) => boolean): PolicyStatus | undefined {
    return this.statusWrites.filter((w) => w.name === name && where(w.status)).at(-1)?.status;
  }
}

/** No ClusterAgentPolicies and no namespaces: the cluster informers sync empty. */
const NO_CLUSTER_POLICIES: ClusterPolicyApi = {
  listClusterPolicies: () => Promise.resolve({ items: [], resourceVersion: '1' }),
  listNamespaces: () => Promise.resolve({ items: [], resourceVersion: '1' }),
  writeClusterStatus: () => Promise.resolve(),
};

/** No AgentAccessRequests: the grants' informer syncs empty. */
const NO_ACCESS_REQUESTS: ApprovalApi = {
  listAccessRequests: () => Promise.resolve({ items: [], resourceVersion: '1' }),
  createAccessRequest: () => Promise.reject(new Error('not in this test')),
  deleteAccessRequest: () => Promise.resolve(),
  writeStatus: () => Promise.resolve(),
  createEvent: () => Promise.resolve(),
  readSecretKey: () => Promise.resolve(undefined),
  readPod: () => Promise.resolve(undefined),
};

const cleanup: (() => Promise<void> | void)[] = [];

async function controllerOn(kube: FakeKube, flags: readonly string[] = []): Promise<RunningController> {
  const config = readControllerConfig(['--distribution-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--leader-elect', 'false', '--identity', 'test', ...flags], {});
  const running = await startController(config, () => undefined, kube, undefined, NO_CLUSTER_POLICIES, NO_ACCESS_REQUESTS);
  cleanup.push(() => running.stop());
  return running;
}

interface Installed { readonly version: string; readonly policies: number; readonly credentials: readonly string[] }

/** A sidecar of POD; `previous` is the version it enforces from an earlier controller, if any. */
function sidecarOf(running: RunningController, previous = ''): Installed[] {
  const dir = mkdtempSync(join(tmpdir(), 'aw-controller-status-'));
  cleanup.push(() => { rmSync(dir, { recursive: true, force: true }); });
  writeFileSync(join(dir, 'token'), TOKEN_OF_POD);
  const installed: Installed[] = [];
  const client = new DistributionClient({
    address: running.distributionAddress, tokenFile: join(dir, 'token'), namespace: NAMESPACE, podName: POD, caFile: undefined, sidecarVersion: 'test',
    log: { log: () => undefined },
    install: (s) => { installed.push({ version: s.version, policies: s.policies.length, credentials: s.credentials.map((c) => `${c.name}=${Buffer.from(c.value).toString()}`) }); return undefined; },
    currentVersion: () => installed.at(-1)?.version ?? previous,
  });
  client.start();
  cleanup.push(() => client.stop());
  return installed;
}

describe('the controller wired by startController', () => {
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('does not report in AgentPolicy.status an edit as enforced while a broken policy beside it keeps the pods on their previous snapshot', async () => {
    const kube = new FakeKube();
    kube.policies = [policyObject('support', allowSpec('a.example.com'), { resourceVersion: '1', generation: 1 })];
    const running = await controllerOn(kube);
    const installed = sidecarOf(running);

    const first = await eventually('generation 1 reported synced', () => kube.statusOf('support', (s) => s.observedGeneration === 1 && s.pods.synced === 1));
    expect(first.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');

    // The edit of "support" lands together with a policy that cannot be read,
    // in the same namespace: every pod there keeps its previous snapshot.
    kube.policies = [
      policyObject('support', allowSpec('b.example.com'), { resourceVersion: '2', generation: 2 }),
      policyObject('broken', { podSelector: {}, rules: [{ name: 'Bad_Name', to: { hosts: ['c.example.com'] } }] }, { resourceVersion: '3' }),
    ];
    const installedBefore = installed.length;
    running.informers.policies.relist();
    const second = await eventually('a status for generation 2', () => kube.statusOf('support', (s) => s.observedGeneration === 2));
    expect(installed).toHaveLength(installedBefore); // the sidecar still enforces generation 1
    expect(second.pods).toEqual({ selected: 1, synced: 0 });
    expect(second.conditions.find((c) => c.type === 'Synced')?.status).toBe('False');
    expect(second.conditions.find((c) => c.type === 'Ready')?.status).toBe('False');
  });

  it('sends a sidecar that connects right after a controller restart no snapshot until the policies are listed', async () => {
    const kube = new FakeKube();
    kube.policies = [policyObject('support', allowSpec('a.example.com'))];
    let listPolicies = (): void => undefined;
    kube.policiesListed = new Promise((resolve) => { listPolicies = resolve; });
    const running = await controllerOn(kube);
    // The sidecar enforced a snapshot from the previous controller instance.
    const installed = sidecarOf(running, 'sha256:from-the-previous-controller');
    await eventually('the sidecar to connect', () => (running.distribution.connectionCount() === 1 ? true : undefined));
    listPolicies();
    await eventually('the snapshot with the policy', () => installed.find((i) => i.policies === 1));
    expect(installed.filter((i) => i.policies === 0)).toEqual([]);
  });

  it('keeps only the Secret keys policies read, refetches the Secrets when a policy reads another key, and says in Ready which credential is unavailable', async () => {
    const kube = new FakeKube();
    const b64 = (v: string): string => Buffer.from(v).toString('base64');
    kube.secrets = [{ metadata: { name: 'zendesk-api', namespace: NAMESPACE, resourceVersion: '5' }, data: { token: b64('tk'), 'admin-token': b64('adm') } }];
    const spec = (name: string, key: string): unknown => ({ ...(allowSpec('a.example.com', undefined, { credential: 'zendesk' }) as object), credentials: [{ name: 'zendesk', secretRef: { name, key } }] });
    kube.policies = [policyObject('support', spec('zendesk-api', 'token'), { resourceVersion: '1', generation: 1 })];
    const running = await controllerOn(kube);
    const installed = sidecarOf(running);
    await eventually('the credential', () => installed.find((i) => i.credentials.includes('zendesk=tk')));
    expect(running.informers.secrets.get(NAMESPACE, 'zendesk-api')?.data).toEqual({ token: b64('tk') });

    kube.policies = [policyObject('support', spec('zendesk-api', 'admin-token'), { resourceVersion: '2', generation: 2 })];
    running.informers.policies.relist();
    await eventually('the credential read from the other key', () => installed.find((i) => i.credentials.includes('zendesk=adm')));
    expect(running.informers.secrets.get(NAMESPACE, 'zendesk-api')?.data).toEqual({ 'admin-token': b64('adm') });

    kube.policies = [policyObject('support', spec('not-labelled', 'token'), { resourceVersion: '3', generation: 3 })];
    running.informers.policies.relist();
    const status = await eventually('a status for generation 3', () => kube.statusOf('support', (s) => s.observedGeneration === 3));
    expect(status.conditions.find((c) => c.type === 'Compiled')?.status).toBe('True');
    expect(status.conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False', reason: 'CredentialUnavailable',
      message: expect.stringContaining(`credential "zendesk" unavailable: Secret ${NAMESPACE}/not-labelled is not among the Secrets labelled agentwarden.io/credential=true`) as unknown,
    });
    expect(running.informers.secrets.get(NAMESPACE, 'zendesk-api')?.data).toEqual({});
  });

  it('refuses a credential value above --max-credential-value-bytes and a policy above --max-policy-bytes: status says why, /metrics counts them, the sidecar never gets the value', async () => {
    const kube = new FakeKube();
    const b64 = (v: string | Buffer): string => Buffer.from(v).toString('base64');
    kube.secrets = [{ metadata: { name: 'flood', namespace: NAMESPACE, resourceVersion: '5' }, data: { token: b64(Buffer.alloc(700 * 1024, 'x')) } }];
    const spec = { ...(allowSpec('a.example.com', undefined, { credential: 'zendesk' }) as object), credentials: [{ name: 'zendesk', secretRef: { name: 'flood', key: 'token' } }] };
    const huge = allowSpec(`${'a'.repeat(2000)}.example.com`, { app: 'other' });
    kube.policies = [policyObject('support', spec, { resourceVersion: '1' }), policyObject('huge', huge, { resourceVersion: '2', namespace: 'team-b' })];
    const running = await controllerOn(kube, ['--max-policy-bytes', '1024']);
    const installed = sidecarOf(running);

    const status = await eventually('the credential refused in status', () => kube.statusOf('support', (s) => s.conditions.some((c) => c.reason === 'CredentialTooLarge')));
    expect(status.conditions.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      message: expect.stringContaining(`credential "zendesk" refused: Secret ${NAMESPACE}/flood: the value of key "token" is ${700 * 1024} bytes, above the controller's --max-credential-value-bytes 8192`) as unknown,
    });
    const hugeStatus = await eventually('the policy refused in status', () => kube.statusOf('huge', (s) => s.conditions.some((c) => c.reason === 'PolicyTooLarge')));
    expect(hugeStatus.conditions.find((c) => c.type === 'Compiled')).toMatchObject({ status: 'False', message: expect.stringContaining('above the controller\'s --max-policy-bytes 1024') as unknown });
    expect(running.informers.secrets.get(NAMESPACE, 'flood')?.data).toEqual({});
    expect(running.informers.policies.get('team-b', 'huge')?.spec).toBeUndefined();
    await eventually('a snapshot', () => installed.at(-1));
    // The credential arrives without a value: rules that inject it deny ("not available").
    expect(new Set(installed.flatMap((i) => i.credentials))).toEqual(new Set(['zendesk=']));

    const metrics = await (await fetch(`http://${running.metricsAddress}/metrics`)).text();
    expect(metrics).toContain('agentwarden_informer_refused_total{resource="secrets",reason="value_too_large"} 1');
    expect(metrics).toContain('agentwarden_informer_refused_total{resource="agentpolicies",reason="object_too_large"} 1');
    expect(metrics).toContain('agentwarden_informer_cached_bytes{resource="secrets"} 0');
  });
});
