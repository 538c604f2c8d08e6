// A grpc-js server on 127.0.0.1 playing the controller's side of
// PolicyDistribution for sidecar tests: accepts any hello, pushes one snapshot,
// and records every SidecarMessage, with a way to wait for them.
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { ControllerMessageSchema, type ControllerMessage, type SidecarMessage } from '../../proto/gen/agentwarden/v1/distribution_pb.js';
import { SnapshotSchema, type Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { distributionService } from '../../common/distribution-service.js';

export type Kind = NonNullable<SidecarMessage['kind']['case']>;

/** The controller's side: every message each stream sent, and a way to wait for the next of a kind. */
export class FakeController {
  readonly received: SidecarMessage[] = [];
  private waiters: { kind: Kind; count: number; resolve: () => void }[] = [];
  private constructor(readonly server: grpc.Server, readonly address: string) {}

  static start(snapshot?: Snapshot): Promise<FakeController> {
    return FakeController.startOn(0, snapshot);
  }

  /** On a given port: a controller coming back where the sidecar expects it. */
  static async startOn(portWanted: number, snapshot: Snapshot = create(SnapshotSchema, { version: 'v1' })): Promise<FakeController> {
    const server = new grpc.Server();
    const to: { controller?: FakeController } = {};
    server.addService(distributionService, {
      Stream: (call: grpc.ServerDuplexStream<SidecarMessage, ControllerMessage>) => {
        call.on('data', (m: SidecarMessage) => {
          to.controller?.receive(m);
          if (m.kind.case === 'hello') call.write(create(ControllerMessageSchema, { kind: { case: 'snapshot', value: { snapshot, nonce: 'n1' } } }));
        });
        call.on('end', () => { call.end(); });
        call.on('error', () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${portWanted}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err)));
    });
    to.controller = new FakeController(server, `127.0.0.1:${port}`);
    return to.controller;
  }

  of(kind: Kind): SidecarMessage[] {
    return this.received.filter((m) => m.kind.case === kind);
  }

  /** Resolves once `count` messages of `kind` have arrived in all. */
  until(kind: Kind, count: number): Promise<void> {
    if (this.of(kind).length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ kind, count, resolve }));
  }

  private receive(m: SidecarMessage): void {
    this.received.push(m);
    this.waiters = this.waiters.filter((w) => {
      if (this.of(w.kind).length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  stop(): void {
    this.server.forceShutdown();
  }
}
