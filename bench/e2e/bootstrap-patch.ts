// The front Envoy of make bench-e2e runs the bootstrap the injector generates
// (controller/src/inject/bootstrap.ts), changed only where one machine running
// three front Envoys side by side must differ from a pod (pure):
//   - the outbound listener's address and port (the agent's HTTP_PROXY);
//   - the admin address;
//   - the authz cluster's endpoint: the sidecar's Unix socket, or OPA-Envoy's
//     gRPC address; or, for the baseline, no ext_authz HTTP filter at all;
//   - where forwarded requests go: every route to the dynamic forward proxy
//     rewrites the host to the bench's upstream before the DNS lookup. The
//     decision still sees the agent's authority (api.github.com...), which is
//     what the bench policy names; the DFP filter runs after ext_authz.
// A bootstrap change that moves any of these breaks the patch's unit test
// (bench/e2e/test/bootstrap-patch.test.ts), not the benchmark.
import type { V1Pod } from '@kubernetes/client-node';
import { AUTHZ_CLUSTER, FORWARD_PROXY_CLUSTER, envoyBootstrap } from '../../controller/src/inject/bootstrap.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../controller/src/inject/json.js';
import { CAPTURE_ANNOTATION } from '../../controller/src/inject/names.js';
import { DEFAULT_INJECT_OPTIONS } from '../../controller/src/inject/options.js';
import { readPodSettings } from '../../controller/src/inject/settings.js';

export const EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';
const HCM = 'envoy.filters.network.http_connection_manager';
const DFP_FILTER = 'envoy.filters.http.dynamic_forward_proxy';
const DFP_PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.PerRouteConfig';

/** An Envoy address: a Unix socket path or a TCP host and port. */
export type EnvoyAddress = { readonly pipe: string } | { readonly host: string; readonly port: number };

export interface FrontPatch {
  /** The outbound listener (the agent's proxy). */
  readonly listener: { readonly host: string; readonly port: number };
  readonly admin: EnvoyAddress;
  /** The ext_authz engine; undefined removes the ext_authz HTTP filter (the baseline). */
  readonly authz: EnvoyAddress | undefined;
  /** host:port every forwarded request is sent to. */
  readonly upstream: string;
}

export function envoyAddress(a: EnvoyAddress): JsonObject {
  return 'pipe' in a ? { pipe: { path: a.pipe } } : { socket_address: { address: a.host, port_value: a.port } };
}

/** What the injector gives `pod` (with the default options) when it asks for capture proxy-env. */
export function injectedProxyEnvBootstrap(pod: V1Pod): JsonObject {
  const annotations = { ...pod.metadata?.annotations, [CAPTURE_ANNOTATION]: 'proxy-env' };
  return envoyBootstrap(readPodSettings({ ...pod, metadata: { ...pod.metadata, annotations } }), DEFAULT_INJECT_OPTIONS);
}

/** A patched deep copy of `bootstrap`; throws naming what the bootstrap no longer has. */
export function patchFrontBootstrap(bootstrap: JsonObject, patch: FrontPatch): JsonObject {
  const b = structuredClone(bootstrap);
  b['admin'] = { ...objectAt(b, 'admin'), address: envoyAddress(patch.admin) };

  const { listener, hcm } = httpListener(b);
  listener['address'] = envoyAddress(patch.listener);

  const authz = arrayAt(objectAt(b, 'static_resources'), 'clusters').filter(isJsonObject).find((c) => c['name'] === AUTHZ_CLUSTER);
  if (authz === undefined) throw new Error(`bootstrap: static_resources.clusters has no cluster "${AUTHZ_CLUSTER}"`);
  const filters = arrayAt(hcm, 'http_filters');
  const extAuthz = filters.findIndex((f) => isJsonObject(f) && f['name'] === EXT_AUTHZ_FILTER);
  if (extAuthz < 0) throw new Error(`bootstrap: the outbound HTTP connection manager has no ${EXT_AUTHZ_FILTER} filter`);
  if (patch.authz === undefined) filters.splice(extAuthz, 1);
  else authz['load_assignment'] = { cluster_name: AUTHZ_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: envoyAddress(patch.authz) } }] }] };

  let rewritten = 0;
  for (const vh of arrayAt(objectAt(hcm, 'route_config'), 'virtual_hosts').filter(isJsonObject)) {
    for (const route of arrayAt(vh, 'routes').filter(isJsonObject)) {
      const action = route['route'];
      if (!isJsonObject(action) || action['cluster'] !== FORWARD_PROXY_CLUSTER || action['upgrade_configs'] !== undefined) continue;
      const perFilter = isJsonObject(route['typed_per_filter_config']) ? route['typed_per_filter_config'] : {};
      route['typed_per_filter_config'] = { ...perFilter, [DFP_FILTER]: { '@type': DFP_PER_ROUTE, host_rewrite_literal: patch.upstream } };
      rewritten++;
    }
  }
  if (rewritten === 0) throw new Error(`bootstrap: no HTTP route forwards to the cluster "${FORWARD_PROXY_CLUSTER}" (capture proxy-env)`);
  return b;
}

/** The one listener with an HTTP connection manager, and that manager's typed_config. */
function httpListener(b: JsonObject): { listener: JsonObject; hcm: JsonObject } {
  const found: { listener: JsonObject; hcm: JsonObject }[] = [];
  for (const listener of arrayAt(objectAt(b, 'static_resources'), 'listeners').filter(isJsonObject)) {
    for (const chain of arrayAt(listener, 'filter_chains').filter(isJsonObject)) {
      for (const f of arrayAt(chain, 'filters').filter(isJsonObject)) {
        if (f['name'] === HCM) found.push({ listener, hcm: objectAt(f, 'typed_config') });
      }
    }
  }
  const first = found[0];
  if (first === undefined || found.length > 1) throw new Error(`bootstrap: expected one HTTP connection manager in static_resources.listeners, found ${found.length}`);
  return first;
}

function objectAt(o: JsonObject, key: string): JsonObject {
  const v = o[key];
  if (!isJsonObject(v)) throw new Error(`bootstrap: "${key}" is not an object`);
  return v;
}

function arrayAt(o: JsonObject, key: string): JsonValue[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new Error(`bootstrap: "${key}" is not a list`);
  return v;
}
