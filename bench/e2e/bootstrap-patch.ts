// The front Envoy of make bench-e2e runs the bootstrap the injector generates
// (controller/src/inject/bootstrap.ts), changed only where one machine running
// three front Envoys side by side must differ from a pod (pure):
//   - the outbound listener's address and port (the agent's HTTP_PROXY);
//   - the admin address;
//   - the authz cluster's endpoint: the sidecar's Unix socket, or OPA-Envoy's
//     gRPC address; or, for the baseline, no ext_authz HTTP filter in any HTTP
//     connection manager (the outbound listener's, proxy-env's internal listener
//     for plain HTTP inside CONNECT);
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
  const admin = objectAt(b, 'admin');
  admin['address'] = retarget(admin['address'], patch.admin);

  const managers = httpManagers(b);
  const bound = [...new Set(managers.map((m) => m.listener))].filter((l) => l['address'] !== undefined);
  const outbound = bound[0];
  if (outbound === undefined || bound.length > 1) throw new Error(`bootstrap: expected one listener with an address serving HTTP, found ${bound.length}`);
  outbound['address'] = retarget(outbound['address'], patch.listener);

  const authz = arrayAt(objectAt(b, 'static_resources'), 'clusters').filter(isJsonObject).find((c) => c['name'] === AUTHZ_CLUSTER);
  if (authz === undefined) throw new Error(`bootstrap: static_resources.clusters has no cluster "${AUTHZ_CLUSTER}"`);
  if (patch.authz !== undefined) {
    const endpoint = firstEndpoint(authz);
    endpoint['address'] = retarget(endpoint['address'], patch.authz);
  }

  let rewritten = 0;
  for (const { listener, hcm } of managers) {
    const filters = arrayAt(hcm, 'http_filters');
    const extAuthz = filters.findIndex((f) => isJsonObject(f) && f['name'] === EXT_AUTHZ_FILTER);
    if (extAuthz < 0) throw new Error(`bootstrap: the HTTP connection manager of listener ${JSON.stringify(listener['name'] ?? null)} has no ${EXT_AUTHZ_FILTER} filter`);
    if (patch.authz === undefined) filters.splice(extAuthz, 1);
    for (const vh of arrayAt(objectAt(hcm, 'route_config'), 'virtual_hosts').filter(isJsonObject)) {
      for (const route of arrayAt(vh, 'routes').filter(isJsonObject)) {
        const action = route['route'];
        if (!isJsonObject(action) || action['cluster'] !== FORWARD_PROXY_CLUSTER || action['upgrade_configs'] !== undefined) continue;
        const perFilter = isJsonObject(route['typed_per_filter_config']) ? route['typed_per_filter_config'] : {};
        route['typed_per_filter_config'] = { ...perFilter, [DFP_FILTER]: { '@type': DFP_PER_ROUTE, host_rewrite_literal: patch.upstream } };
        rewritten++;
      }
    }
  }
  if (rewritten === 0) throw new Error(`bootstrap: no HTTP route forwards to the cluster "${FORWARD_PROXY_CLUSTER}"`);
  return b;
}

/** `a` in place of an address, keeping the old one's other fields (a pipe's mode, a socket's protocol) when it is of the same kind. */
function retarget(old: JsonValue | undefined, a: EnvoyAddress): JsonObject {
  const fresh = envoyAddress(a);
  if (!isJsonObject(old)) return fresh;
  const kind = 'pipe' in a ? 'pipe' : 'socket_address';
  const before = old[kind];
  const after = fresh[kind];
  return isJsonObject(before) && isJsonObject(after) ? { [kind]: { ...before, ...after } } : fresh;
}

/** Every HTTP connection manager (its typed_config) in static_resources.listeners, with its listener. */
function httpManagers(b: JsonObject): { listener: JsonObject; hcm: JsonObject }[] {
  const found: { listener: JsonObject; hcm: JsonObject }[] = [];
  for (const listener of arrayAt(objectAt(b, 'static_resources'), 'listeners').filter(isJsonObject)) {
    for (const chain of arrayAt(listener, 'filter_chains').filter(isJsonObject)) {
      for (const f of arrayAt(chain, 'filters').filter(isJsonObject)) {
        if (f['name'] === HCM) found.push({ listener, hcm: objectAt(f, 'typed_config') });
      }
    }
  }
  return found;
}

function firstEndpoint(cluster: JsonObject): JsonObject {
  const endpoints = arrayAt(objectAt(cluster, 'load_assignment'), 'endpoints');
  const lb = isJsonObject(endpoints[0]) ? arrayAt(endpoints[0], 'lb_endpoints') : [];
  const endpoint = isJsonObject(lb[0]) ? lb[0]['endpoint'] : undefined;
  if (!isJsonObject(endpoint)) throw new Error(`bootstrap: cluster ${JSON.stringify(cluster['name'] ?? null)} has no load_assignment endpoint`);
  return endpoint;
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
