// PolicyDistribution end to end over a real socket: the controller's
// DistributionServer on a real grpc-js server on 127.0.0.1, and the sidecar's
// real DistributionClient (its token read from a file). TokenReview is the
// only fake. Snapshots come from the real compiler.
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { SidecarMessageSchema, type ControllerMessage, type SidecarMessage } from '../../proto/gen/agentwarden/v1/distribution_pb.js';
import type { Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { compileSnapshot, parseAgentPolicy } from '../../policy/src/index.js';
import { distributionService } from '../../common/distribution-service.js';
import { DistributionClient } from '../../sidecar/src/distribution/client.js';
import { SidecarAuthenticator, TOKEN_AUDIENCE, type TokenReviewer, type TokenReviewResult } from '../src/distribution/auth.js';
import { DistributionServer, type StreamTimeouts } from '../src/distribution/server.js';
import type { SlimPod } from '../src/kube/objects.js';
import { NAMESPACE, SERVICE_ACCOUNT, allowSpec, eventually, jwtLike, policyObject, slimPod, until } from './helpers.js';

const POD_A = 'support-agent-0';
const POD_B = 'support-agent-1';
const KEY_A = `${NAMESPACE}/${POD_A}`;
const KEY_B = `${NAMESPACE}/${POD_B}`;

/** The snapshot of pod `pod` under one policy allowing `host`. */
function snapshotAllowing(host: string, pod: string): Snapshot {
  const policy = parseAgentPolicy(policyObject('support', allowSpec(host)), `${NAMESPACE}/support`, NAMESPACE);
  return compileSnapshot([policy], { namespace: NAMESPACE, name: pod, serviceAccount: SERVICE_ACCOUNT, labels: { app: 'support-agent' } }, { shareAcrossPods: true });
}

const V1 = snapshotAllowing('api.zendesk.com', POD_A);
const V2_EDITED = snapshotAllowing('tickets.zendesk.com', POD_A);

function bound(pod: string): TokenReviewResult {
  return {
    authenticated: true,
    username: `system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`,
    extra: { 'authentication.kubernetes.io/pod-name': [pod], 'authentication.kubernetes.io/pod-uid': [`uid-${pod}`] },
    audiences: [TOKEN_AUDIENCE],
    error: '',
  };
}

const TOKEN_A = jwtLike('token-of-a');
const TOKEN_B = jwtLike('token-of-b');
const TOKEN_REVIEW_DOWN = jwtLike('token-review-down');

/** The API server's TokenReview, by token. */
const reviews = new Map<string, TokenReviewResult | Error>([
  [TOKEN_A, bound(POD_A)],
  [TOKEN_B, bound(POD_B)],
  [TOKEN_REVIEW_DOWN, new Error('connect ECONNREFUSED')],
]);
/** The pod informer's cache; reset after each test. */
const pods = new Map<string, SlimPod>();
function resetPods(): void {
  pods.clear();
  pods.set(KEY_A, slimPod({ name: POD_A }));
  pods.set(KEY_B, slimPod({ name: POD_B }));
}
resetPods();

interface Controller {
  readonly server: grpc.Server;
  readonly distribution: DistributionServer;
  readonly port: number;
  readonly address: string;
  /** The snapshot each pod should have (what the reconciler computed). */
  readonly snapshots: Map<string, Snapshot>;
  readonly logs: string[];
}

const servers: grpc.Server[] = [];

interface ControllerOptions {
  /** Replaces the TokenReview by table. */
  readonly review?: TokenReviewer;
  /** Sees each server-side stream before the DistributionServer does. */
  readonly onStream?: (call: grpc.ServerDuplexStream<SidecarMessage, ControllerMessage>) => void;
  /** Whether this replica serves sidecars (leader election). */
  readonly serving?: () => boolean;
  /** The hello's and the review's deadlines (the server's defaults without). */
  readonly timeouts?: StreamTimeouts;
}

async function startController(port = 0, snapshots = new Map<string, Snapshot>([[KEY_A, V1]]), options: ControllerOptions = {}): Promise<Controller> {
  const logs: string[] = [];
  const byTable: TokenReviewer = (t) => {
    const r = reviews.get(t);
    if (r instanceof Error) return Promise.reject(r);
    return Promise.resolve(r ?? { authenticated: false, username: '', extra: {}, audiences: [], error: 'invalid bearer token' });
  };
  const auth = new SidecarAuthenticator(options.review ?? byTable, (ns, name) => pods.get(`${ns}/${name}`));
  const distribution = new DistributionServer(auth, (podKey) => snapshots.get(podKey), {
    onSyncChange: () => undefined,
    onConnect: () => undefined,
    log: (level, msg, fields) => { logs.push(JSON.stringify({ level, msg, ...fields })); },
    ...(options.serving === undefined ? {} : { serving: options.serving }),
  }, undefined, options.timeouts);
  const server = new grpc.Server();
  const onStream = options.onStream;
  if (onStream === undefined) {
    distribution.register(server);
  } else {
    let handle: grpc.handleBidiStreamingCall<SidecarMessage, ControllerMessage> = () => undefined;
    distribution.register({ addService: (_d: unknown, impl: { Stream: typeof handle }) => { handle = impl.Stream; } } as unknown as grpc.Server);
    server.addService(distributionService, { Stream: (call: grpc.ServerDuplexStream<SidecarMessage, ControllerMessage>) => { onStream(call); handle(call); } });
  }
  servers.push(server);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err)));
  });
  return { server, distribution, port: bound, address: `127.0.0.1:${bound}`, snapshots, logs };
}

class TestSidecar {
  /** Versions the sidecar loaded, in order. */
  readonly installed: string[] = [];
  /** Versions it cannot load, with the error it reports. */
  readonly unloadable = new Map<string, string>();
  current = '';
  readonly client: DistributionClient;

  constructor(address: string, readonly tokenFile: string, pod: string, tokenCheckMs?: number) {
    this.client = new DistributionClient({
      ...(tokenCheckMs === undefined ? {} : { tokenCheckMs }),
      address,
      tokenFile,
      namespace: NAMESPACE,
      podName: pod,
      caFile: undefined,
      sidecarVersion: 'test',
      log: { log: () => undefined },
      install: (snapshot) => {
        const error = this.unloadable.get(snapshot.version);
        if (error !== undefined) return error;
        this.installed.push(snapshot.version);
        this.current = snapshot.version;
        return undefined;
      },
      currentVersion: () => this.current,
    });
  }
}

const sidecars: TestSidecar[] = [];
const dirs: string[] = [];

function tokenFile(token: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'aw-dist-token-'));
  dirs.push(dir);
  const file = join(dir, 'token');
  writeFileSync(file, `${token}\n`);
  return file;
}

function startSidecar(address: string, token: string, pod = POD_A, tokenCheckMs?: number): TestSidecar {
  const sidecar = new TestSidecar(address, tokenFile(token), pod, tokenCheckMs);
  sidecars.push(sidecar);
  sidecar.client.start();
  return sidecar;
}

/** A hand-driven stream, for what the real sidecar never does (stale ACKs) and to see raw statuses. */
class RawStream {
  readonly received: ControllerMessage[] = [];
  readonly status: Promise<grpc.StatusObject>;
  private readonly call: grpc.ClientDuplexStream<SidecarMessage, ControllerMessage>;
  private readonly client: grpc.Client;

  constructor(address: string) {
    const Ctor = grpc.makeGenericClientConstructor(distributionService, 'PolicyDistribution');
    this.client = new Ctor(address, grpc.credentials.createInsecure());
    this.call = (this.client as unknown as { Stream: () => grpc.ClientDuplexStream<SidecarMessage, ControllerMessage> }).Stream();
    this.call.on('data', (m: ControllerMessage) => { this.received.push(m); });
    this.call.on('error', () => undefined);
    this.status = new Promise((resolve) => { this.call.on('status', resolve); });
  }

  send(kind: MessageInitShape<typeof SidecarMessageSchema>['kind']): void {
    this.call.write(create(SidecarMessageSchema, { kind }));
  }

  hello(token: string, pod = POD_A, currentVersion = ''): void {
    this.send({ case: 'hello', value: { token, namespace: NAMESPACE, podName: pod, currentVersion, sidecarVersion: 'raw' } });
  }

  /** The n-th snapshot push (0-based) once it arrived. */
  async push(n: number): Promise<{ readonly version: string; readonly nonce: string }> {
    return eventually(`snapshot push #${n}`, () => {
      const m = this.received[n];
      if (m?.kind.case !== 'snapshot') return undefined;
      return { version: m.kind.value.snapshot?.version ?? '', nonce: m.kind.value.nonce };
    });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

const raws: RawStream[] = [];
function rawStream(address: string): RawStream {
  const r = new RawStream(address);
  raws.push(r);
  return r;
}

describe('PolicyDistribution between the controller and a sidecar', () => {
  afterEach(async () => {
    for (const r of raws.splice(0)) r.close();
    await Promise.all(sidecars.splice(0).map((s) => s.client.stop()));
    for (const s of servers.splice(0)) s.forceShutdown();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    resetPods();
  });

  it('sends a sidecar its own pod\'s snapshot after hello, and records the sidecar\'s ACK', async () => {
    const controller = await startController(0, new Map([[KEY_A, V1], [KEY_B, V2_EDITED]]));
    const sidecar = startSidecar(controller.address, TOKEN_A);
    await until('the ACK of V1', () => controller.distribution.sync(KEY_A)?.acked === V1.version);
    expect(sidecar.installed).toEqual([V1.version]);
    expect(sidecar.client.state).toBe('synced');
    expect(controller.distribution.sync(KEY_A)).toMatchObject({ sent: V1.version, acked: V1.version, nackError: undefined });
    expect(controller.distribution.connectedPods()).toEqual([KEY_A]);
    expect(controller.distribution.sync(KEY_B)).toBeUndefined();
  });

  it('pushes the new snapshot on pushAll() after it changed, and only then', async () => {
    const controller = await startController();
    const sidecar = startSidecar(controller.address, TOKEN_A);
    await until('the ACK of V1', () => controller.distribution.sync(KEY_A)?.acked === V1.version);
    const pushes = controller.distribution.pushes;
    controller.distribution.pushAll();
    expect(controller.distribution.pushes).toBe(pushes);

    controller.snapshots.set(KEY_A, V2_EDITED);
    controller.distribution.pushAll();
    await until('the ACK of the edited snapshot', () => controller.distribution.sync(KEY_A)?.acked === V2_EDITED.version);
    expect(sidecar.installed).toEqual([V1.version, V2_EDITED.version]);
    expect(controller.distribution.pushes).toBe(pushes + 1);
  });

  it('records a NACK with its error while the sidecar keeps enforcing the snapshot it had', async () => {
    const controller = await startController();
    const sidecar = startSidecar(controller.address, TOKEN_A);
    sidecar.unloadable.set(V2_EDITED.version, 'rule "allow-host": condition uses an unknown function');
    await until('the ACK of V1', () => controller.distribution.sync(KEY_A)?.acked === V1.version);

    controller.snapshots.set(KEY_A, V2_EDITED);
    controller.distribution.pushAll();
    const sync = await eventually('the NACK', () => {
      const s = controller.distribution.sync(KEY_A);
      return s?.nackError === undefined ? undefined : s;
    });
    expect(sync).toMatchObject({ sent: V2_EDITED.version, acked: V1.version, nackError: 'rule "allow-host": condition uses an unknown function' });
    expect(sidecar.current).toBe(V1.version);
    expect(sidecar.client.nacks).toBe(1);
    expect(sidecar.client.lastError).toContain(V2_EDITED.version);
  });

  it('ignores an ACK whose nonce is not that of the latest push', async () => {
    const controller = await startController();
    const raw = rawStream(controller.address);
    raw.hello(TOKEN_A);
    const first = await raw.push(0);
    expect(first.version).toBe(V1.version);
    controller.snapshots.set(KEY_A, V2_EDITED);
    controller.distribution.pushAll();
    const second = await raw.push(1);
    expect(second.version).toBe(V2_EDITED.version);

    raw.send({ case: 'ack', value: { version: first.version, nonce: first.nonce } }); // answers an older push
    raw.send({ case: 'ack', value: { version: second.version, nonce: 'not-a-nonce-we-sent' } });
    // Messages on a stream are handled in order: once this NACK shows, both ACKs were handled.
    raw.send({ case: 'nack', value: { version: second.version, nonce: second.nonce, error: 'marker' } });
    await until('the NACK', () => controller.distribution.sync(KEY_A)?.nackError === 'marker');
    expect(controller.distribution.sync(KEY_A)?.acked).toBe('');

    raw.send({ case: 'ack', value: { version: second.version, nonce: second.nonce } });
    await until('the ACK of the latest push', () => controller.distribution.sync(KEY_A)?.acked === V2_EDITED.version);
    expect(controller.distribution.sync(KEY_A)?.nackError).toBeUndefined();
  });

  it('reports the sync state of the pod\'s newest stream when its sidecar reconnected before the old stream was noticed dead', async () => {
    const controller = await startController();
    const old = rawStream(controller.address);
    old.hello(TOKEN_A);
    const v1 = await old.push(0);
    old.send({ case: 'ack', value: v1 });
    await until('the ACK of V1', () => controller.distribution.sync(KEY_A)?.acked === V1.version);
    // The old connection goes half-open: the push of the edit never reaches the sidecar.
    controller.snapshots.set(KEY_A, V2_EDITED);
    controller.distribution.pushAll();
    await old.push(1);
    // The sidecar reconnects, still enforcing V1, gets the edit and acknowledges it.
    const fresh = rawStream(controller.address);
    fresh.hello(TOKEN_A, POD_A, V1.version);
    const v2 = await fresh.push(0);
    expect(v2.version).toBe(V2_EDITED.version);
    fresh.send({ case: 'ack', value: v2 });
    await until('the sync state to show the ACK of the edit', () => controller.distribution.sync(KEY_A)?.acked === V2_EDITED.version, 2_000);
  });

  describe('refuses a hello and sends nothing', () => {
    const cases = [
      { name: 'a token TokenReview rejects: UNAUTHENTICATED', token: 'forged-token', code: grpc.status.UNAUTHENTICATED, details: /token rejected by TokenReview/ },
      { name: 'pod B\'s token claiming pod A: PERMISSION_DENIED', token: TOKEN_B, code: grpc.status.PERMISSION_DENIED, details: /bound to pod "support-agent-1", not "support-agent-0"/ },
      { name: 'TokenReview unavailable: UNAVAILABLE, so that the sidecar retries', token: TOKEN_REVIEW_DOWN, code: grpc.status.UNAVAILABLE, details: /cannot verify the token/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const controller = await startController();
        const raw = rawStream(controller.address);
        raw.hello(c.token);
        const status = await raw.status;
        expect(status.code).toBe(c.code);
        expect(status.details).toMatch(c.details);
        expect(status.details).not.toContain(c.token);
        expect(raw.received).toEqual([]);
        expect(controller.distribution.connectedPods()).toEqual([]);
        expect(controller.distribution.pushes).toBe(0);
      });
    }

    it('the sidecar sees why, installs nothing, and keeps retrying', async () => {
      const controller = await startController();
      const sidecar = startSidecar(controller.address, TOKEN_B);
      await until('a refusal', () => sidecar.client.lastError !== undefined);
      expect(sidecar.client.lastError).toMatch(/^PERMISSION_DENIED: token is bound to pod "support-agent-1"/);
      expect(sidecar.installed).toEqual([]);
      expect(controller.distribution.authFailures).toBeGreaterThanOrEqual(1);
      await until('a retry', () => controller.distribution.authFailures >= 2);
    });
  });

  it('refuses sidecars with UNAVAILABLE while this replica does not lead, serves them once it does, and hands them over when it stops', async () => {
    let leading = false;
    const controller = await startController(0, undefined, { serving: () => leading });
    const refused = rawStream(controller.address);
    refused.hello(TOKEN_A);
    const status = await refused.status;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(status.details).toMatch(/does not serve sidecars now/);
    expect(refused.received).toEqual([]);
    leading = true;
    const sidecar = startSidecar(controller.address, TOKEN_A);
    await until('the ACK of V1 once leading', () => controller.distribution.sync(KEY_A)?.acked === V1.version, 20_000);
    leading = false;
    controller.distribution.closeAll('no longer the leader');
    await until('the stream to be handed over', () => controller.distribution.connectionCount() === 0);
    expect(sidecar.current).toBe(V1.version);
  });

  it('forgets a sidecar that disconnects', async () => {
    const controller = await startController();
    const sidecar = startSidecar(controller.address, TOKEN_A);
    await until('the ACK of V1', () => controller.distribution.sync(KEY_A)?.acked === V1.version);
    await sidecar.client.stop();
    await until('the connection to be forgotten', () => controller.distribution.connectionCount() === 0);
    expect(controller.distribution.connectedPods()).toEqual([]);
    expect(controller.distribution.sync(KEY_A)).toBeUndefined();
  });

  describe('gives a stream a deadline for its hello, and then one of its own for the token\'s review', () => {
    it('ends a stream that sends no hello with UNAUTHENTICATED', async () => {
      const controller = await startController(0, undefined, { timeouts: { helloMs: 200, reviewMs: 60_000 } });
      const raw = rawStream(controller.address);
      const status = await raw.status;
      expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(status.details).toBe('no hello within 0.2 s');
      expect(raw.received).toEqual([]);
    });

    it('serves a sidecar whose review, queued behind others, is answered after the hello deadline', async () => {
      // A slow API server: the answer comes three hello deadlines after the review started.
      const review: TokenReviewer = (token) => new Promise((resolve) => { setTimeout(() => { resolve(reviews.get(token) as TokenReviewResult); }, 600); });
      const controller = await startController(0, undefined, { review, timeouts: { helloMs: 200, reviewMs: 60_000 } });
      const raw = rawStream(controller.address);
      raw.hello(TOKEN_A);
      expect((await raw.push(0)).version).toBe(V1.version);
      expect(controller.distribution.connectedPods()).toEqual([KEY_A]);
      expect(controller.distribution.authFailures).toBe(0);
    });

    it('ends a stream whose review is not answered within its deadline with UNAVAILABLE, so that the sidecar retries', async () => {
      const review: TokenReviewer = () => new Promise(() => undefined);
      const controller = await startController(0, undefined, { review, timeouts: { helloMs: 200, reviewMs: 400 } });
      const raw = rawStream(controller.address);
      raw.hello(TOKEN_A);
      const status = await raw.status;
      expect(status.code).toBe(grpc.status.UNAVAILABLE);
      expect(status.details).toBe('token not reviewed within 0.4 s; retry');
      expect(raw.received).toEqual([]);
      expect(controller.distribution.connectedPods()).toEqual([]);
      expect(controller.distribution.authFailures).toBe(1);
    });
  });

  it('forgets a sidecar that hung up while its token was being reviewed', async () => {
    let answer: ((r: TokenReviewResult) => void) | undefined;
    const review: TokenReviewer = () => new Promise((resolve) => { answer = resolve; });
    const streams: grpc.ServerDuplexStream<SidecarMessage, ControllerMessage>[] = [];
    const controller = await startController(0, undefined, { review, onStream: (call) => { streams.push(call); } });
    const raw = rawStream(controller.address);
    raw.hello(TOKEN_A);
    await until('the TokenReview to start', () => answer !== undefined);
    raw.close();
    await until('the controller to see the stream cancelled', () => streams[0]!.cancelled);
    answer!(bound(POD_A));
    await until('the review to be handled', () => controller.logs.some((l) => l.includes('sidecar left before its token was reviewed')));
    await until('the dead stream to be forgotten', () => controller.distribution.connectionCount() === 0, 2_000);
    expect(controller.distribution.connectedPods()).toEqual([]);
  });

  it('is reconnected to by the sidecar after a controller restart on the same port, and resends the snapshot in full', async () => {
    const first = await startController();
    const sidecar = startSidecar(first.address, TOKEN_A);
    await until('the ACK of V1', () => first.distribution.sync(KEY_A)?.acked === V1.version);

    first.server.forceShutdown();
    await until('the sidecar to notice', () => sidecar.client.state === 'disconnected');
    expect(sidecar.current).toBe(V1.version);

    const second = await startController(first.port);
    await until('the snapshot from the restarted controller', () => sidecar.client.pushes === 2, 20_000);
    await until('the ACK to the restarted controller', () => second.distribution.sync(KEY_A)?.acked === V1.version);
    expect(second.distribution.pushes).toBe(1);
    expect(sidecar.client.pushes).toBe(2);
    expect(sidecar.installed).toEqual([V1.version, V1.version]);
    expect(sidecar.client.state).toBe('synced');
  });

  describe('binds a stream to its pod incarnation and its token\'s lifetime', () => {
    /** A token TokenReview accepts for `pod` (uid `uid`), expiring in `seconds`. */
    function tokenOf(id: string, seconds: number, pod = POD_A, uid = `uid-${pod}`): string {
      const t = jwtLike(id, seconds);
      reviews.set(t, { ...bound(pod), extra: { 'authentication.kubernetes.io/pod-name': [pod], 'authentication.kubernetes.io/pod-uid': [uid] } });
      return t;
    }

    it('ends the stream with PERMISSION_DENIED within a second of its pod\'s deletion', async () => {
      const controller = await startController();
      const raw = rawStream(controller.address);
      raw.hello(TOKEN_A);
      await raw.push(0);
      const deletedAt = Date.now();
      pods.delete(KEY_A);
      controller.distribution.podsChanged();
      const status = await raw.status;
      expect(Date.now() - deletedAt).toBeLessThan(1_000);
      expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(status.details).toBe('pod support/support-agent-0 was deleted');
      expect(controller.distribution.connectionCount()).toBe(0);
      expect(controller.distribution.revoked).toBe(1);
    });

    it('sends the old stream nothing of a pod recreated under the same name with another ServiceAccount, and ends it', async () => {
      const controller = await startController();
      const raw = rawStream(controller.address);
      raw.hello(TOKEN_A);
      await raw.push(0);
      // The pod is deleted and recreated with another ServiceAccount; the
      // reconciler computes the new pod's snapshot and pushes before any sweep.
      pods.set(KEY_A, slimPod({ name: POD_A, uid: 'uid-recreated', serviceAccount: 'billing-agent' }));
      controller.snapshots.set(KEY_A, V2_EDITED);
      controller.distribution.pushAll();
      const status = await raw.status;
      expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(status.details).toBe('pod support/support-agent-0 was replaced by another pod of the same name');
      expect(raw.received.map((m) => (m.kind.case === 'snapshot' ? m.kind.value.snapshot?.version : m.kind.case))).toEqual([V1.version]);
      // The old token opens nothing either.
      const again = rawStream(controller.address);
      again.hello(TOKEN_A);
      expect((await again.status).details).toMatch(/another incarnation of pod support-agent-0/);
      expect(again.received).toEqual([]);
    });

    it('ends the stream with UNAUTHENTICATED at its token\'s expiry', async () => {
      const controller = await startController();
      const raw = rawStream(controller.address);
      const short = tokenOf('short-lived', 2);
      raw.hello(short);
      await raw.push(0);
      const status = await raw.status;
      expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(status.details).toMatch(/^token expired at .*; reconnect with the current token$/);
      expect(Date.now()).toBeGreaterThanOrEqual((JSON.parse(Buffer.from(short.split('.')[1] ?? '', 'base64url').toString()) as { exp: number }).exp * 1000);
      expect(controller.distribution.connectionCount()).toBe(0);
    });

    it('keeps the stream past the first token\'s expiry when the sidecar sends its rotated token on it', async () => {
      const controller = await startController();
      const sidecar = startSidecar(controller.address, tokenOf('about-to-expire', 2), POD_A, 100);
      await until('the ACK of V1', () => controller.distribution.sync(KEY_A)?.acked === V1.version);
      // The kubelet rotates the projected token.
      writeFileSync(sidecar.tokenFile, tokenOf('rotated', 3600));
      await until('the re-authentication', () => controller.distribution.reauthentications === 1);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(controller.distribution.connectionCount()).toBe(1);
      expect(controller.distribution.revoked).toBe(0);
      expect(sidecar.client.reconnects).toBe(0);
      expect(sidecar.client.reauthentications).toBe(1);
      expect(sidecar.installed).toEqual([V1.version]);
    });

    it('ends the stream when the token sent on it belongs to another incarnation of the pod', async () => {
      const controller = await startController();
      const raw = rawStream(controller.address);
      raw.hello(TOKEN_A);
      await raw.push(0);
      raw.send({ case: 'reauthenticate', value: { token: tokenOf('earlier-incarnation', 3600, POD_A, 'uid-earlier') } });
      const status = await raw.status;
      expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(status.details).toMatch(/another incarnation of pod support-agent-0/);
    });

    it('is reopened by a sidecar whose token expired within a second, with the current token, enforcing its snapshot meanwhile', async () => {
      const controller = await startController();
      const sidecar = startSidecar(controller.address, tokenOf('expires-unrotated', 2), POD_A, 60_000);
      await until('the ACK of V1', () => controller.distribution.sync(KEY_A)?.acked === V1.version);
      writeFileSync(sidecar.tokenFile, tokenOf('current', 3600));
      await until('the stream to end at expiry', () => sidecar.client.state === 'disconnected', 5_000);
      const endedAt = Date.now();
      expect(sidecar.current).toBe(V1.version);
      await until('the stream to be reopened', () => sidecar.client.state === 'synced', 5_000);
      expect(Date.now() - endedAt).toBeLessThan(1_000);
      expect(sidecar.installed).toEqual([V1.version, V1.version]);
      expect(controller.distribution.revoked).toBe(1);
    });
  });
});
