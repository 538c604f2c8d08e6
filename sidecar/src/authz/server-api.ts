// What every ext_authz Check server offers, and which ones a user may choose
// (--grpc-impl). Kept apart from server.ts so that naming one loads none.

export type AuthzServerImpl = 'http2' | 'grpc-js';
export const AUTHZ_SERVER_IMPLS: readonly AuthzServerImpl[] = ['http2', 'grpc-js'];
/** The default: the Check server on the sidecar's own HTTP/2 framing (http2-server.ts). */
export const DEFAULT_AUTHZ_SERVER_IMPL: AuthzServerImpl = 'http2';

/**
 * Where Check is served unless --listen says otherwise: the socket in the memory
 * volume that the injector mounts into Envoy and the sidecar only (the agent
 * cannot reach it, as it could any TCP port of the pod).
 */
export const DEFAULT_AUTHZ_LISTEN = 'unix:/var/run/agentwarden-authz/authz.sock';

export interface AuthzServerOptions {
  /** Which gRPC server serves Check. Default 'http2'. */
  readonly impl?: AuthzServerImpl;
}

export interface AuthzServer {
  /** The bound address: "127.0.0.1:<port>" or "unix:/path". */
  readonly address: string;
  close(): Promise<void>;
}
