// The Envoys of make bench-e2e: the front Envoy (the injector's bootstrap,
// patched by bootstrap-patch.ts) and the upstream, a second Envoy that answers
// every request itself (hand-written config: it stands for the API the agent calls).
import { writeFileSync } from 'node:fs';
import type { JsonObject } from '../../controller/src/inject/json.js';
import { envoyAddress, type EnvoyAddress } from './bootstrap-patch.js';
import { getStatus, spawnLogged, waitReady, type Proc } from './procs.js';

const TYPE = 'type.googleapis.com/envoy.extensions.';
export const UPSTREAM_BODY = 'upstream ok\n';
const READY_TIMEOUT_MS = 30_000;

/**
 * Answers 200 UPSTREAM_BODY to everything on host:port. The buffer filter reads the
 * whole request first, so a POST body is never cut off by an early answer (which
 * would make Envoy close the connection).
 */
export function upstreamBootstrap(listen: { host: string; port: number }, admin: EnvoyAddress): JsonObject {
  return {
    node: { id: 'bench-e2e-upstream', cluster: 'bench-e2e' },
    admin: { address: envoyAddress(admin) },
    static_resources: {
      listeners: [{
        name: 'upstream',
        address: envoyAddress(listen),
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': `${TYPE}filters.network.http_connection_manager.v3.HttpConnectionManager`,
              stat_prefix: 'upstream',
              codec_type: 'AUTO',
              route_config: {
                name: 'upstream',
                virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: UPSTREAM_BODY } } }] }],
              },
              http_filters: [
                { name: 'envoy.filters.http.buffer', typed_config: { '@type': `${TYPE}filters.http.buffer.v3.Buffer`, max_request_bytes: 1024 * 1024 } },
                { name: 'envoy.filters.http.router', typed_config: { '@type': `${TYPE}filters.http.router.v3.Router` } },
              ],
            },
          }],
        }],
      }],
    },
  };
}

export interface EnvoyStart {
  readonly binary: string;
  readonly name: string;
  readonly bootstrap: JsonObject;
  /** The bootstrap is written to `<workPrefix>.json`, the log to `<workPrefix>.log`. */
  readonly workPrefix: string;
  readonly adminSocket: string;
  readonly concurrency: number;
  readonly logLevel: string;
}

/** Starts Envoy and waits until its admin answers /ready with 200 (listeners bound, clusters initialised). */
export async function startEnvoy(o: EnvoyStart): Promise<Proc> {
  const config = `${o.workPrefix}.json`;
  writeFileSync(config, `${JSON.stringify(o.bootstrap, null, 1)}\n`);
  const p = await spawnLogged(o.name, o.binary,
    ['-c', config, '--disable-hot-restart', '--concurrency', String(o.concurrency), '--log-level', o.logLevel], `${o.workPrefix}.log`);
  try {
    await waitReady(p, 'admin /ready 200', async () => await getStatus({ socketPath: o.adminSocket }, '/ready') === 200, READY_TIMEOUT_MS);
  } catch (e: unknown) {
    await p.stop();
    throw e;
  }
  return p;
}
