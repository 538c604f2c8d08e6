// Envoy's bootstrap for one pod (pure): a loopback outbound listener on 15001
// that asks the sidecar about every request (ext_authz over gRPC on a Unix
// socket, with the body for MCP) and sends it to the host that was decided.
//
// The upstream is always the decided host (DESIGN.md "Data plane"): plain HTTP
// is routed by its authority through the dynamic forward proxy, in both capture
// modes, never to the original destination IP the agent chose; the sidecar sees
// the same authority and decides on the port Envoy will use (the authority's,
// else 80: :scheme is overwritten to http, the agent spoke plain text).
//
// iptables capture: the listener restores the original destination
// (use_original_dst) and a TLS inspector reads the SNI. TLS the agent opens
// itself goes through the network ext_authz filter (SNI and original port) and
// then to the SNI's host on that port (sni_dynamic_forward_proxy); the TCP
// proxy connects only after the decision (upstream_connect_mode).
// proxy-env capture: apps send HTTP_PROXY requests and HTTPS_PROXY CONNECTs;
// a CONNECT to port 443 is checked on its host and port (host-level rules),
// then tunnelled; a CONNECT to any other port is terminated and the plain HTTP
// inside it goes through an internal listener with the same filters.
// TLS origination: the app speaks plain HTTP to a declared host, whatever port
// it writes, and Envoy connects to it over TLS (SNI, certificate checked
// against the host name), so HTTP-level rules see the method and path of HTTPS
// APIs. The plain-text routes name those hosts to the sidecar, which denies a
// request for them that would leave in clear.
//
// Envoy's admin interface listens on a Unix socket in the volume only Envoy and
// the sidecar mount: nothing in the agent's container can reach it.
import { MAX_REQUEST_BYTES_CONTEXT_KEY, TLS_ORIGINATED_HOSTS_CONTEXT_KEY, TLS_ORIGINATION_CONTEXT_KEY } from '../../../policy/src/request.js';
import { AUTHZ_SOCKET, ENVOY_ADMIN_SOCKET } from './names.js';
import type { InjectOptions } from './options.js';
import type { JsonObject } from './json.js';
import type { PodSettings, TlsOrigination } from './settings.js';

export const AUTHZ_CLUSTER = 'agentwarden_authz';
export const FORWARD_PROXY_CLUSTER = 'dynamic_forward_proxy';
/** proxy-env: the internal listener (and the cluster that reaches it) serving plain HTTP inside CONNECT tunnels. */
export const CONNECT_INNER = 'connect_inner';
/** Context extension the sidecar sees on requests Envoy re-sends over TLS: "host:port" of the upstream. */
export const TLS_ORIGINATION_EXTENSION = TLS_ORIGINATION_CONTEXT_KEY;

const TYPE = 'type.googleapis.com/';
/** Request headers Envoy removes before the request goes upstream (after the decision). */
export const UPSTREAM_HEADERS_REMOVED = ['x-envoy-external-address', 'x-http-method-override', 'x-http-method', 'x-method-override'] as const;
const LOOPBACK = '127.0.0.1';
const CONNECT_TIMEOUT = '10s';
/** The TLS ClientHello (and whatever follows it) the TCP proxy holds until the decision. */
const TLS_EARLY_DATA_BYTES = 64 * 1024;

export function tlsClusterName(t: TlsOrigination): string {
  return `tls|${t.host}:${t.port}`;
}

function socket(address: string, port: number): JsonObject {
  return { socket_address: { address, port_value: port } };
}

function grpcService(options: InjectOptions): JsonObject {
  return { envoy_grpc: { cluster_name: AUTHZ_CLUSTER }, timeout: `${(options.authzTimeoutMs / 1000).toString()}s` };
}

function dnsCache(): JsonObject {
  return { name: 'agentwarden_dns', dns_lookup_family: 'V4_PREFERRED', max_hosts: 4096 };
}

/** The bootstrap as proto3 JSON (Envoy's snake_case field names), deterministic for the same input. */
export function envoyBootstrap(settings: PodSettings, options: InjectOptions): JsonObject {
  const iptables = settings.capture === 'iptables';
  const listener: JsonObject = {
    name: 'outbound',
    address: socket(LOOPBACK, options.ports.outbound),
    ...(iptables ? {
      use_original_dst: true,
      listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': `${TYPE}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector` } }],
    } : {}),
    filter_chains: [
      ...(iptables ? [tlsPassthroughChain(options)] : []),
      { name: 'http', filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: httpConnectionManager(settings, options) }] },
    ],
  };
  const clusters: JsonObject[] = [authzCluster(), forwardProxyCluster()];
  for (const t of settings.tlsOrigination) clusters.push(tlsCluster(t, options));
  const listeners: JsonObject[] = [listener];
  if (!iptables) {
    listeners.push({
      name: CONNECT_INNER,
      internal_listener: {},
      filter_chains: [{ name: 'http', filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: httpConnectionManager(settings, options, true) }] }],
    });
    clusters.push({
      name: CONNECT_INNER,
      connect_timeout: CONNECT_TIMEOUT,
      load_assignment: { cluster_name: CONNECT_INNER, endpoints: [{ lb_endpoints: [{ endpoint: { address: { envoy_internal_address: { server_listener_name: CONNECT_INNER } } } }] }] },
    });
  }
  return {
    node: { id: 'agentwarden-envoy', cluster: 'agentwarden' },
    // 0600: only the proxy UID (Envoy's own) may use it.
    admin: { address: { pipe: { path: ENVOY_ADMIN_SOCKET, mode: 0o600 } } },
    ...(iptables ? {} : { bootstrap_extensions: [{ name: 'envoy.bootstrap.internal_listener', typed_config: { '@type': `${TYPE}envoy.extensions.bootstrap.internal_listener.v3.InternalListener` } }] }),
    static_resources: { listeners, clusters },
  };
}

/** TLS opened by the agent: decided on SNI and original port, then sent to that host on that port, connected only once allowed. */
function tlsPassthroughChain(options: InjectOptions): JsonObject {
  return {
    name: 'tls-passthrough',
    filter_chain_match: { transport_protocol: 'tls' },
    filters: [
      {
        name: 'envoy.filters.network.ext_authz',
        typed_config: {
          '@type': `${TYPE}envoy.extensions.filters.network.ext_authz.v3.ExtAuthz`,
          stat_prefix: 'agentwarden_tls',
          grpc_service: grpcService(options),
          failure_mode_allow: false,
          transport_api_version: 'V3',
          include_tls_session: true,
        },
      },
      {
        // The port the agent connected to (restored by use_original_dst); the host is the SNI.
        name: 'envoy.filters.network.set_filter_state',
        typed_config: {
          '@type': `${TYPE}envoy.extensions.filters.network.set_filter_state.v3.Config`,
          on_new_connection: [{ object_key: 'envoy.upstream.dynamic_port', format_string: { text_format_source: { inline_string: '%DOWNSTREAM_LOCAL_PORT%' } } }],
        },
      },
      {
        name: 'envoy.filters.network.sni_dynamic_forward_proxy',
        typed_config: { '@type': `${TYPE}envoy.extensions.filters.network.sni_dynamic_forward_proxy.v3.FilterConfig`, dns_cache_config: dnsCache() },
      },
      {
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: {
          '@type': `${TYPE}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`,
          stat_prefix: 'tls_passthrough',
          cluster: FORWARD_PROXY_CLUSTER,
          // The first bytes reach the TCP proxy only after ext_authz allowed them: no connection before the decision.
          upstream_connect_mode: 'ON_DOWNSTREAM_DATA',
          max_early_data_bytes: TLS_EARLY_DATA_BYTES,
        },
      },
    ],
  };
}

/** `inner`: the HCM of the internal listener that serves terminated CONNECT tunnels (no CONNECT of its own). */
function httpConnectionManager(settings: PodSettings, options: InjectOptions, inner = false): JsonObject {
  const iptables = settings.capture === 'iptables';
  const bodyLimit = String(options.maxRequestBytes);
  const originated = settings.tlsOrigination.map((t) => t.host);
  // What the sidecar needs to know about the plain-text routes: the body limit, and the hosts it must never send in clear.
  const plainText: Record<string, string> = {
    [MAX_REQUEST_BYTES_CONTEXT_KEY]: bodyLimit,
    ...(originated.length > 0 ? { [TLS_ORIGINATED_HOSTS_CONTEXT_KEY]: originated.join(',') } : {}),
  };
  // Streams (MCP over SSE) may last: no route timeout; idle streams still end (stream_idle_timeout, 5 min).
  const passthroughRoutes: JsonObject[] = [];
  if (!iptables && !inner) {
    // HTTPS_PROXY: CONNECT host:443 is checked (host- and port-level rules, like TLS the agent opens itself),
    // then tunnelled. Its body is the tunnel: never buffered.
    passthroughRoutes.push({
      match: { connect_matcher: {}, headers: [{ name: ':authority', string_match: { suffix: ':443' } }] },
      route: { cluster: FORWARD_PROXY_CLUSTER, timeout: '0s', upgrade_configs: [{ upgrade_type: 'CONNECT', connect_config: {} }] },
      typed_per_filter_config: { 'envoy.filters.http.ext_authz': extAuthzPerRoute({ disable_request_body_buffering: true, context_extensions: plainText }) },
    });
    // A CONNECT to any other port carries plain HTTP (Node's EnvHttpProxyAgent tunnels even http:// URLs):
    // Envoy terminates it and hands the stream to an internal listener with these same filters, so every
    // request inside is decided on its own method, path and body, and routed by its own authority.
    passthroughRoutes.push({
      match: { connect_matcher: {} },
      route: { cluster: CONNECT_INNER, timeout: '0s', upgrade_configs: [{ upgrade_type: 'CONNECT', connect_config: {} }] },
      typed_per_filter_config: { 'envoy.filters.http.ext_authz': { '@type': `${TYPE}envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute`, disabled: true } },
    });
  }
  passthroughRoutes.push({
    match: { prefix: '/' },
    route: { cluster: FORWARD_PROXY_CLUSTER, timeout: '0s' },
    typed_per_filter_config: { 'envoy.filters.http.ext_authz': extAuthzPerRoute({ context_extensions: plainText }) },
  });
  const virtualHosts: JsonObject[] = settings.tlsOrigination.map((t) => ({
    name: tlsClusterName(t),
    domains: [t.host],
    routes: [{
      match: { prefix: '/' },
      route: { cluster: tlsClusterName(t), timeout: '0s', host_rewrite_literal: t.host },
      typed_per_filter_config: {
        'envoy.filters.http.ext_authz': extAuthzPerRoute({ context_extensions: { [TLS_ORIGINATION_EXTENSION]: `${t.host}:${t.port}`, [MAX_REQUEST_BYTES_CONTEXT_KEY]: bodyLimit } }),
      },
    }],
  }));
  virtualHosts.push({ name: 'passthrough', domains: ['*'], routes: passthroughRoutes });
  return {
    '@type': `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
    stat_prefix: inner ? 'connect_inner_http' : 'outbound_http',
    codec_type: 'AUTO',
    // Every port spelling of a TLS-originated host (api.x.com, api.x.com:443, api.x.com:80) takes its TLS route.
    // x-envoy-external-address (the pod's IP, added for external requests) is nothing the upstream needs.
    // The method-override headers would make frameworks that honour them (Express's method-override,
    // Symfony, Laravel, Google APIs) run another method than the one decided, credential attached.
    route_config: { name: 'outbound', ignore_port_in_host_matching: true, request_headers_to_remove: [...UPSTREAM_HEADERS_REMOVED], virtual_hosts: virtualHosts },
    // The agent is outside every trust boundary: Envoy strips the x-envoy-* headers of external requests
    // (retries, timeouts, x-envoy-internal) instead of obeying them. An empty cidr_ranges means Envoy's
    // default private ranges, which the pod's own addresses are in; 0.0.0.0/32 is never a peer address,
    // so no downstream is internal. X-Forwarded-For is not extended with pod addresses.
    use_remote_address: true,
    skip_xff_append: true,
    internal_address_config: { unix_sockets: false, cidr_ranges: [{ address_prefix: '0.0.0.0', prefix_len: 32 }] },
    // The agent spoke plain text to Envoy: the sidecar decides on http (port 80 unless the authority names one),
    // whatever :scheme or absolute URI the agent wrote.
    scheme_header_transformation: { scheme_to_overwrite: 'http' },
    // "api.x.com." and "api.x.com" are one host for the routes, the sidecar and the DNS cache alike.
    strip_trailing_host_dot: true,
    // The path is forwarded as written and decided as written: the sidecar denies the ambiguous forms
    // (dot segments, encoded slashes, matrix parameters, double encoding) instead of Envoy rewriting them.
    normalize_path: false,
    merge_slashes: false,
    path_with_escaped_slashes_action: 'KEEP_UNCHANGED',
    // Upstreams that read "x_agentwarden_decision" as "x-agentwarden-decision" (CGI, WSGI, nginx) never see one.
    common_http_protocol_options: { headers_with_underscores_action: 'REJECT_REQUEST' },
    http_filters: [
      {
        name: 'envoy.filters.http.ext_authz',
        typed_config: {
          '@type': `${TYPE}envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`,
          grpc_service: grpcService(options),
          transport_api_version: 'V3',
          failure_mode_allow: false,
          with_request_body: { max_request_bytes: options.maxRequestBytes, allow_partial_message: true, pack_as_bytes: true },
        },
      },
      {
        name: 'envoy.filters.http.dynamic_forward_proxy',
        typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig`, dns_cache_config: dnsCache() },
      },
      { name: 'envoy.filters.http.router', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router`, suppress_envoy_headers: true } },
    ],
    ...(iptables || inner ? {} : { upgrade_configs: [{ upgrade_type: 'CONNECT' }], http2_protocol_options: { allow_connect: true } }),
  };
}

function extAuthzPerRoute(checkSettings: JsonObject): JsonObject {
  return { '@type': `${TYPE}envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute`, check_settings: checkSettings };
}

function authzCluster(): JsonObject {
  return {
    name: AUTHZ_CLUSTER,
    type: 'STATIC',
    connect_timeout: '1s',
    // A Unix socket shared with the sidecar only (names.ts: AUTHZ_SOCKET), not loopback TCP the agent could reach.
    load_assignment: { cluster_name: AUTHZ_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: AUTHZ_SOCKET } } } }] }] },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': `${TYPE}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
  };
}

function forwardProxyCluster(): JsonObject {
  return {
    name: FORWARD_PROXY_CLUSTER,
    lb_policy: 'CLUSTER_PROVIDED',
    connect_timeout: CONNECT_TIMEOUT,
    cluster_type: {
      name: 'envoy.clusters.dynamic_forward_proxy',
      typed_config: { '@type': `${TYPE}envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig`, dns_cache_config: dnsCache() },
    },
  };
}

function tlsCluster(t: TlsOrigination, options: InjectOptions): JsonObject {
  const name = tlsClusterName(t);
  return {
    name,
    type: 'LOGICAL_DNS',
    dns_lookup_family: 'V4_PREFERRED',
    // A host that does not resolve yet must not hold the whole listener back (Envoy waits for every warming cluster).
    wait_for_warm_on_init: false,
    connect_timeout: CONNECT_TIMEOUT,
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(t.host, t.port) } }] }] },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': `${TYPE}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
        sni: t.host,
        common_tls_context: {
          alpn_protocols: ['http/1.1'],
          validation_context: {
            trusted_ca: { filename: options.upstreamCaFile },
            // Without a SAN matcher Envoy checks the chain only, not that the certificate is the host's.
            match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: t.host } }],
          },
        },
      },
    },
  };
}
