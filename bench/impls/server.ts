// The Check server pair of make bench-impls: the whole sidecar as a process,
// serving Check on its own HTTP/2 framing (the default, authz/http2-server.ts)
// and with --grpc-impl grpc-js, side by side. Same policy and pod as make bench
// (bench/peers/agentwarden), audit spans exported over OTLP http/protobuf to a
// local sink, the three request classes of the bench mix. Both processes run
// for the whole pair; the load alternates between them round by round.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toBinary } from '@bufbuild/protobuf';
import { CheckRequestSchema } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { CHECK_PATH } from '../../sidecar/src/authz/server.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { grpcFrame, RawGrpcClient } from '../compare/grpc-raw.js';
import { runH2load } from '../compare/h2load.js';
import { CLASSES, THROUGHPUT_REQUESTS, mixEntry, type RequestClass } from '../compare/mix.js';
import { startOtlpSink } from '../compare/otlp-sink.js';
import { cpuSeconds, freePort, waitFor200 } from '../compare/proc.js';

export type ServerImpl = 'http2' | 'grpc-js';
export const SERVER_IMPLS: readonly ServerImpl[] = ['http2', 'grpc-js'];

export interface ServerPlan {
  readonly rounds: number;
  /** h2load -D per class and round. */
  readonly seconds: number;
  /** Unmeasured load per process before the first round (JIT, connection pools). */
  readonly warmupSeconds: number;
  readonly clients: number;
  readonly streams: number;
}

export interface ServerRun {
  readonly round: number;
  readonly impl: ServerImpl;
  readonly cls: RequestClass;
  readonly rps: number;
  readonly done: number;
  readonly failed: number;
  readonly cpuSeconds: number;
}

export interface Sidecar {
  readonly impl: ServerImpl;
  readonly pid: number;
  /** 127.0.0.1:<port> of Check. */
  readonly address: string;
  stop(): Promise<void>;
}

/** The gRPC-framed CheckRequest h2load sends for each request class (bench/compare/mix.ts THROUGHPUT_REQUESTS). */
export function throughputBodies(): Map<RequestClass, Buffer> {
  return new Map(CLASSES.map((cls) => [cls, grpcFrame(toBinary(CheckRequestSchema, checkRequestFrom(mixEntry(THROUGHPUT_REQUESTS[cls]).request)))]));
}

/** The decision id (a trace id, random per call) blanked, so that two answers to the same request compare byte for byte. */
export function withoutDecisionId(message: Uint8Array): Buffer {
  const text = Buffer.from(message).toString('latin1');
  return Buffer.from(text.replace(/[0-9a-f]{32}/g, '0'.repeat(32)), 'latin1');
}

async function startSidecar(root: string, work: string, impl: ServerImpl, otlpEndpoint: string): Promise<Sidecar> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const peers = join(root, 'bench', 'peers', 'agentwarden');
  const log = openSync(join(work, `sidecar-${impl}.log`), 'w');
  const child: ChildProcess = spawn(join(root, 'bin', 'agentwarden'), [
    'sidecar', '--policy', join(peers, 'policy.yaml'), '--pod', join(peers, 'pod.yaml'),
    // Loopback TCP, as make bench measures; the bench policy carries no credential.
    '--listen', `127.0.0.1:${grpcPort}`, '--admin-listen', `127.0.0.1:${httpPort}`, '--grpc-impl', impl,
  ], {
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_EXPORTER: 'otlp' },
    stdio: ['ignore', log, log],
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => { exited = true; resolve(); }));
  try {
    await waitFor200(`http://127.0.0.1:${httpPort}/readyz`, () => !exited, 60_000);
  } catch (e: unknown) {
    child.kill('SIGKILL');
    throw new Error(`bench-impls: the sidecar with --grpc-impl ${impl} did not become ready (log: ${join(work, `sidecar-${impl}.log`)})`, { cause: e });
  }
  return {
    impl, pid: child.pid ?? 0, address: `127.0.0.1:${grpcPort}`,
    async stop(): Promise<void> {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    },
  };
}

/** Both servers give the same answer to each request the load sends (but for the decision id), or this throws. */
export async function checkSameAnswers(sidecars: readonly Sidecar[], framed: ReadonlyMap<RequestClass, Buffer>): Promise<void> {
  for (const [cls, body] of framed) {
    const answers = await Promise.all(sidecars.map(async (s) => {
      const client = new RawGrpcClient(s.address);
      try {
        const r = await client.call(CHECK_PATH, body);
        return { status: r.grpcStatus, message: withoutDecisionId(r.message) };
      } finally {
        client.close();
      }
    }));
    const [first, ...rest] = answers;
    for (const [i, a] of rest.entries()) {
      if (first === undefined || a.status !== first.status || !a.message.equals(first.message)) {
        throw new Error(`bench-impls: ${sidecars[i + 1]?.impl} answers the ${cls} request differently from ${sidecars[0]?.impl}`);
      }
    }
  }
}

export async function serverPair(root: string, plan: ServerPlan, progress: (line: string) => void): Promise<ServerRun[]> {
  const work = join(root, '.cache', 'bench', 'impls');
  mkdirSync(work, { recursive: true });
  const framed = throughputBodies();
  const files = new Map<RequestClass, string>();
  for (const [cls, body] of framed) {
    const file = join(work, `${cls}.bin`);
    writeFileSync(file, body);
    files.set(cls, file);
  }
  const sink = await startOtlpSink();
  const sidecars: Sidecar[] = [];
  try {
    for (const impl of SERVER_IMPLS) sidecars.push(await startSidecar(root, work, impl, sink.endpoint));
    await checkSameAnswers(sidecars, framed);
    const load = (s: Sidecar, cls: RequestClass, seconds: number): ReturnType<typeof runH2load> => runH2load({
      url: `http://${s.address}${CHECK_PATH}`, dataFile: files.get(cls) ?? '', clients: plan.clients, streams: plan.streams, seconds, warmupSeconds: 0,
    });
    for (const s of sidecars) {
      for (const cls of CLASSES) await load(s, cls, plan.warmupSeconds / CLASSES.length);
    }
    const runs: ServerRun[] = [];
    for (let round = 0; round < plan.rounds; round++) {
      // ABBA: the first of a round alternates, so drift over the run falls on both.
      const order = round % 2 === 0 ? sidecars : [...sidecars].reverse();
      for (const s of order) {
        for (const cls of CLASSES) {
          const cpu0 = cpuSeconds(s.pid);
          const r = await load(s, cls, plan.seconds);
          const run: ServerRun = { round, impl: s.impl, cls, rps: r.rps, done: r.done, failed: r.failed + r.errored, cpuSeconds: cpuSeconds(s.pid) - cpu0 };
          runs.push(run);
          progress(`check server round ${round + 1}/${plan.rounds} ${s.impl.padEnd(7)} ${cls.padEnd(7)} ${r.rps.toFixed(0).padStart(7)} req/s${run.failed > 0 ? ` (${run.failed} failed)` : ''}`);
        }
      }
    }
    return runs;
  } finally {
    for (const s of sidecars) await s.stop();
    await sink.close();
  }
}
