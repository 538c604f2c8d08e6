// The ext_authz gRPC server (grpc-js): envoy.service.auth.v3.Authorization/Check
// on TCP ("host:port") or a Unix socket ("unix:/path"). Requests are taken as
// raw bytes and decoded by the handler, so that an undecodable message is
// answered with a deny, not with a gRPC error.
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { toBinary } from '@bufbuild/protobuf';
import { CheckResponseSchema, type CheckResponse } from '../../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import type { CheckHandler } from './handler.js';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

const authorizationService: grpc.ServiceDefinition = {
  Check: {
    path: CHECK_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Uint8Array): Buffer => Buffer.from(b),
    requestDeserialize: (b: Buffer): Uint8Array => b,
    responseSerialize: (m: CheckResponse): Buffer => Buffer.from(toBinary(CheckResponseSchema, m)),
    responseDeserialize: (b: Buffer): Buffer => b,
  },
};

export interface AuthzServer {
  /** The bound address: "127.0.0.1:<port>" or "unix:/path". */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Serves Check on `listen`. grpc-js accepts messages up to 4× `maxRequestBytes`
 * so that oversized CheckRequests reach the handler and are denied in-band.
 */
export async function startAuthzServer(listen: string, handler: CheckHandler, maxRequestBytes: number): Promise<AuthzServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': Math.min(4 * maxRequestBytes, 2 ** 31 - 1),
    'grpc.enable_channelz': 0,
  });
  server.addService(authorizationService, {
    Check: (call: grpc.ServerUnaryCall<Uint8Array, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>): void => {
      callback(null, handler(call.request));
    },
  });
  const target = listen.startsWith('unix:') ? listen : listen;
  if (listen.startsWith('unix:')) rmSync(listen.slice('unix:'.length), { force: true });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(new Error(`ext_authz: cannot listen on ${listen}: ${err.message}`, { cause: err }))));
  });
  const address = listen.startsWith('unix:') ? listen : `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
  return {
    address,
    close: () => new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
    }),
  };
}
