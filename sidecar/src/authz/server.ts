// The ext_authz gRPC server: envoy.service.auth.v3.Authorization/Check on TCP
// ("host:port") or a Unix socket ("unix:/path"). Requests are taken as raw
// bytes and decoded by the handler, so that an undecodable message is answered
// with a deny, not with a gRPC error.
//
// Two implementations: 'http2' (default; http2-server.ts, gRPC framing on our
// own HTTP/2 framing layer, see there for why and for the measurements) and
// 'grpc-js' (the first one, kept for side-by-side benchmarks and as a fallback).
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { CheckHandler } from './handler.js';
import { CHECK_PATH, startHttp2AuthzServer } from './http2-server.js';

export { CHECK_PATH };

export type AuthzServerImpl = 'http2' | 'grpc-js';
export const AUTHZ_SERVER_IMPLS: readonly AuthzServerImpl[] = ['http2', 'grpc-js'];

export interface AuthzServerOptions {
  /** Which gRPC server serves Check. Default 'http2'. */
  readonly impl?: AuthzServerImpl;
}

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

export interface AuthzServer {
  /** The bound address: "127.0.0.1:<port>" or "unix:/path". */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Serves Check on `listen`. Messages up to 4× `maxRequestBytes` are accepted,
 * so that oversized CheckRequests reach the handler and are denied in-band.
 */
export async function startAuthzServer(listen: string, handler: CheckHandler, maxRequestBytes: number, options: AuthzServerOptions = {}): Promise<AuthzServer> {
  const impl = options.impl ?? 'http2';
  switch (impl) {
    case 'http2':
      return startHttp2AuthzServer(listen, handler, maxRequestBytes);
    case 'grpc-js':
      return startGrpcJsAuthzServer(listen, handler, maxRequestBytes);
  }
}

async function startGrpcJsAuthzServer(listen: string, handler: CheckHandler, maxRequestBytes: number): Promise<AuthzServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': Math.min(4 * maxRequestBytes, 2 ** 31 - 1),
    'grpc.enable_channelz': 0,
  });
  server.addService(authorizationService, {
    Check: (call: grpc.ServerUnaryCall<Uint8Array, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>): void => {
      callback(null, handler(call.request));
    },
  });
  if (listen.startsWith('unix:')) rmSync(listen.slice('unix:'.length), { force: true });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(new Error(`ext_authz: cannot listen on ${listen}: ${err.message}`, { cause: err }))));
  });
  const address = listen.startsWith('unix:') ? listen : `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
  return {
    address,
    close: () => new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
    }),
  };
}
