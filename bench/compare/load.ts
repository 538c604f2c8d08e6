// The two load phases, engines alternated (A B C, then B C A, ...) so that the
// drift of a shared, noisy machine falls on every engine alike and cancels out
// of the per-round ratios.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { grpcFrame } from './grpc-raw.js';
import { runH2loadWithCpu } from './h2load.js';
import { runGhz } from './ghz.js';
import { runLoadgen, type OpenLoopResult } from './loadgen.js';
import { protoset } from './protoset.js';
import { sampleRss } from './proc.js';
import { rotate } from './stats.js';
import { CLASSES, MIX, THROUGHPUT_REQUESTS, mixEntry, type RequestClass } from './mix.js';
import type { EngineName, RunningEngine } from './engines.js';

export interface DataFiles {
  /** Framed gRPC request per class, for h2load -d. */
  readonly framed: Readonly<Record<RequestClass, string>>;
  /** The whole mix as consecutive gRPC frames, for loadgen -data. */
  readonly mixFrames: string;
  /** The whole mix as a JSON array, for ghz --data-file. */
  readonly mixJson: string;
  readonly protoset: string;
}

/** Writes each engine's h2load bodies, ghz data and protoset under `dir`. */
export function writeDataFiles(engine: Pick<RunningEngine, 'name' | 'codec'>, dir: string): DataFiles {
  const c = engine.codec;
  const framed = {} as Record<RequestClass, string>;
  for (const cls of CLASSES) {
    const file = join(dir, `${engine.name}-${cls}.bin`);
    writeFileSync(file, grpcFrame(c.encode(mixEntry(THROUGHPUT_REQUESTS[cls]))));
    framed[cls] = file;
  }
  const mixFrames = join(dir, `${engine.name}-mix.frames`);
  writeFileSync(mixFrames, Buffer.concat(MIX.map((e) => grpcFrame(c.encode(e)))));
  const mixJson = join(dir, `${engine.name}-mix.json`);
  writeFileSync(mixJson, JSON.stringify(MIX.map((e) => c.json(e))));
  const set = join(dir, `${engine.name}.protoset`);
  writeFileSync(set, protoset([c.protoFile]));
  return { framed, mixFrames, mixJson, protoset: set };
}

export interface ThroughputRun {
  readonly round: number;
  readonly cls: RequestClass;
  readonly engine: EngineName;
  readonly rps: number;
  readonly done: number;
  readonly failed: number;
  /** The engine's CPU over the requests counted in `done` (h2load's measured window). */
  readonly cpuSeconds: number;
  /** The same with the warm-up's load (whose requests `done` leaves out). */
  readonly cpuSecondsWithWarmup: number;
  readonly rssMaxMiB: number;
  readonly command: string;
}

export interface ThroughputPlan {
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly clients: number;
  readonly streams: number;
}

export async function throughputPhase(engines: readonly RunningEngine[], data: ReadonlyMap<EngineName, DataFiles>, plan: ThroughputPlan, progress: (line: string) => void): Promise<ThroughputRun[]> {
  const runs: ThroughputRun[] = [];
  for (let round = 0; round < plan.rounds; round++) {
    for (const cls of CLASSES) {
      for (const e of rotate(engines, round)) {
        const rss = sampleRss(e.pid);
        const r = await runH2loadWithCpu({
          url: `http://${e.grpcAddress}${e.codec.path}`, dataFile: data.get(e.name)!.framed[cls],
          clients: plan.clients, streams: plan.streams, seconds: plan.seconds, warmupSeconds: plan.warmupSeconds,
        }, e.pid).finally(() => rss.stop());
        const run: ThroughputRun = {
          round, cls, engine: e.name, rps: r.rps, done: r.done, failed: r.failed + r.errored, cpuSeconds: r.cpuSeconds, cpuSecondsWithWarmup: r.cpuSecondsWithWarmup,
          rssMaxMiB: rss.stop(), command: r.command,
        };
        runs.push(run);
        progress(`throughput round ${round + 1}/${plan.rounds} ${cls.padEnd(7)} ${e.name.padEnd(11)} ${r.rps.toFixed(0).padStart(7)} req/s${run.failed > 0 ? `  (${run.failed} failed)` : ''}`);
      }
    }
  }
  return runs;
}

export interface LatencyRun extends OpenLoopResult {
  readonly round: number;
  readonly rate: number;
  readonly engine: EngineName;
  readonly rssMaxMiB: number;
}

export interface LatencyPlan {
  readonly rounds: number;
  /** Rate (req/s) → seconds per run. */
  readonly rates: readonly (readonly [number, number])[];
  /** loadgen (default) or ghz, and the binary. */
  readonly tool: 'loadgen' | 'ghz';
  readonly binary: string;
  readonly outDir: string;
}

export async function latencyPhase(engines: readonly RunningEngine[], data: ReadonlyMap<EngineName, DataFiles>, plan: LatencyPlan, progress: (line: string) => void): Promise<LatencyRun[]> {
  const runs: LatencyRun[] = [];
  for (const [i, [rate, seconds]] of plan.rates.entries()) {
    for (let round = 0; round < plan.rounds; round++) {
      for (const e of rotate(engines, round + i)) {
        const d = data.get(e.name)!;
        const rss = sampleRss(e.pid);
        const outFile = join(plan.outDir, `${plan.tool}-${e.name}-${rate}-${round}.json`);
        const r = await (plan.tool === 'ghz'
          ? runGhz({ ghz: plan.binary, address: e.grpcAddress, protoset: d.protoset, call: e.codec.call, dataFile: d.mixJson, rps: rate, seconds, outFile })
          : runLoadgen({ loadgen: plan.binary, address: e.grpcAddress, method: e.codec.path, framesFile: d.mixFrames, rps: rate, seconds, outFile })
        ).finally(() => rss.stop());
        runs.push({ ...r, round, rate, engine: e.name, rssMaxMiB: rss.stop() });
        progress(`latency ${String(rate).padStart(4)} req/s round ${round + 1}/${plan.rounds} ${e.name.padEnd(11)} ${r.sent} sent at ${r.achievedRps.toFixed(0)} req/s, ${r.errors} errors${r.errors > 0 ? ` (${r.errorSample.join('; ').slice(0, 160)})` : ''}`);
      }
    }
  }
  return runs;
}
