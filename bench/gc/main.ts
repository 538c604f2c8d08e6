// make bench-gc: how V8 collecting garbage holds up the sidecar's answers,
// with the launcher's setting (AGENTWARDEN_SIDECAR_GC=serial-scavenge: V8's
// --no-parallel-scavenge) against V8's default (parallel: helper threads for
// scavenges, concurrent marking and sweeping) and, with --variants, all of
// V8's GC on the main thread (single-threaded: --single-threaded-gc), under
// the same load, alternated. With --jit, each GC setting also with each of
// the launcher's JIT settings (AGENTWARDEN_SIDECAR_JIT: early-turbofan as
// shipped, v8-default for V8's Maglev and Turbofan thresholds).
//
//   node dist/bench/gc/main.js                  # 3 rounds of 20 s at 3,000 req/s per variant (~3 min)
//   node dist/bench/gc/main.js --rounds 5 --seconds 30 --rps 1000 --variants serial-scavenge,parallel,single-threaded
//   node dist/bench/gc/main.js --rps 1000 --variants serial-scavenge --jit early-turbofan,v8-default
//
// Each run: the sidecar as make bench starts it (bin/agentwarden, bench/peers/agentwarden,
// span export over OTLP http/protobuf to a local receiver), 3 s of warm-up, then
// bench/peers/loadgen open loop on one connection with the whole bench mix. From
// V8's --trace-gc in the sidecar's log (bench/soak/trace-gc.ts, gc-log.ts): each
// scavenge's pause, full collections; from loadgen: check p99 (from send); from
// /proc: CPU per request and peak RSS. Figures are medians over rounds; on a busy machine
// (load average in the header) the difference between the variants is what
// the helper threads cost when they do not get a CPU.
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadCerbosApi } from '../compare/cerbos.js';
import { benchPaths, startEngine, type Paths } from '../compare/engines.js';
import { writeDataFiles } from '../compare/load.js';
import { runLoadgen } from '../compare/loadgen.js';
import { startOtlpSink } from '../compare/otlp-sink.js';
import { listOf } from '../compare/args.js';
import { cpuSeconds, machineCpuTicks, sampleRss, stealPercent } from '../compare/proc.js';
import { median, percentile } from '../compare/stats.js';
import { tallyGc, withTraceGc } from '../soak/gc-log.js';
import { tailOf } from '../soak/log-file.js';

const GCS = ['serial-scavenge', 'parallel', 'single-threaded'] as const;
type Gc = (typeof GCS)[number];
const JITS = ['early-turbofan', 'v8-default'] as const;
type Jit = (typeof JITS)[number];

/** One setting of the launcher: AGENTWARDEN_SIDECAR_GC and AGENTWARDEN_SIDECAR_JIT. */
interface Variant {
  readonly gc: Gc;
  readonly jit: Jit;
  /** The GC alone when every variant has the same JIT, else `gc+jit`. */
  readonly label: string;
}

const WARMUP_SECONDS = 3;

interface Run {
  readonly variant: Variant;
  /** MiB, sampled every 100 ms over the measured run. */
  readonly peakRssMiB: number;
  readonly scavenges: number;
  readonly pauseP50Ms: number;
  readonly pauseP99Ms: number;
  readonly pauseMaxMs: number;
  readonly gcMsPerSecond: number;
  readonly fullGcs: number;
  readonly checkP99Ms: number;
  readonly cpuUsPerRequest: number;
  readonly errors: number;
  /** % of the machine's CPU time given to other guests during the run (/proc/stat steal). */
  readonly stealPct: number;
}

async function runOnce(paths: Paths, variant: Variant, rps: number, seconds: number, otlpEndpoint: string): Promise<Run> {
  const logSuffix = `.gc-${variant.gc}-${variant.jit}`;
  const sidecar = await startEngine('agentwarden', {
    paths, otlpEndpoint, cerbosApi: await loadCerbosApi(), logSuffix,
    extraEnv: { AGENTWARDEN_SIDECAR_GC: variant.gc, AGENTWARDEN_SIDECAR_JIT: variant.jit, NODE_OPTIONS: withTraceGc(process.env['NODE_OPTIONS']) },
  });
  const log = tailOf(join(paths.work, 'logs', `agentwarden${logSuffix}.log`));
  try {
    const dir = join(paths.work, 'gc');
    mkdirSync(dir, { recursive: true });
    const data = writeDataFiles(sidecar, dir);
    const load = (s: number) => runLoadgen({ loadgen: paths.loadgen, address: sidecar.grpcAddress, method: sidecar.codec.path, framesFile: data.mixFrames, rps, seconds: s, outFile: join(dir, 'loadgen.json') });
    await load(WARMUP_SECONDS);
    log.tail.next();
    const cpu0 = cpuSeconds(sidecar.pid);
    const machine0 = machineCpuTicks();
    const rss = sampleRss(sidecar.pid);
    const r = await load(seconds);
    const peakRssMiB = rss.stop();
    const cpu = cpuSeconds(sidecar.pid) - cpu0;
    const machine = machineCpuTicks();
    const gc = tallyGc(log.tail.next());
    const pauses = gc.scavengePausesMs;
    return {
      variant, peakRssMiB, scavenges: gc.scavenges, pauseP50Ms: percentile(pauses, 0.5), pauseP99Ms: percentile(pauses, 0.99), pauseMaxMs: Math.max(0, ...pauses),
      gcMsPerSecond: pauses.reduce((a, b) => a + b, 0) / seconds, fullGcs: gc.fullCollections,
      checkP99Ms: percentile(r.serviceMs, 0.99), cpuUsPerRequest: cpu * 1e6 / Math.max(1, r.sent), errors: r.errors,
      stealPct: stealPercent(machine0, machine),
    };
  } finally {
    log.close();
    await sidecar.stop();
  }
}

const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '20' }, rps: { type: 'string', default: '3000' }, variants: { type: 'string', default: 'serial-scavenge,parallel' }, jit: { type: 'string', default: 'early-turbofan' } }, strict: true });
  const gcs = listOf('bench-gc', '--variants', values.variants, GCS);
  const jits = listOf('bench-gc', '--jit', values.jit, JITS);
  const chosen: Variant[] = gcs.flatMap((gc) => jits.map((jit) => ({ gc, jit, label: jits.length === 1 ? gc : `${gc}+${jit}` })));
  const [rounds, seconds, rps] = [Number(values.rounds), Number(values.seconds), Number(values.rps)];
  for (const [name, n] of [['--rounds', rounds], ['--seconds', seconds], ['--rps', rps]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`bench-gc: ${name} must be a positive integer, got ${String(n)}`);
  }
  const paths = benchPaths(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'));
  mkdirSync(join(paths.work, 'logs'), { recursive: true });
  const sink = await startOtlpSink();
  process.stdout.write(`make bench-gc: the sidecar with AGENTWARDEN_SIDECAR_GC=${gcs.join(', =')} (serial-scavenge as shipped, parallel V8's default) and AGENTWARDEN_SIDECAR_JIT=${jits.join(', =')} (early-turbofan as shipped), ${rounds} round(s) alternated, ${seconds} s at ${rps} req/s of the bench mix after ${WARMUP_SECONDS} s warm-up; load average ${f2(loadavg()[0] ?? Number.NaN)} at start\n\n`);
  const width = Math.max(17, ...chosen.map((v) => v.label.length + 2));
  process.stdout.write(`${'round'.padEnd(6)}${'variant'.padEnd(width)}${'scavenges'.padStart(10)}${'pause p50'.padStart(10)}${'p99'.padStart(8)}${'max ms'.padStart(9)}${'GC ms/s'.padStart(9)}${'full GCs'.padStart(9)}${'check p99 ms'.padStart(13)}${'CPU µs/req'.padStart(11)}${'peak RSS MiB'.padStart(13)}${'steal %'.padStart(8)}\n`);
  const runs: Run[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? chosen : [...chosen].reverse();
      for (const variant of order) {
        const r = await runOnce(paths, variant, rps, seconds, sink.endpoint);
        runs.push(r);
        if (r.errors > 0) process.stderr.write(`bench-gc: round ${round} ${variant.label}: ${r.errors} errors\n`);
        process.stdout.write(`${String(round).padEnd(6)}${variant.label.padEnd(width)}${String(r.scavenges).padStart(10)}${f2(r.pauseP50Ms).padStart(10)}${f2(r.pauseP99Ms).padStart(8)}${f2(r.pauseMaxMs).padStart(9)}${f2(r.gcMsPerSecond).padStart(9)}${String(r.fullGcs).padStart(9)}${f2(r.checkP99Ms).padStart(13)}${f2(r.cpuUsPerRequest).padStart(11)}${r.peakRssMiB.toFixed(1).padStart(13)}${r.stealPct.toFixed(1).padStart(8)}\n`);
      }
    }
  } finally {
    await sink.close();
  }
  process.stdout.write('\n');
  for (const variant of chosen) {
    const of = runs.filter((r) => r.variant === variant);
    const m = (pick: (r: Run) => number): string => f2(median(of.map(pick)));
    process.stdout.write(`bench: gc variant=${variant.gc} jit=${variant.jit} scavenge_pause_p50_ms=${m((r) => r.pauseP50Ms)} scavenge_pause_p99_ms=${m((r) => r.pauseP99Ms)} scavenge_pause_max_ms=${m((r) => r.pauseMaxMs)} gc_ms_per_s=${m((r) => r.gcMsPerSecond)} full_gcs=${m((r) => r.fullGcs)} check_p99_ms=${m((r) => r.checkP99Ms)} cpu_us_per_request=${m((r) => r.cpuUsPerRequest)} peak_rss_mib=${m((r) => r.peakRssMiB)} rounds=${of.length}\n`);
  }
  return runs.some((r) => r.errors > 0) ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
