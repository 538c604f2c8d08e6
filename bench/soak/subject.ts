// What make soak holds under its load: the sidecar, or one of two floors that
// make soak-floor holds under the same rows and bands, to tell the machine's
// own spread from the sidecar's. Both floors answer every Check with the same
// fixed allow (bench/memory/fixed-answer.ts) without decoding it: no policy,
// no decision, no audit spans.
//   sidecar:    bench/peers/agentwarden through bin/agentwarden, as make bench starts it
//               (bench/compare/engines.ts), span export on.
//   floor-node: bench/memory/bare-responder.ts, the sidecar's own HTTP/2 framing on the
//               same Node with exactly the sidecar's flags: a sidecar is started through
//               the launcher first, and its node command line and memory settings are
//               read from /proc. Its event loop and heap on /metrics as the sidecar's.
//   floor-go:   bench/peers/authz-floor (grpc-go): not Node at all, no /metrics.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCerbosApi } from '../compare/cerbos.js';
import { codecFor, startEngine, type Paths, type RunningEngine } from '../compare/engines.js';
import { writeDataFiles, type DataFiles } from '../compare/load.js';
import { freePort } from '../compare/proc.js';
import { accepts, getStatus, spawnLogged, waitReady, type Proc } from '../e2e/procs.js';
import { FIXED_ANSWER } from '../memory/fixed-answer.js';
import { nodeLaunchOf, type NodeLaunch } from './node-launch.js';

export type SubjectName = 'sidecar' | 'floor-node' | 'floor-go';
export const FLOORS: readonly SubjectName[] = ['floor-node', 'floor-go'];

export interface Subject {
  readonly name: SubjectName;
  /** One line for the soak's header. */
  readonly what: string;
  readonly pid: number;
  /** 127.0.0.1:<port> of its gRPC listener. */
  readonly grpcAddress: string;
  readonly method: string;
  /** Its /metrics (runtime figures; span counters on the sidecar); undefined: none (floor-go). */
  readonly metricsUrl: string | undefined;
  /** The log its V8 prints --trace-gc and --trace-deopt to; undefined: not a V8 process. */
  readonly gcLog: string | undefined;
  /** The bench mix as the sidecar reads it: every subject is sent the same bytes. */
  readonly data: DataFiles;
  stop(): Promise<void>;
}

export interface SubjectOptions {
  readonly paths: Paths;
  readonly otlpEndpoint: string;
  /** For the sidecar's environment: NODE_OPTIONS with the soak's --trace-gc preload (trace-gc.ts). */
  readonly nodeOptions: string;
  /** The sidecar with --gc-metrics. */
  readonly gcMetrics: boolean;
  /** Where the mix's data files go. */
  readonly dataDir: string;
}

const READY_TIMEOUT_MS = 60_000;

export async function startSubject(name: SubjectName, o: SubjectOptions): Promise<Subject> {
  const cerbosApi = await loadCerbosApi();
  const codec = codecFor('agentwarden', cerbosApi);
  const data = writeDataFiles({ name: 'agentwarden', codec }, o.dataDir);
  const sidecar = (): ReturnType<typeof startEngine> => startEngine('agentwarden', {
    paths: o.paths, otlpEndpoint: o.otlpEndpoint, cerbosApi, logSuffix: '.soak',
    // The launcher puts its own flags first and keeps these.
    extraEnv: { NODE_OPTIONS: o.nodeOptions },
    extraArgs: o.gcMetrics ? ['--gc-metrics'] : [],
  });
  if (name === 'sidecar') {
    const s = await sidecar();
    return {
      name, what: 'the sidecar (bench/peers/agentwarden, bin/agentwarden), audit spans exported over OTLP http/protobuf to a local receiver',
      pid: s.pid, grpcAddress: s.grpcAddress, method: codec.path, metricsUrl: `${s.httpBase}/metrics`,
      gcLog: join(o.paths.work, 'logs', 'agentwarden.soak.log'), data, stop: () => s.stop(),
    };
  }
  const [grpcPort, healthPort] = [await freePort(), await freePort()];
  const log = join(o.paths.work, 'logs', `${name}.soak.log`);
  if (name === 'floor-node') {
    const launch = await sidecarLaunch(sidecar);
    const script = join(o.paths.root, 'dist', 'bench', 'memory', 'bare-responder.js');
    const p = await spawnLogged(name, launch.node, [...launch.flags, script, String(grpcPort), String(healthPort)], log, launch.env);
    await ready(p, '/metrics 200', async () => await getStatus({ port: healthPort }, '/metrics') === 200);
    return {
      name, what: `the Node floor (bench/memory/bare-responder.ts: the sidecar's HTTP/2 framing, one fixed allow), on the sidecar's node flags: ${launch.flags.join(' ')}`,
      pid: p.pid, grpcAddress: `127.0.0.1:${grpcPort}`, method: codec.path, metricsUrl: `http://127.0.0.1:${healthPort}/metrics`,
      gcLog: log, data, stop: () => p.stop(),
    };
  }
  const binary = join(o.paths.root, '.cache', 'bin', 'authz-floor');
  if (!existsSync(binary)) throw new Error(`soak: ${binary} is missing: run bench/peers/build.sh authz-floor (make soak-floor does)`);
  const p = await spawnLogged(name, binary, ['-listen', `127.0.0.1:${grpcPort}`, '-response', Buffer.from(FIXED_ANSWER).toString('hex')], log);
  await ready(p, `accepting on 127.0.0.1:${grpcPort}`, () => accepts(grpcPort));
  return {
    name, what: 'the grpc-go floor (bench/peers/authz-floor, one fixed allow)',
    pid: p.pid, grpcAddress: `127.0.0.1:${grpcPort}`, method: codec.path, metricsUrl: undefined, gcLog: undefined, data, stop: () => p.stop(),
  };
}

/**
 * How bin/agentwarden started the sidecar: node, the flags before the CLI's
 * script, and the memory settings of its environment, from /proc of a sidecar
 * started and stopped for this. The launcher execs node, so the pid is node's.
 */
async function sidecarLaunch(start: () => Promise<RunningEngine>): Promise<NodeLaunch> {
  const s = await start();
  try {
    return nodeLaunchOf(readFileSync(`/proc/${s.pid}/cmdline`, 'utf8'), readFileSync(`/proc/${s.pid}/environ`, 'utf8'));
  } finally {
    await s.stop();
  }
}

async function ready(p: Proc, what: string, check: () => Promise<boolean>): Promise<void> {
  try {
    await waitReady(p, what, check, READY_TIMEOUT_MS);
  } catch (e: unknown) {
    await p.stop();
    throw e;
  }
}
