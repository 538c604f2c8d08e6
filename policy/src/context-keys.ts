// Context extensions the injected Envoy sets on its routes (ext_authz
// `context_extensions`), read by the decision. The injector imports these
// names from request.ts, so both sides spell them once.

/** On routes Envoy re-sends over TLS: "host:port" of the upstream. */
export const TLS_ORIGINATION_CONTEXT_KEY = 'agentwarden.io/tls-origination';

/**
 * On every route: Envoy's ext_authz `max_request_bytes`, in decimal. A body of
 * that many bytes or more is partial, whatever x-envoy-auth-partial-body says.
 */
export const MAX_REQUEST_BYTES_CONTEXT_KEY = 'agentwarden.io/max-request-bytes';

/**
 * On plain-HTTP routes (no TLS origination): the lower-case host names, comma
 * separated, that this pod reaches only through TLS origination. A plain-text
 * request to one of them is refused as invalid-request.
 */
export const TLS_ORIGINATED_HOSTS_CONTEXT_KEY = 'agentwarden.io/tls-originated-hosts';
