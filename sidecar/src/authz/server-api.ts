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

/** The limits the Check server enforces; each refusal is counted by name (STYLE 5). */
export type AuthzLimit = 'message-size' | 'buffer' | 'inflated-size' | 'concurrent-streams' | 'header-list-size';
export const AUTHZ_LIMITS: readonly AuthzLimit[] = ['message-size', 'buffer', 'inflated-size', 'concurrent-streams', 'header-list-size'];

/** What a Check server counts, read by /metrics. Counters only grow. */
export interface AuthzServerStats {
  /** Calls that reached the handler. */
  readonly checks: number;
  /** Of those, how many came compressed. */
  readonly compressed: number;
  /** Calls answered with a gRPC error status, by status code (the index). */
  readonly grpcErrors: readonly number[];
  /** Requests refused at the HTTP level, by status (405, 415, 431). */
  readonly httpErrors: Readonly<Record<string, number>>;
  /** Calls, streams or requests refused because a limit was reached, by limit. */
  readonly limitsHit: Readonly<Record<AuthzLimit, number>>;
  /** HTTP/2 connections ended with an error (GOAWAY with an error code). */
  readonly connectionErrors: number;
  /** Bytes of request messages held now while they arrive or inflate, across connections. */
  readonly bufferedBytes: number;
  /** The most those may be (the shared buffer budget). */
  readonly bufferLimitBytes: number;
}

export interface AuthzServer {
  /** The bound address: "127.0.0.1:<port>" or "unix:/path". */
  readonly address: string;
  /** The counters now. */
  stats(): AuthzServerStats;
  close(): Promise<void>;
}

/** gRPC status names by code, for labels. */
export const GRPC_STATUS_NAMES: readonly string[] = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];
