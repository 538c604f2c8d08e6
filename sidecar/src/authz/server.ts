// The ext_authz gRPC server: envoy.service.auth.v3.Authorization/Check on TCP
// ("host:port") or a Unix socket ("unix:/path"). Requests are taken as raw
// bytes and decoded by the handler, so that an undecodable message is answered
// with a deny, not with a gRPC error.
//
// Two implementations: 'http2' (default; http2-server.ts, gRPC framing on our
// own HTTP/2 framing layer, see there for why and for the measurements) and
// 'grpc-js' (grpc-js-server.ts: the first one, kept for side-by-side
// benchmarks and as a fallback).
import type { CheckHandler } from './handler.js';
import { DEFAULT_AUTHZ_SERVER_IMPL, type AuthzServer, type AuthzServerOptions } from './server-api.js';
import { CHECK_PATH, startHttp2AuthzServer } from './http2-server.js';

export { CHECK_PATH };
export { AUTHZ_SERVER_IMPLS, type AuthzServer, type AuthzServerImpl, type AuthzServerOptions } from './server-api.js';

/**
 * Serves Check on `listen`. Messages up to 4× `maxRequestBytes` are accepted,
 * so that oversized CheckRequests reach the handler and are denied in-band.
 */
export async function startAuthzServer(listen: string, handler: CheckHandler, maxRequestBytes: number, options: AuthzServerOptions = {}): Promise<AuthzServer> {
  const impl = options.impl ?? DEFAULT_AUTHZ_SERVER_IMPL;
  switch (impl) {
    case 'http2':
      return startHttp2AuthzServer(listen, handler, maxRequestBytes);
    case 'grpc-js':
      // Loaded only when asked for: grpc-js is not on the default path.
      return (await import('./grpc-js-server.js')).startGrpcJsAuthzServer(listen, handler, maxRequestBytes);
  }
}
