// The Envoy bootstrap is checked by the Envoy that runs it: every golden
// bootstrap and every variant below goes through `envoy --mode validate` (the
// pinned binary, .cache/bin/envoy, fetched by `make envoy`), which loads every
// listener, filter, cluster and extension exactly as a pod's Envoy would. The
// assertions below then name the properties the data plane relies on; the pod
// harness (e2e/pod) checks their effect with traffic.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envoyBootstrap, parseInjectOptions, type JsonObject, type PodSettings } from '../../src/inject/index.js';
import { CASES, GOLDEN_DIR, OPTIONS, ROOT } from './helpers.js';

const ENVOY = join(process.env['E2E_BIN_DIR'] ?? join(ROOT, '.cache/bin'), 'envoy');
const work = mkdtempSync(join(tmpdir(), 'aw-bootstrap-'));
// Envoy reads the upstream CA file while validating: an empty one is refused.
const CA = join(work, 'ca.crt');
writeFileSync(CA, readFileSync(join(ROOT, 'controller/test/inject/testdata/upstream-ca.crt')));

/** Runs `envoy --mode validate` on `bootstrap` (upstream CA path pointed at a real certificate). */
function validate(bootstrap: unknown): Promise<{ ok: boolean; output: string }> {
  const json = JSON.stringify(bootstrap).replaceAll('/etc/ssl/certs/ca-certificates.crt', CA);
  const file = join(work, `b-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, json);
  return new Promise((resolve) => {
    execFile(ENVOY, ['--mode', 'validate', '--config-path', file, '--log-level', 'error'], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ ok: err === null, output: `${stdout}${stderr}` });
    });
  });
}

type Json = JsonObject & Record<string, unknown>;
const listener = (b: JsonObject): Json => (b['static_resources'] as { listeners: Json[] }).listeners[0] ?? {};
const clusters = (b: JsonObject): Json[] => (b['static_resources'] as { clusters: Json[] }).clusters;
const chain = (b: JsonObject, name: string): Json | undefined => (listener(b)['filter_chains'] as Json[]).find((c) => c['name'] === name);
const hcm = (b: JsonObject): Json => ((chain(b, 'http')?.['filters'] as Json[])[0]?.['typed_config'] ?? {}) as Json;
const routes = (b: JsonObject): Json[] => ((hcm(b)['route_config'] as { virtual_hosts: { routes: Json[] }[] }).virtual_hosts).flatMap((v) => v.routes);

const IPTABLES: PodSettings = { capture: 'iptables', tlsOrigination: [] };
const PROXY_ENV_TLS: PodSettings = { capture: 'proxy-env', tlsOrigination: [{ host: 'api.zendesk.com', port: 443 }] };
const IPTABLES_TLS: PodSettings = { capture: 'iptables', tlsOrigination: [{ host: 'api.zendesk.com', port: 443 }, { host: 'mcp.example.com', port: 8443 }] };

describe('the Envoy bootstrap', () => {
  const injectedCases = CASES.filter((name) => {
    try { readFileSync(`${GOLDEN_DIR}${name}.bootstrap.json`); return true; } catch { return false; }
  });

  it.each(injectedCases)('golden/%s.bootstrap.json is accepted by envoy --mode validate', async (name) => {
    const r = await validate(JSON.parse(readFileSync(`${GOLDEN_DIR}${name}.bootstrap.json`, 'utf8')));
    expect(r.output).toContain('OK');
    expect(r.ok).toBe(true);
  });

  it.each([['iptables', IPTABLES], ['iptables with TLS origination', IPTABLES_TLS], ['proxy-env with TLS origination', PROXY_ENV_TLS]] as const)('is accepted by envoy --mode validate (%s)', async (_name, settings) => {
    const r = await validate(envoyBootstrap(settings, OPTIONS));
    expect(r.ok).toBe(true);
  });

  it('is refused by Envoy when a field is misspelt (the validation is real)', async () => {
    const typo = JSON.parse(JSON.stringify(envoyBootstrap(IPTABLES, OPTIONS)).replace('"with_request_body"', '"with_request_bodies"')) as unknown;
    const r = await validate(typo);
    expect(r.ok).toBe(false);
    expect(r.output).toContain('with_request_bodies');
  });

  it('routes plain HTTP by its authority through the dynamic forward proxy in both capture modes, never to the original destination', () => {
    for (const settings of [IPTABLES, PROXY_ENV_TLS]) {
      const b = envoyBootstrap(settings, OPTIONS);
      expect(clusters(b).map((c) => c['type'])).not.toContain('ORIGINAL_DST');
      const passthrough = routes(b).filter((r) => (r['route'] as Json)['cluster'] === 'dynamic_forward_proxy');
      expect(passthrough.length).toBeGreaterThan(0);
      expect(JSON.stringify(hcm(b)['http_filters'])).toContain('envoy.filters.http.dynamic_forward_proxy');
      expect(hcm(b)['scheme_header_transformation']).toEqual({ scheme_to_overwrite: 'http' });
    }
  });

  it('with iptables capture: TLS is decided on SNI and original port, then sent to the SNI host on that port, connected only after the decision', () => {
    const b = envoyBootstrap(IPTABLES, OPTIONS);
    expect(listener(b)['use_original_dst']).toBe(true);
    const filters = (chain(b, 'tls-passthrough')?.['filters'] as Json[]).map((f) => f['name']);
    expect(filters).toEqual(['envoy.filters.network.ext_authz', 'envoy.filters.network.set_filter_state', 'envoy.filters.network.sni_dynamic_forward_proxy', 'envoy.filters.network.tcp_proxy']);
    const tcp = ((chain(b, 'tls-passthrough')?.['filters'] as Json[])[3]?.['typed_config'] ?? {}) as Json;
    expect(tcp).toMatchObject({ cluster: 'dynamic_forward_proxy', upstream_connect_mode: 'ON_DOWNSTREAM_DATA' });
  });

  it('calls the sidecar over a Unix socket, fails closed, sends bodies up to the limit and tells the sidecar that limit on every route', () => {
    const b = envoyBootstrap(IPTABLES_TLS, parseInjectOptions({ maxRequestBytes: 4 * 1024 * 1024 }, 'test'));
    const authz = clusters(b).find((c) => c['name'] === 'agentwarden_authz');
    expect(JSON.stringify(authz)).toContain('"pipe":{"path":"/var/run/agentwarden-authz/authz.sock"}');
    const extAuthz = ((hcm(b)['http_filters'] as Json[])[0]?.['typed_config'] ?? {}) as Json;
    expect(extAuthz).toMatchObject({ failure_mode_allow: false, with_request_body: { max_request_bytes: 4194304, allow_partial_message: true, pack_as_bytes: true } });
    for (const r of routes(b)) {
      expect(JSON.stringify(r['typed_per_filter_config'])).toContain('"agentwarden.io/max-request-bytes":"4194304"');
    }
  });

  it('serves Envoy admin on a Unix socket only, never on a TCP port', () => {
    const b = envoyBootstrap(IPTABLES, OPTIONS);
    expect(b['admin']).toEqual({ address: { pipe: { path: '/var/run/agentwarden-authz/envoy-admin.sock', mode: 0o600 } } });
  });

  it('originates TLS to a declared host for every port spelling, and names those hosts on the plain-text routes', () => {
    const b = envoyBootstrap(IPTABLES_TLS, OPTIONS);
    expect((hcm(b)['route_config'] as Json)['ignore_port_in_host_matching']).toBe(true);
    const tls = clusters(b).find((c) => c['name'] === 'tls|mcp.example.com:8443');
    expect(JSON.stringify(tls)).toContain('"sni":"mcp.example.com"');
    expect(JSON.stringify(tls)).toContain('"match_typed_subject_alt_names":[{"san_type":"DNS","matcher":{"exact":"mcp.example.com"}}]');
    const plain = routes(b).filter((r) => (r['route'] as Json)['cluster'] === 'dynamic_forward_proxy');
    for (const r of plain) expect(JSON.stringify(r)).toContain('"agentwarden.io/tls-originated-hosts":"api.zendesk.com,mcp.example.com"');
  });

  it('does not obey the agent: no x-envoy-* control headers, no headers with underscores, paths forwarded as decided', () => {
    const h = hcm(envoyBootstrap(IPTABLES, OPTIONS));
    expect(h).toMatchObject({
      use_remote_address: true,
      internal_address_config: { unix_sockets: false, cidr_ranges: [{ address_prefix: '0.0.0.0', prefix_len: 32 }] },
      normalize_path: false,
      merge_slashes: false,
      path_with_escaped_slashes_action: 'KEEP_UNCHANGED',
      common_http_protocol_options: { headers_with_underscores_action: 'REJECT_REQUEST' },
    });
  });

  it.each([['iptables with TLS origination', IPTABLES_TLS], ['proxy-env with TLS origination', PROXY_ENV_TLS]] as const)('names only clusters it defines (%s)', (_name, settings) => {
    const json = envoyBootstrap(settings, OPTIONS);
    const defined = new Set(clusters(json).map((c) => c['name']));
    const named = [...JSON.stringify({ ...json, node: undefined }).matchAll(/"(?:cluster|cluster_name)":"([^"]+)"/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(2);
    for (const name of named) expect(defined).toContain(name);
  });
});
