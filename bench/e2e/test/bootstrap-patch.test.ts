// make bench-e2e's front Envoy: the injector's bootstrap for the bench pod, changed
// only where the patch says, and accepted by the pinned Envoy (`envoy --mode
// validate`, .cache/bin/envoy from make envoy). A field the patch writes wrongly, or a
// bootstrap change that moves what it patches, fails here rather than in the benchmark.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { V1Pod } from '@kubernetes/client-node';
import { isJsonObject, type JsonObject, type JsonValue } from '../../../controller/src/inject/json.js';
import { injectedProxyEnvBootstrap, patchFrontBootstrap, type FrontPatch } from '../bootstrap-patch.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const POD = parse(readFileSync(`${ROOT}bench/peers/agentwarden/pod.yaml`, 'utf8')) as V1Pod;
const ENVOY = join(process.env['E2E_BIN_DIR'] ?? join(ROOT, '.cache/bin'), 'envoy');
const work = mkdtempSync(join(tmpdir(), 'agentwarden-bench-e2e-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function validate(bootstrap: JsonObject, name: string): Promise<{ ok: boolean; output: string }> {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify(bootstrap));
  return new Promise((resolve) => {
    execFile(ENVOY, ['--mode', 'validate', '--config-path', file, '--log-level', 'error'], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ ok: err === null, output: `${stdout}${stderr}` });
    });
  });
}

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

/** The typed_config of every HTTP connection manager, listener by listener. */
function managers(b: JsonObject): JsonObject[] {
  const listeners = (b['static_resources'] as JsonObject)['listeners'] as JsonObject[];
  const filters = listeners.flatMap((l) => (l['filter_chains'] as JsonObject[]).flatMap((c) => c['filters'] as JsonObject[]));
  return filters.filter((f) => f['name'] === 'envoy.filters.network.http_connection_manager').map((f) => f['typed_config'] as JsonObject);
}

/** Each HTTP connection manager's filter names, in order. */
function httpFilters(b: JsonObject): string[][] {
  return managers(b).map((hcm) => (hcm['http_filters'] as { name: string }[]).map((f) => f.name));
}

function connectRoutes(b: JsonObject): JsonObject[] {
  const routes = managers(b).flatMap((hcm) => ((hcm['route_config'] as JsonObject)['virtual_hosts'] as JsonObject[]).flatMap((vh) => vh['routes'] as JsonObject[]));
  return routes.filter((r) => (r['match'] as JsonObject)['connect_matcher'] !== undefined);
}

const AUTHZ_ENDPOINT = 'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address';

describe('the front Envoy bootstrap of make bench-e2e', () => {
  const injected = injectedProxyEnvBootstrap(POD);

  it.each([['agentwarden', SIDECAR], ['opa-envoy', OPA], ['none', NONE]] as const)('for %s is accepted by envoy --mode validate', async (name, patch) => {
    const r = await validate(patchFrontBootstrap(injected, patch), name);
    expect(r.output).not.toMatch(/error|exception/i);
    expect(r.ok).toBe(true);
  });

  it('with the sidecar changes only the listener and admin addresses, the authz socket path and the forwarding routes\' host', () => {
    const b = patchFrontBootstrap(injected, SIDECAR);
    const allowed = [
      /^admin\.address\.pipe\.path$/,
      /^static_resources\.listeners\[0\]\.address\.socket_address\.port_value$/,
      /^static_resources\.clusters\[0\]\.load_assignment\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.pipe\.path$/,
      /^static_resources\.listeners\[\d+\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.route_config\.virtual_hosts\[\d+\]\.routes\[\d+\]\.typed_per_filter_config\.envoy\.filters\.http\.dynamic_forward_proxy$/,
    ];
    const changed = changedPaths(injected, b);
    expect(changed.filter((p) => !allowed.some((re) => re.test(p)))).toEqual([]);
    expect(allowed.filter((re) => !changed.some((p) => re.test(p)))).toEqual([]);
    const text = JSON.stringify(b);
    expect(text).toContain('"path":"/tmp/aw/authz.sock"');
    expect(text).toContain('"path":"/tmp/aw/front-admin.sock"');
    expect(text).toContain('"host_rewrite_literal":"127.0.0.1:20002"');
  });

  it('with OPA-Envoy points the authz cluster at its gRPC address and keeps the ext_authz filter as injected', () => {
    const b = patchFrontBootstrap(injected, OPA);
    expect(changedPaths(injected, b).filter((p) => p.startsWith(AUTHZ_ENDPOINT)).sort()).toEqual([`${AUTHZ_ENDPOINT}.pipe`, `${AUTHZ_ENDPOINT}.socket_address`]);
    expect(JSON.stringify(b)).toContain('"socket_address":{"address":"127.0.0.1","port_value":20003}');
    expect(httpFilters(b)).toEqual(httpFilters(injected));
  });

  it('without ext_authz removes only that HTTP filter, from every HTTP connection manager', () => {
    const before = httpFilters(injected);
    expect(before.length).toBeGreaterThan(0);
    for (const chain of before) expect(chain).toContain('envoy.filters.http.ext_authz');
    expect(httpFilters(patchFrontBootstrap(injected, NONE))).toEqual(before.map((chain) => chain.filter((f) => f !== 'envoy.filters.http.ext_authz')));
  });

  it('rewrites the host of plain HTTP routes only, not of CONNECT tunnels, and leaves the injected bootstrap unchanged', () => {
    const before = JSON.stringify(injected);
    const b = patchFrontBootstrap(injected, SIDECAR);
    expect(JSON.stringify(injected)).toBe(before);
    expect(connectRoutes(b).length).toBeGreaterThan(0);
    expect(connectRoutes(b)).toEqual(connectRoutes(injected));
  });

  it('names what is missing when the bootstrap no longer has an ext_authz HTTP filter', () => {
    const noFilter = patchFrontBootstrap(injected, NONE);
    expect(() => patchFrontBootstrap(noFilter, SIDECAR)).toThrow('bootstrap: the HTTP connection manager of listener "outbound" has no envoy.filters.http.ext_authz filter');
  });
});
