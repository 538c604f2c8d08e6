// The sidecar's side of PolicyDistribution: one stream to the controller,
// hello with the pod's projected ServiceAccount token (re-read on every
// connect: the kubelet rotates it), load each pushed snapshot and ACK it, or
// NACK it and keep enforcing the previous one. Reconnects with capped,
// jittered backoff; while the controller is away the last good snapshot stays
// in force.
//
// The controller ends a stream at its token's expiry. The kubelet rotates the
// projected token at 80% of its lifetime, so the sidecar re-reads the token file
// every tokenCheckMs and sends a changed token on the open stream
// (Reauthenticate), which keeps the stream; a stream ended anyway (expiry, or a
// refused token) is reopened with the current file after the backoff's first
// step (250 ms), the last snapshot enforced meanwhile.
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { SidecarMessageSchema, type ControllerMessage, type SidecarMessage } from '../../../proto/gen/agentwarden/v1/distribution_pb.js';
import type { Snapshot } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { Backoff, sleep } from '../../../common/backoff.js';
import { distributionService, isLoopback } from '../../../common/distribution-service.js';
import type { Logger } from '../log.js';
const { readFileSync } = process.getBuiltinModule('node:fs');

/** How often the token file is re-read for a rotated token, ms. */
export const DEFAULT_TOKEN_CHECK_MS = 30_000;

export interface DistributionClientOptions {
  readonly address: string;
  readonly tokenFile: string;
  readonly namespace: string;
  readonly podName: string;
  /** CA bundle for the controller's certificate; without it, only a loopback controller is allowed. */
  readonly caFile: string | undefined;
  readonly sidecarVersion: string;
  readonly log: Logger;
  /** Installs a snapshot; returns an error message when it cannot be loaded. */
  readonly install: (snapshot: Snapshot) => string | undefined;
  readonly currentVersion: () => string;
  /** How often the token file is re-read on an open stream, ms. Default DEFAULT_TOKEN_CHECK_MS. */
  readonly tokenCheckMs?: number;
  /** Called when a stream has been accepted (its first snapshot arrived): what send() refused may go now. */
  readonly onStreamUp?: () => void;
}

export type SyncState = 'connecting' | 'synced' | 'disconnected';

export class DistributionClient {
  private readonly stopper = new AbortController();
  private client: grpc.Client;
  /** The CA bundle the current client trusts; a rotated bundle takes effect at the next connect. */
  private ca: Buffer | undefined;
  private loopDone: Promise<void> | undefined;
  private call: grpc.ClientDuplexStream<SidecarMessage, ControllerMessage> | undefined;
  /** The open stream, once the controller accepted it (sent a snapshot); send() writes only there. */
  private accepted: grpc.ClientDuplexStream<SidecarMessage, ControllerMessage> | undefined;
  state: SyncState = 'connecting';
  lastError: string | undefined;
  pushes = 0;
  nacks = 0;
  reconnects = 0;
  /** Rotated tokens sent on an open stream. */
  reauthentications = 0;

  constructor(private readonly options: DistributionClientOptions) {
    if (options.caFile === undefined && !isLoopback(options.address)) throw new Error(`sidecar: controller ${options.address} is not on loopback; give --controller-ca`);
    this.ca = options.caFile === undefined ? undefined : readFileSync(options.caFile);
    this.client = this.makeClient();
  }

  private makeClient(): grpc.Client {
    const creds = this.ca === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(this.ca);
    const Ctor = grpc.makeGenericClientConstructor(distributionService, 'PolicyDistribution');
    return new Ctor(this.options.address, creds, { 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 });
  }

  /** Re-reads the CA bundle (the controller publishes rotations into the mounted ConfigMap). */
  private refreshTrust(): void {
    if (this.options.caFile === undefined) return;
    let next: Buffer;
    try {
      next = readFileSync(this.options.caFile);
    } catch {
      return; // keep trusting what we had
    }
    if (this.ca !== undefined && next.equals(this.ca)) return;
    this.ca = next;
    this.client.close();
    this.client = this.makeClient();
    this.options.log.log('info', 'controller CA bundle changed; trusting the new one', { file: this.options.caFile });
  }

  /**
   * Writes `message` on the stream if the controller has accepted it; returns
   * false, writing nothing, while the stream is down or not yet accepted.
   * Never waits: grpc-js buffers what the socket cannot take yet.
   */
  send(message: SidecarMessage): boolean {
    const call = this.accepted;
    if (call === undefined) return false;
    try {
      call.write(message);
      return true;
    } catch {
      // The stream ended between its last event and this write: as down.
      return false;
    }
  }

  start(): void {
    this.loopDone ??= this.loop().catch((e: unknown) => {
      this.options.log.log('error', 'controller stream loop ended unexpectedly', { error: e instanceof Error ? e.message : String(e) });
    });
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.call?.cancel();
    await this.loopDone;
    this.client.close();
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff({ initialMs: 250, maxMs: 15_000 });
    while (!this.stopper.signal.aborted) {
      const pushed = await this.session().catch((e: unknown) => {
        this.lastError = e instanceof Error ? e.message : String(e);
        return false;
      });
      if (this.stopper.signal.aborted) break;
      if (pushed) backoff.reset();
      this.state = 'disconnected';
      this.reconnects++;
      const delay = backoff.delay();
      this.options.log.log('warn', 'controller stream ended; enforcing the last good snapshot and reconnecting', { error: this.lastError, retryInMs: delay, version: this.options.currentVersion() });
      await sleep(delay, this.stopper.signal);
    }
  }

  /** One stream; resolves when it ends, with whether any snapshot arrived. Rejects (never throws) when the token cannot be read. */
  private async session(): Promise<boolean> {
    this.refreshTrust();
    // The kubelet swaps the projected token's symlink: an unreadable token is retried with backoff.
    let token = readFileSync(this.options.tokenFile, 'utf8').trim();
    return await new Promise((resolve) => {
      let pushed = false;
      const call = (this.client as unknown as { Stream: () => grpc.ClientDuplexStream<SidecarMessage, ControllerMessage> }).Stream();
      this.call = call;
      this.state = 'connecting';
      // A rotated token goes to the controller on this stream, before the one it holds expires.
      const tokenCheck = setInterval(() => {
        let next: string;
        try {
          next = readFileSync(this.options.tokenFile, 'utf8').trim();
        } catch {
          return; // mid-swap: next tick
        }
        if (next === '' || next === token) return;
        token = next;
        this.reauthentications++;
        call.write(create(SidecarMessageSchema, { kind: { case: 'reauthenticate', value: { token } } }));
      }, this.options.tokenCheckMs ?? DEFAULT_TOKEN_CHECK_MS);
      tokenCheck.unref();
      const done = (err?: grpc.ServiceError): void => {
        clearInterval(tokenCheck);
        if (err !== undefined) this.lastError = `${grpc.status[err.code] ?? err.code}: ${err.details}`;
        this.call = undefined;
        if (this.accepted === call) this.accepted = undefined;
        resolve(pushed);
      };
      call.on('data', (msg: ControllerMessage) => {
        if (msg.kind.case !== 'snapshot') return;
        const { snapshot, nonce } = msg.kind.value;
        if (snapshot === undefined) return;
        this.pushes++;
        const first = !pushed;
        pushed = true;
        const error = this.options.install(snapshot);
        if (error === undefined) {
          this.state = 'synced';
          this.lastError = undefined;
          call.write(create(SidecarMessageSchema, { kind: { case: 'ack', value: { version: snapshot.version, nonce } } }));
        } else {
          this.nacks++;
          this.lastError = `snapshot ${snapshot.version} rejected: ${error}`;
          this.options.log.log('error', 'snapshot rejected; keeping the previous one', { version: snapshot.version, error });
          call.write(create(SidecarMessageSchema, { kind: { case: 'nack', value: { version: snapshot.version, nonce, error } } }));
        }
        if (first) {
          this.accepted = call;
          this.options.onStreamUp?.();
        }
      });
      call.on('error', (err: grpc.ServiceError) => { done(err); });
      call.on('end', () => { done(); });
      call.write(create(SidecarMessageSchema, {
        kind: { case: 'hello', value: { token, namespace: this.options.namespace, podName: this.options.podName, currentVersion: this.options.currentVersion(), sidecarVersion: this.options.sidecarVersion } },
      }));
    });
  }
}
