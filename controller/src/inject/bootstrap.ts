// Envoy's bootstrap for one pod (pure): a loopback outbound listener on 15001
// that asks the sidecar about every HTTP request (ext_authz over gRPC, with
// the body for MCP), then forwards it to where the app was going.
//
// iptables capture: the listener sets use_original_dst (which installs the
// original_dst listener filter) and plain HTTP goes to an ORIGINAL_DST cluster.
// TLS the app originates itself cannot be read, so a second filter chain
// (tls_inspector) checks such connections with the network ext_authz filter,
// which sends the SNI, before tunnelling them unchanged.
// proxy-env capture: apps send HTTP_PROXY requests and HTTPS_PROXY CONNECTs;
// there is no original destination, so a dynamic forward proxy cluster
// resolves the request's host.
// TLS origination: the app speaks plain HTTP to a declared host and Envoy
// connects to it over TLS (SNI, certificate checked against the system CAs and
// the host name), so HTTP-level rules see the method and path of HTTPS APIs.
import { TLS_ORIGINATION_CONTEXT_KEY } from '../../../policy/src/request.js';
import { AUTHZ_SOCKET } from './names.js';
import type { InjectOptions } from './options.js';
import type { JsonObject } from './json.js';
import type { PodSettings, TlsOrigination } from './settings.js';

export const AUTHZ_CLUSTER = 'agentwarden_authz';
export const ORIGINAL_DST_CLUSTER = 'original_dst';
export const FORWARD_PROXY_CLUSTER = 'dynamic_forward_proxy';
/** Context extension the sidecar sees on requests Envoy re-sends over TLS: "host:port" of the upstream. */
export const TLS_ORIGINATION_EXTENSION = TLS_ORIGINATION_CONTEXT_KEY;

const TYPE = 'type.googleapis.com/';
const LOOPBACK = '127.0.0.1';
const CONNECT_TIMEOUT = '10s';

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
  const clusters: JsonObject[] = [authzCluster()];
  if (iptables) clusters.push({ name: ORIGINAL_DST_CLUSTER, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: CONNECT_TIMEOUT });
  else clusters.push(forwardProxyCluster());
  for (const t of settings.tlsOrigination) clusters.push(tlsCluster(t, options));
  return {
    node: { id: 'agentwarden-envoy', cluster: 'agentwarden' },
    admin: { address: socket(LOOPBACK, options.ports.envoyAdmin) },
    static_resources: { listeners: [listener], clusters },
  };
}

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
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: { '@type': `${TYPE}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, stat_prefix: 'tls_passthrough', cluster: ORIGINAL_DST_CLUSTER },
      },
    ],
  };
}

function httpConnectionManager(settings: PodSettings, options: InjectOptions): JsonObject {
  const iptables = settings.capture === 'iptables';
  const upstream = iptables ? ORIGINAL_DST_CLUSTER : FORWARD_PROXY_CLUSTER;
  // Streams (MCP over SSE) may last: no route timeout; idle streams still end (stream_idle_timeout, 5 min).
  const passthroughRoutes: JsonObject[] = [];
  if (!iptables) {
    // HTTPS_PROXY: CONNECT host:port is checked (host-level rules), then tunnelled. Its body is the tunnel: never buffered.
    passthroughRoutes.push({
      match: { connect_matcher: {} },
      route: { cluster: FORWARD_PROXY_CLUSTER, timeout: '0s', upgrade_configs: [{ upgrade_type: 'CONNECT', connect_config: {} }] },
      typed_per_filter_config: { 'envoy.filters.http.ext_authz': extAuthzPerRoute({ disable_request_body_buffering: true }) },
    });
  }
  passthroughRoutes.push({ match: { prefix: '/' }, route: { cluster: upstream, timeout: '0s' } });
  const virtualHosts: JsonObject[] = settings.tlsOrigination.map((t) => ({
    name: tlsClusterName(t),
    domains: [t.host, `${t.host}:80`],
    routes: [{
      match: { prefix: '/' },
      route: { cluster: tlsClusterName(t), timeout: '0s' },
      typed_per_filter_config: { 'envoy.filters.http.ext_authz': extAuthzPerRoute({ context_extensions: { [TLS_ORIGINATION_EXTENSION]: `${t.host}:${t.port}` } }) },
    }],
  }));
  virtualHosts.push({ name: 'passthrough', domains: ['*'], routes: passthroughRoutes });
  return {
    '@type': `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
    stat_prefix: 'outbound_http',
    codec_type: 'AUTO',
    route_config: { name: 'outbound', virtual_hosts: virtualHosts },
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
      ...(iptables ? [] : [{
        name: 'envoy.filters.http.dynamic_forward_proxy',
        typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig`, dns_cache_config: dnsCache() },
      }]),
      { name: 'envoy.filters.http.router', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router`, suppress_envoy_headers: true } },
    ],
    ...(iptables ? {} : { upgrade_configs: [{ upgrade_type: 'CONNECT' }], http2_protocol_options: { allow_connect: true } }),
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
