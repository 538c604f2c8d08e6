// The ext_authz engines behind the front Envoys. The sidecar runs as the injector
// runs it (controller/src/inject/containers.ts: `agentwarden sidecar --listen
// unix:<socket> --max-request-bytes ...`), in standalone mode on the bench policy and
// pod, with audit spans exported to the bench's OTLP sink. OPA-Envoy runs exactly as
// make bench starts it (bench/compare/engines.ts), on loopback gRPC.
//
// The floors: what any out-of-process ext_authz round trip through Envoy adds here,
// whatever the server does. Both answer every Check with the same fixed allow
// (bench/memory/fixed-answer.ts) on a Unix socket, as the sidecar is reached, without
// decoding the request: no policy, telemetry or credentials.
//   floor-node: bench/memory/bare-responder.ts, the sidecar's own HTTP/2 framing on the
//     same Node with the launcher's V8 flags and malloc setting (bin/agentwarden);
//   floor-go: bench/peers/authz-floor (grpc-go, pinned in its go.mod), not Node at all.
import { join } from 'node:path';
import { FIXED_ANSWER } from '../memory/fixed-answer.js';
import { DEFAULT_INJECT_OPTIONS } from '../../controller/src/inject/options.js';
import { loadCerbosApi } from '../compare/cerbos.js';
import { startEngine, type Paths } from '../compare/engines.js';
import { freePort } from '../compare/proc.js';
import type { EnvoyAddress } from './bootstrap-patch.js';
import { accepts, getStatus, spawnLogged, track, waitReady } from './procs.js';

/** `none`: the same front Envoy without the ext_authz filter (the baseline). */
export type Variant = 'none' | 'agentwarden' | 'opa-envoy' | 'floor-node' | 'floor-go';
export const VARIANTS: readonly Variant[] = ['none', 'agentwarden', 'opa-envoy', 'floor-node', 'floor-go'];
/** Engines that allow everything (the floors): every request of the mix reaches the upstream. */
export const ALLOW_ALL: ReadonlySet<Variant> = new Set(['none', 'floor-node', 'floor-go']);
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

/** The launcher's V8 flags and malloc setting for the sidecar (bin/agentwarden), given to floor-node too. */
const LAUNCHER_NODE_OPTIONS = '--max-semi-space-size=2 --max-old-space-size=96';

async function startFloor(name: string, command: string, args: readonly string[], socket: string, log: string, env: Readonly<Record<string, string>> = {}): Promise<RunningAuthz> {
  const p = await spawnLogged(name, command, args, log, env);
  try {
    await waitReady(p, `accepting on ${socket}`, () => accepts(socket), READY_TIMEOUT_MS);
  } catch (e: unknown) {
    await p.stop();
    throw e;
  }
  return { address: { pipe: socket }, pid: p.pid, stop: () => p.stop() };
}

export function startFloorNode(paths: Paths, socket: string, log: string): Promise<RunningAuthz> {
  return startFloor('floor-node', join(paths.root, 'node_modules', '.bin', 'node'), [join(paths.root, 'dist', 'bench', 'memory', 'bare-responder.js'), `unix:${socket}`, '0'],
    socket, log, { NODE_OPTIONS: LAUNCHER_NODE_OPTIONS, MALLOC_ARENA_MAX: '2' });
}

export function startFloorGo(binary: string, socket: string, log: string): Promise<RunningAuthz> {
  return startFloor('floor-go', binary, ['-listen', `unix:${socket}`, '-response', Buffer.from(FIXED_ANSWER).toString('hex')], socket, log);
}
