// Check served by grpc-js: the sidecar's first ext_authz server, kept for
// side-by-side benchmarks and as a fallback (--grpc-impl grpc-js). The default
// is http2-server.ts.
import * as grpc from '@grpc/grpc-js';
import type { CheckHandler } from './handler.js';
import { CHECK_PATH } from './http2-server.js';
import { GRPC_STATUS_NAMES, type AuthzServer } from './server-api.js';
const { rmSync } = process.getBuiltinModule('node:fs');

const authorizationService: grpc.ServiceDefinition = {
  Check: {
    path: CHECK_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Uint8Array): Buffer => Buffer.from(b),
    requestDeserialize: (b: Buffer): Uint8Array => b,
    responseSerialize: (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    responseDeserialize: (b: Buffer): Buffer => b,
  },
};

export async function startGrpcJsAuthzServer(listen: string, handler: CheckHandler, maxRequestBytes: number): Promise<AuthzServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': Math.min(4 * maxRequestBytes, 2 ** 31 - 1),
    'grpc.enable_channelz': 0,
  });
  let checks = 0;
  server.addService(authorizationService, {
    Check: (call: grpc.ServerUnaryCall<Uint8Array, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>): void => {
      checks++;
      callback(null, handler(call.request));
    },
  });
  if (listen.startsWith('unix:')) rmSync(listen.slice('unix:'.length), { force: true });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(new Error(`ext_authz: cannot listen on ${listen}: ${err.message}`, { cause: err }))));
  });
  const address = listen.startsWith('unix:') ? listen : `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
  const hardCap = Math.min(4 * maxRequestBytes, 2 ** 31 - 1);
  return {
    address,
    // grpc-js answers its own errors and limits without telling the service: only checks are counted here.
    stats: () => ({
      checks, compressed: 0, grpcErrors: new Array<number>(GRPC_STATUS_NAMES.length).fill(0), httpErrors: {},
      limitsHit: { 'message-size': 0, buffer: 0, 'inflated-size': 0, 'concurrent-streams': 0, 'header-list-size': 0 },
      connectionErrors: 0, bufferedBytes: 0, bufferLimitBytes: hardCap,
    }),
    close: () => new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
    }),
  };
}
