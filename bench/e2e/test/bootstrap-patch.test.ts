// make bench-e2e's front Envoy: the injector's bootstrap for the bench pod, changed
// only where the patch says. Decoded strictly against Envoy's API protos, so a field
// the patch writes wrongly (or a bootstrap change that moves what it patches) fails
// here rather than in the benchmark.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { V1Pod } from '@kubernetes/client-node';
import { createRegistry, fromJson } from '@bufbuild/protobuf';
import { BootstrapSchema, file_envoy_config_bootstrap_v3_bootstrap } from '../../../proto/gen/envoy/config/bootstrap/v3/bootstrap_pb.js';
import { file_envoy_extensions_filters_network_http_connection_manager_v3_http_connection_manager } from '../../../proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js';
import { file_envoy_extensions_filters_http_ext_authz_v3_ext_authz } from '../../../proto/gen/envoy/extensions/filters/http/ext_authz/v3/ext_authz_pb.js';
import { file_envoy_extensions_filters_http_router_v3_router } from '../../../proto/gen/envoy/extensions/filters/http/router/v3/router_pb.js';
import { file_envoy_extensions_filters_http_dynamic_forward_proxy_v3_dynamic_forward_proxy } from '../../../proto/gen/envoy/extensions/filters/http/dynamic_forward_proxy/v3/dynamic_forward_proxy_pb.js';
import { file_envoy_extensions_clusters_dynamic_forward_proxy_v3_cluster } from '../../../proto/gen/envoy/extensions/clusters/dynamic_forward_proxy/v3/cluster_pb.js';
import { file_envoy_extensions_upstreams_http_v3_http_protocol_options } from '../../../proto/gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../../controller/src/inject/json.js';
import { injectedProxyEnvBootstrap, patchFrontBootstrap, type FrontPatch } from '../bootstrap-patch.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const POD = parse(readFileSync(`${ROOT}bench/peers/agentwarden/pod.yaml`, 'utf8')) as V1Pod;

const registry = createRegistry(
  file_envoy_config_bootstrap_v3_bootstrap,
  file_envoy_extensions_filters_network_http_connection_manager_v3_http_connection_manager,
  file_envoy_extensions_filters_http_ext_authz_v3_ext_authz,
  file_envoy_extensions_filters_http_router_v3_router,
  file_envoy_extensions_filters_http_dynamic_forward_proxy_v3_dynamic_forward_proxy,
  file_envoy_extensions_clusters_dynamic_forward_proxy_v3_cluster,
  file_envoy_extensions_upstreams_http_v3_http_protocol_options,
);

const BASE = { listener: { host: '127.0.0.1', port: 20001 }, admin: { pipe: '/tmp/aw/front-admin.sock' }, upstream: '127.0.0.1:20002' } as const;
const SIDECAR: FrontPatch = { ...BASE, authz: { pipe: '/tmp/aw/authz.sock' } };
const OPA: FrontPatch = { ...BASE, authz: { host: '127.0.0.1', port: 20003 } };
const NONE: FrontPatch = { ...BASE, authz: undefined };

/** Every leaf path where a and b differ, e.g. "admin.address.pipe.path". */
function changedPaths(a: JsonValue | undefined, b: JsonValue | undefined, at = ''): string[] {
  if (isJsonObject(a) && isJsonObject(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) => changedPaths(a[k], b[k], at === '' ? k : `${at}.${k}`));
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) return a.flatMap((v, i) => changedPaths(v, b[i], `${at}[${i}]`));
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at];
}

/** The names of the outbound listener's HTTP filters, in order. */
function httpFilters(b: JsonObject): string[] {
  const listener = ((b['static_resources'] as JsonObject)['listeners'] as JsonObject[])[0]!;
  const filters = (listener['filter_chains'] as JsonObject[]).flatMap((c) => c['filters'] as JsonObject[]);
  const hcm = filters.find((f) => f['name'] === 'envoy.filters.network.http_connection_manager')!['typed_config'] as JsonObject;
  return (hcm['http_filters'] as { name: string }[]).map((f) => f.name);
}

const LISTENER = 'static_resources.listeners[0]';
const HCM = `${LISTENER}.filter_chains[0].filters[0].typed_config`;
const ROUTES = `${HCM}.route_config.virtual_hosts[0].routes`;
const AUTHZ_ENDPOINT = 'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address';

describe('the front Envoy bootstrap of make bench-e2e', () => {
  const injected = injectedProxyEnvBootstrap(POD);

  it.each([['agentwarden', SIDECAR], ['opa-envoy', OPA], ['none', NONE]] as const)('for %s decodes strictly as envoy.config.bootstrap.v3.Bootstrap', (_name, patch) => {
    expect(() => fromJson(BootstrapSchema, patchFrontBootstrap(injected, patch), { registry, ignoreUnknownFields: false })).not.toThrow();
  });

  it('with the sidecar changes only the listener and admin addresses, the authz socket path and the forwarding route\'s host', () => {
    const b = patchFrontBootstrap(injected, SIDECAR);
    expect(changedPaths(injected, b).sort()).toEqual([
      'admin.address.pipe',
      'admin.address.socket_address',
      `${ROUTES}[1].typed_per_filter_config`,
      `${LISTENER}.address.socket_address.port_value`,
      `${AUTHZ_ENDPOINT}.pipe.path`,
    ].sort());
    expect(JSON.stringify(b)).toContain('"pipe":{"path":"/tmp/aw/authz.sock"}');
    expect(JSON.stringify(b)).toContain('"host_rewrite_literal":"127.0.0.1:20002"');
  });

  it('with OPA-Envoy points the authz cluster at its gRPC address and keeps the ext_authz filter as injected', () => {
    const b = patchFrontBootstrap(injected, OPA);
    expect(changedPaths(injected, b).filter((p) => p.startsWith(AUTHZ_ENDPOINT)).sort()).toEqual([`${AUTHZ_ENDPOINT}.pipe`, `${AUTHZ_ENDPOINT}.socket_address`]);
    expect(JSON.stringify(b)).toContain('"socket_address":{"address":"127.0.0.1","port_value":20003}');
    expect(httpFilters(b)).toEqual(httpFilters(injected));
  });

  it('without ext_authz removes only that HTTP filter: the forward proxy and the router stay in order', () => {
    expect(httpFilters(injected)).toEqual(['envoy.filters.http.ext_authz', 'envoy.filters.http.dynamic_forward_proxy', 'envoy.filters.http.router']);
    expect(httpFilters(patchFrontBootstrap(injected, NONE))).toEqual(['envoy.filters.http.dynamic_forward_proxy', 'envoy.filters.http.router']);
  });

  it('leaves the CONNECT route (HTTPS_PROXY tunnels) unrewritten and the injected bootstrap unchanged', () => {
    const before = JSON.stringify(injected);
    const b = patchFrontBootstrap(injected, SIDECAR);
    expect(JSON.stringify(injected)).toBe(before);
    expect(changedPaths(injected, b).some((p) => p.startsWith(`${ROUTES}[0]`))).toBe(false);
  });

  it('names what is missing when the bootstrap no longer has an ext_authz HTTP filter', () => {
    const noFilter = patchFrontBootstrap(injected, NONE);
    expect(() => patchFrontBootstrap(noFilter, SIDECAR)).toThrow('bootstrap: the outbound HTTP connection manager has no envoy.filters.http.ext_authz filter');
  });
});
