// The ext_authz engines behind the front Envoys. The sidecar runs as the injector
// runs it (controller/src/inject/containers.ts: `agentwarden sidecar --listen
// unix:<socket> --max-request-bytes ...`), in standalone mode on the bench policy and
// pod, with audit spans exported to the bench's OTLP sink. OPA-Envoy runs exactly as
// make bench starts it (bench/compare/engines.ts), on loopback gRPC.
import { join } from 'node:path';
import { DEFAULT_INJECT_OPTIONS } from '../../controller/src/inject/options.js';
import { loadCerbosApi } from '../compare/cerbos.js';
import { startEngine, type Paths } from '../compare/engines.js';
import { freePort } from '../compare/proc.js';
import type { EnvoyAddress } from './bootstrap-patch.js';
import { getStatus, spawnLogged, track, waitReady } from './procs.js';

/** `none`: the same front Envoy without the ext_authz filter (the baseline). */
export type Variant = 'none' | 'agentwarden' | 'opa-envoy';
export const VARIANTS: readonly Variant[] = ['none', 'agentwarden', 'opa-envoy'];
export type Engine = Exclude<Variant, 'none'>;

export interface RunningAuthz {
  /** Where the front Envoy's authz cluster points. */
  readonly address: EnvoyAddress;
  readonly pid: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
/** As the injector: Envoy's body limit plus a MiB for headers and attributes. */
const SIDECAR_MAX_REQUEST_BYTES = DEFAULT_INJECT_OPTIONS.maxRequestBytes + 1024 * 1024;

export async function startSidecar(paths: Paths, socket: string, otlpEndpoint: string, log: string): Promise<RunningAuthz> {
  const peers = join(paths.root, 'bench', 'peers', 'agentwarden');
  const adminPort = await freePort();
  const p = await spawnLogged('agentwarden sidecar', join(paths.root, 'bin', 'agentwarden'), [
    'sidecar', '--policy', join(peers, 'policy.yaml'), '--pod', join(peers, 'pod.yaml'),
    '--listen', `unix:${socket}`, '--max-request-bytes', String(SIDECAR_MAX_REQUEST_BYTES), '--admin-listen', `127.0.0.1:${adminPort}`,
  ], log, { OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_EXPORTER: 'otlp' });
  try {
    await waitReady(p, '/readyz 200', async () => await getStatus({ port: adminPort }, '/readyz') === 200, READY_TIMEOUT_MS);
  } catch (e: unknown) {
    await p.stop();
    throw e;
  }
  return { address: { pipe: socket }, pid: p.pid, stop: () => p.stop() };
}

export async function startOpaEnvoy(paths: Paths, otlpEndpoint: string): Promise<RunningAuthz> {
  const e = track(await startEngine('opa-envoy', { paths, otlpEndpoint, cerbosApi: await loadCerbosApi(), logSuffix: '' }));
  const [host = '', port = ''] = e.grpcAddress.split(':');
  return { address: { host, port: Number(port) }, pid: e.pid, stop: () => e.stop() };
}
