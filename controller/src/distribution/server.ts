// The controller's side of PolicyDistribution: authenticates each sidecar,
// pushes its pod's snapshot (in full on every new stream), re-pushes when the
// pod's snapshot version changes, and tracks ACKs and NACKs per pod.
//
// A stream is bound to one incarnation of its pod and to its token's lifetime:
// - the pod is deleted, is being deleted, or another pod took its name (a new
//   uid): the stream ends with PERMISSION_DENIED at the next pod change
//   (`podsChanged`, called by the pod informer; swept within SWEEP_DELAY_MS), so
//   a recreated pod's snapshot never reaches the old pod's stream, and the new
//   pod gets nothing until its own sidecar says hello with its own token;
// - the token expires: the stream ends with UNAUTHENTICATED at the token's exp,
//   unless the sidecar sent a newer token of the same pod incarnation on the
//   stream first (Reauthenticate), which moves the deadline.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { ControllerMessageSchema, type ApprovalNeeded, type ControllerMessage, type GrantUsed, type OperationSummary, type SidecarMessage } from '../../../proto/gen/agentwarden/v1/distribution_pb.js';
import type { Snapshot } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import type { AuthResult, Revocation, SidecarAuthenticator } from './auth.js';
import { distributionService } from '../../../common/distribution-service.js';
import { DEFAULT_PUSH_OPTIONS, PushQueue, type PushQueueOptions } from './push-queue.js';

/**
 * How long a stream may wait: for its hello, and then for its token's review.
 * The two are apart because a hello is the sidecar's to send, while the review
 * waits its turn behind every other one (at most 32 in flight, kube/api.ts): in
 * a reconnect storm of 2,000 sidecars the last hellos waited longer than 10 s
 * for their review, and a single 10 s timer from the stream's opening ended them
 * ("no hello within 10 s") although their hello had come, so they reconnected
 * and queued again (make bench-controller-memory stalled connecting 3,000
 * streams; bench-propagation's connect storm broke streams).
 */
export interface StreamTimeouts {
  /** From the stream's opening to its hello, ms. Default 10 s. */
  readonly helloMs: number;
  /** From the hello to its token's review answered, ms. Default 60 s (UNAVAILABLE after: the sidecar retries). */
  readonly reviewMs: number;
}

export const DEFAULT_STREAM_TIMEOUTS: StreamTimeouts = { helloMs: 10_000, reviewMs: 60_000 };
/** Pod changes are coalesced for this long before the streams are checked against them. */
const SWEEP_DELAY_MS = 50;
/** Longest single timer towards a token's expiry (setTimeout's range is ~24.8 days); re-armed on firing. */
const MAX_EXPIRY_TIMER_MS = 3_600_000;

export interface PodSync {
  /** Version last sent, acknowledged, and the last NACK's error. */
  readonly sent: string;
  readonly acked: string;
  readonly nackError: string | undefined;
  readonly ackedAtMs: number;
  /** When the stream authenticated, and when the last NACK came (0: none), ms since the epoch. */
  readonly connectedAtMs: number;
  readonly nackedAtMs: number;
}

/** One connected pod as /debug/syncz reports it: its newest stream's sync state and what the controller would send now. */
export interface PodStreamSync {
  readonly podKey: string;
  /** Streams open for the pod (more than one: a half-open leftover, or two sidecars claiming it). */
  readonly streams: number;
  /** The version of the snapshot compiled for the pod now; undefined while there is none. */
  readonly desired: string | undefined;
  readonly sync: PodSync;
}

interface Connection {
  readonly podKey: string;
  readonly podUid: string;
  /** The expiry of the newest token presented on this stream, ms since the epoch. */
  expiresAtMs: number;
  expiryTimer: NodeJS.Timeout | undefined;
  /** Ends the stream with this status. */
  readonly close: (revocation: Revocation) => void;
  readonly call: grpc.ServerDuplexStream<SidecarMessage, ControllerMessage>;
  sent: string;
  nonce: string;
  acked: string;
  ackedAtMs: number;
  nackError: string | undefined;
  readonly connectedAtMs: number;
  nackedAtMs: number;
}

export interface DistributionEvents {
  /** A sidecar acknowledged (or rejected) a version: status may change. */
  readonly onSyncChange: () => void;
  /** A sidecar connected: its pod needs a snapshot. */
  readonly onConnect: (podKey: string) => void;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /**
   * Whether this replica serves sidecars now (default: always). Every replica of
   * the controller serves its own streams (issue 20: the leader counts the others'
   * pods through their report Leases, controller/src/replicas); this is for a
   * replica that must not take streams, which refuses with UNAVAILABLE: sidecars
   * retry with backoff (through the Service), enforcing their last snapshot meanwhile.
   */
  readonly serving?: () => boolean;
  /**
   * A RequireApproval rule denied a request of this stream's pod (controller/src/approvals):
   * `podKey` is the stream's authenticated pod, never what the message says.
   */
  readonly onApprovalNeeded?: (podKey: string, message: ApprovalNeeded) => void;
  /** An approval grant of this stream's pod allowed a request. */
  readonly onGrantUsed?: (podKey: string, message: GrantUsed) => void;
  /** A periodic operation summary of this stream's pod (controller/src/baselines). */
  readonly onOperationSummary?: (podKey: string, message: OperationSummary) => void;
}

export class DistributionServer {
  private readonly connections = new Map<string, Set<Connection>>();
  private readonly encodings = new Map<string, { readonly nonce: string; readonly bytes: Uint8Array }>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Pushes go through it: a bounded number in flight, the event loop yielded to between slices. */
  readonly pushQueue: PushQueue<Connection>;
  pushes = 0;
  authFailures = 0;
  /** Streams ended because their pod went away or was replaced, or their token expired. */
  revoked = 0;
  /** Newer tokens accepted on open streams. */
  reauthentications = 0;

  constructor(
    private readonly auth: SidecarAuthenticator,
    private readonly snapshotFor: (podKey: string) => Snapshot | undefined,
    private readonly events: DistributionEvents,
    pushOptions: PushQueueOptions = DEFAULT_PUSH_OPTIONS,
    private readonly timeouts: StreamTimeouts = DEFAULT_STREAM_TIMEOUTS,
  ) {
    this.pushQueue = new PushQueue(pushOptions, Date.now, (e) => { this.events.log('error', 'snapshot push failed', { error: e instanceof Error ? e.message : String(e) }); });
  }

  register(server: grpc.Server): void {
    server.addService(distributionService, { Stream: (call: grpc.ServerDuplexStream<SidecarMessage, ControllerMessage>) => { this.handle(call); } });
  }

  /** Pod keys with at least one connected, authenticated sidecar. */
  connectedPods(): string[] {
    return [...this.connections.keys()];
  }

  connectionCount(): number {
    let n = 0;
    for (const set of this.connections.values()) n += set.size;
    return n;
  }

  /** The sync state of the pod's newest stream (an older one may be a half-open leftover). */
  sync(podKey: string): PodSync | undefined {
    const set = this.connections.get(podKey);
    if (set === undefined) return undefined;
    let newest: Connection | undefined;
    for (const c of set) newest = c;
    return newest === undefined ? undefined : syncOf(newest);
  }

  /** Every connected pod's sync state (for /debug/syncz, like istioctl proxy-status). */
  syncAll(): PodStreamSync[] {
    const out: PodStreamSync[] = [];
    for (const [podKey, set] of this.connections) {
      let newest: Connection | undefined;
      for (const c of set) newest = c;
      if (newest !== undefined) out.push({ podKey, streams: set.size, desired: this.snapshotFor(podKey)?.version, sync: syncOf(newest) });
    }
    return out;
  }

  /** Ends every stream with UNAVAILABLE (the sidecars reconnect with backoff). */
  closeAll(details: string): void {
    for (const set of this.connections.values()) {
      for (const c of set) c.call.emit('error', { code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() });
    }
  }

  /** The pods changed: streams whose pod was deleted or replaced are ended within SWEEP_DELAY_MS. */
  podsChanged(): void {
    this.sweepTimer ??= setTimeout(() => {
      this.sweepTimer = undefined;
      this.revalidate();
    }, SWEEP_DELAY_MS).unref();
  }

  /** Ends every stream whose pod was deleted or replaced or whose token expired; returns how many. */
  revalidate(): number {
    let ended = 0;
    for (const set of this.connections.values()) {
      for (const c of [...set]) {
        const revocation = this.auth.revoked(c);
        if (revocation === undefined) continue;
        c.close(revocation);
        ended++;
      }
    }
    return ended;
  }

  /** Stops the pending sweep (on shutdown). */
  stop(): void {
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.pushQueue.clear();
  }

  /** Sends every connected sidecar whose pod's snapshot changed its new snapshot. */
  pushAll(): void {
    for (const set of this.connections.values()) for (const c of set) this.enqueuePush(c, false);
  }

  /** Queues a push to the stream (distribution/push-queue.ts); it reads the pod's snapshot when it starts. */
  private enqueuePush(conn: Connection, force: boolean): void {
    this.pushQueue.enqueue(conn, force, (f, done) => this.push(conn, f, done));
  }

  private handle(call: grpc.ServerDuplexStream<SidecarMessage, ControllerMessage>): void {
    let conn: Connection | undefined;
    let authenticating = false;
    let closed = false;
    let helloTimer = setTimeout(() => { fail(grpc.status.UNAUTHENTICATED, `no hello within ${seconds(this.timeouts.helloMs)}`); }, this.timeouts.helloMs);
    const fail = (code: grpc.status, details: string): void => {
      clearTimeout(helloTimer);
      call.emit('error', { code, details, metadata: new grpc.Metadata() });
    };
    const cleanup = (): void => {
      if (closed) return;
      closed = true;
      clearTimeout(helloTimer);
      if (conn === undefined) return;
      this.pushQueue.forget(conn);
      clearTimeout(conn.expiryTimer);
      const set = this.connections.get(conn.podKey);
      set?.delete(conn);
      if (set?.size === 0) this.connections.delete(conn.podKey);
      this.events.onSyncChange();
    };
    call.on('data', (msg: SidecarMessage) => {
      const kind = msg.kind;
      if (kind.case === 'hello') {
        if (conn !== undefined || authenticating) return;
        if (this.events.serving !== undefined && !this.events.serving()) {
          fail(grpc.status.UNAVAILABLE, 'this controller replica does not serve sidecars now; retry');
          return;
        }
        authenticating = true;
        const hello = kind.value;
        // The hello came: from here the review's own deadline (it may queue behind others).
        clearTimeout(helloTimer);
        helloTimer = setTimeout(() => {
          this.authFailures++;
          fail(grpc.status.UNAVAILABLE, `token not reviewed within ${seconds(this.timeouts.reviewMs)}; retry`);
        }, this.timeouts.reviewMs);
        this.auth.authenticate(hello.token, hello.namespace, hello.podName).then((result) => {
          if (!result.ok) {
            this.authFailures++;
            this.events.log('warn', 'sidecar refused', { namespace: hello.namespace, pod: hello.podName, reason: result.reason });
            fail(statusOf(result.code), result.reason);
            return;
          }
          clearTimeout(helloTimer);
          // The sidecar may have hung up while its token was being reviewed.
          if (closed) {
            this.events.log('info', 'sidecar left before its token was reviewed', { pod: result.podKey });
            return;
          }
          // The pod may have changed while the token was being reviewed.
          const revocation = this.auth.revoked(result);
          if (revocation !== undefined) {
            this.authFailures++;
            fail(statusOf(revocation.code), revocation.reason);
            return;
          }
          conn = {
            podKey: result.podKey, podUid: result.podUid, expiresAtMs: result.expiresAtMs, expiryTimer: undefined, call,
            close: (r) => { this.end(call, r); },
            sent: '', nonce: '', acked: hello.currentVersion, ackedAtMs: 0, nackError: undefined, connectedAtMs: Date.now(), nackedAtMs: 0,
          };
          this.armExpiry(conn);
          let set = this.connections.get(result.podKey);
          if (set === undefined) {
            set = new Set();
            this.connections.set(result.podKey, set);
          }
          set.add(conn);
          this.events.log('info', 'sidecar connected', { pod: result.podKey, version: hello.currentVersion });
          this.events.onConnect(result.podKey);
          this.enqueuePush(conn, true);
        }, (e: unknown) => {
          this.events.log('error', 'TokenReview failed', { error: e instanceof Error ? e.message : String(e) });
          fail(grpc.status.UNAVAILABLE, 'cannot verify the token now; retry');
        });
      } else if (conn !== undefined && kind.case === 'approvalNeeded') {
        this.events.onApprovalNeeded?.(conn.podKey, kind.value);
      } else if (conn !== undefined && kind.case === 'grantUsed') {
        this.events.onGrantUsed?.(conn.podKey, kind.value);
      } else if (conn !== undefined && kind.case === 'operationSummary') {
        this.events.onOperationSummary?.(conn.podKey, kind.value);
      } else if (conn !== undefined && kind.case === 'reauthenticate') {
        this.reauthenticate(conn, kind.value.token);
      } else if (conn !== undefined && (kind.case === 'ack' || kind.case === 'nack')) {
        // Only the answer to the latest push counts; older nonces are stale.
        if (kind.value.nonce !== conn.nonce) return;
        if (kind.case === 'ack') {
          conn.acked = kind.value.version;
          conn.ackedAtMs = Date.now();
          conn.nackError = undefined;
        } else {
          conn.nackError = kind.value.error.slice(0, 1024);
          conn.nackedAtMs = Date.now();
          this.events.log('warn', 'sidecar rejected a snapshot', { pod: conn.podKey, version: kind.value.version, error: conn.nackError });
        }
        this.events.onSyncChange();
      }
    });
    call.on('end', () => {
      cleanup();
      call.end();
    });
    call.on('error', cleanup);
    call.on('cancelled', cleanup);
  }

  /** A newer token on an open stream: the same pod incarnation moves the stream's deadline; anything else ends it. */
  private reauthenticate(conn: Connection, token: string): void {
    const [namespace = '', podName = ''] = conn.podKey.split('/');
    this.auth.authenticate(token, namespace, podName).then((result: AuthResult) => {
      if (!result.ok) {
        this.authFailures++;
        this.events.log('warn', 'sidecar re-authentication refused', { pod: conn.podKey, reason: result.reason });
        conn.close({ code: result.code, reason: result.reason });
        return;
      }
      if (result.podUid !== conn.podUid) {
        this.authFailures++;
        conn.close({ code: 'permission-denied', reason: `token is bound to another incarnation of pod ${podName}` });
        return;
      }
      this.reauthentications++;
      if (result.expiresAtMs > conn.expiresAtMs) {
        conn.expiresAtMs = result.expiresAtMs;
        this.armExpiry(conn);
      }
    }, (e: unknown) => {
      // The stream keeps its current deadline; the sidecar sends its token again later or reconnects.
      this.events.log('error', 'TokenReview failed', { error: e instanceof Error ? e.message : String(e) });
    });
  }

  /** Ends the stream at its token's expiry (timers are capped and re-armed until then). */
  private armExpiry(conn: Connection): void {
    clearTimeout(conn.expiryTimer);
    const delay = Math.max(0, Math.min(MAX_EXPIRY_TIMER_MS, conn.expiresAtMs - Date.now()));
    conn.expiryTimer = setTimeout(() => {
      const revocation = this.auth.revoked(conn);
      if (revocation !== undefined) conn.close(revocation);
      else this.armExpiry(conn);
    }, delay).unref();
  }

  private end(call: grpc.ServerDuplexStream<SidecarMessage, ControllerMessage>, revocation: Revocation): void {
    this.revoked++;
    this.events.log('info', 'sidecar stream ended', { reason: revocation.reason });
    call.emit('error', { code: statusOf(revocation.code), details: revocation.reason, metadata: new grpc.Metadata() });
  }

  /** Sends the pod's snapshot when it changed (or `force`); false when nothing was written. `done`: the stream took it. */
  private push(conn: Connection, force: boolean, done: () => void): boolean {
    // Checked on every push, not only by the sweep: a pod's change reaches the
    // reconciler (and its pushAll) as soon as it reaches the sweep, and the
    // snapshot of a pod recreated under the same name must not reach the old stream.
    const revocation = this.auth.revoked(conn);
    if (revocation !== undefined) {
      conn.close(revocation);
      return false;
    }
    const snapshot = this.snapshotFor(conn.podKey);
    if (snapshot === undefined) return false;
    if (!force && snapshot.version === conn.sent) return false;
    const encoded = this.encoded(snapshot);
    conn.sent = snapshot.version;
    conn.nonce = encoded.nonce;
    this.pushes++;
    // Serialised once per snapshot version, written to every stream that needs it.
    (conn.call as unknown as grpc.ServerDuplexStream<SidecarMessage, Uint8Array>).write(encoded.bytes, done);
    return true;
  }

  /** The push of a snapshot version, encoded once; the nonce is per version. */
  private encoded(snapshot: Snapshot): { readonly nonce: string; readonly bytes: Uint8Array } {
    let e = this.encodings.get(snapshot.version);
    if (e === undefined) {
      const nonce = randomBytes(8).toString('hex');
      e = { nonce, bytes: toBinary(ControllerMessageSchema, create(ControllerMessageSchema, { kind: { case: 'snapshot', value: { snapshot, nonce } } })) };
      // Bounded: versions in use are few; old ones are simply encoded again if ever needed.
      if (this.encodings.size >= 1024) this.encodings.clear();
      this.encodings.set(snapshot.version, e);
    }
    return e;
  }
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function syncOf(c: Connection): PodSync {
  return { sent: c.sent, acked: c.acked, nackError: c.nackError, ackedAtMs: c.ackedAtMs, connectedAtMs: c.connectedAtMs, nackedAtMs: c.nackedAtMs };
}

function statusOf(code: Revocation['code']): grpc.status {
  return code === 'unauthenticated' ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED;
}
