// The parts of an Envoy CheckRequest the decision reads, and nothing else. The
// shape is protobuf-es's (same names, optionality and value types), so its
// generated `CheckRequest` is one of these: the CLI and the tests keep passing
// protobuf-es messages, the sidecar passes what check-request-wire.ts decodes.
// A field added here must be read by that decoder too (its tests compare the
// two on exactly these fields).

/** envoy.service.auth.v3.CheckRequest, as far as the decision reads it. */
export interface CheckRequestFields {
  readonly attributes?: AttributeContextFields | undefined;
}

/**
 * envoy.service.auth.v3.AttributeContext: destination (2), request (4),
 * context_extensions (10), tls_session (12). Envoy's network ext_authz filter
 * sends no request, but destination and, with include_tls_session, tls_session.
 */
export interface AttributeContextFields {
  readonly destination?: PeerFields | undefined;
  readonly request?: RequestFields | undefined;
  readonly contextExtensions: Readonly<Record<string, string>>;
  readonly tlsSession?: TlsSessionFields | undefined;
}

/** AttributeContext.Peer: address (1). */
export interface PeerFields {
  readonly address?: AddressFields | undefined;
}

/** envoy.config.core.v3.Address: the socket_address (1) case of its oneof. */
export interface AddressFields {
  readonly address:
    | { readonly case: 'socketAddress'; readonly value: SocketAddressFields }
    | { readonly case: 'pipe' | 'envoyInternalAddress' | undefined; readonly value?: unknown };
}

/** envoy.config.core.v3.SocketAddress: the port_value (3) case of its port_specifier. */
export interface SocketAddressFields {
  readonly portSpecifier:
    | { readonly case: 'portValue'; readonly value: number }
    | { readonly case: 'namedPort' | undefined; readonly value?: unknown };
}

/** AttributeContext.TLSSession: sni (1). */
export interface TlsSessionFields {
  readonly sni: string;
}

/** AttributeContext.Request: time (1), http (2). */
export interface RequestFields {
  readonly time?: TimestampFields | undefined;
  readonly http?: HttpRequestFields | undefined;
}

/** google.protobuf.Timestamp. */
export interface TimestampFields {
  readonly seconds: bigint;
  readonly nanos: number;
}

/** AttributeContext.HttpRequest without id, fragment, size and protocol. */
export interface HttpRequestFields {
  readonly method: string;
  /** Map field: names as Envoy sent them (lower case in practice). */
  readonly headers: Readonly<Record<string, string>>;
  readonly headerMap?: HeaderMapFields | undefined;
  readonly path: string;
  readonly host: string;
  readonly scheme: string;
  readonly query: string;
  readonly body: string;
  readonly rawBody: Uint8Array;
}

/** envoy.config.core.v3.HeaderMap (Envoy's encode_raw_headers). */
export interface HeaderMapFields {
  readonly headers: readonly HeaderValueFields[];
}

/** envoy.config.core.v3.HeaderValue: the value is in `value` or, raw, in `rawValue`. */
export interface HeaderValueFields {
  readonly key: string;
  readonly value: string;
  readonly rawValue: Uint8Array;
}
