// make bench: agentwarden side by side with OPA-Envoy and the Cerbos PDP, on the
// same 50-rule policy (bench/peers/) and the same request mix (mix.ts).
//
//   node dist/bench/compare/main.js            # full run (~5 minutes)
//   node dist/bench/compare/main.js --verify   # decisions table only
//   node dist/bench/compare/main.js --quick    # one round of each, shorter runs
//   node dist/bench/compare/main.js --ghz      # open-loop latency with ghz instead of loadgen
//
// Phases: start each engine three times, alternating (spawn -> ready); verify the
// mix on all three; warm up; closed-loop throughput with h2load; open-loop
// latency at fixed rates with ghz; then the table and `bench: ...` lines.
// Needs bench/peers/build.sh (OPA-Envoy and ghz in .cache/bin) and the npm
// devDependencies @cerbos/cerbos-linux-x64 and @cerbos/api.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadCerbosApi } from './cerbos.js';
import { benchPaths, ENGINES, startEngine, type EngineName, type Paths, type RunningEngine, type StartOptions } from './engines.js';
import { latencyPhase, throughputPhase, writeDataFiles, type DataFiles, type LatencyPlan, type ThroughputPlan } from './load.js';
import { startOtlpSink } from './otlp-sink.js';
import { httpText, rssMiB } from './proc.js';
import { figures, renderReport, type EngineFacts } from './report.js';
import { rotate } from './stats.js';
import { verifyMix, verifyTable } from './verify.js';
import { MIX, THROUGHPUT_REQUESTS } from './mix.js';

const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function versions(paths: Paths): Record<EngineName, string> {
  const first = (cmd: string, args: string[], re: RegExp): string => {
    try {
      return re.exec(execFileSync(cmd, args, { encoding: 'utf8' }))?.[1] ?? '?';
    } catch {
      return '?';
    }
  };
  const pkg = JSON.parse(readFileSync(join(paths.root, 'package.json'), 'utf8')) as { version: string };
  const sha = first('git', ['-C', paths.root, 'describe', '--always', '--dirty', '--abbrev=7'], /^(\S+)/);
  return {
    'agentwarden': `${pkg.version}+${sha}`,
    'opa-envoy': first(paths.opaEnvoy, ['version'], /^Version:\s*(\S+)/m),
    'cerbos': first(paths.cerbos, ['--version'], /^(\S+)/),
  };
}

/** Starts every engine `rounds` times in alternating order, keeping the last start running. */
async function startAll(opts: Omit<StartOptions, 'logSuffix'>, rounds: number): Promise<{ running: RunningEngine[]; readyMs: Record<EngineName, number[]> }> {
  const readyMs: Record<EngineName, number[]> = { 'agentwarden': [], 'opa-envoy': [], 'cerbos': [] };
  const running: RunningEngine[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const name of rotate(ENGINES, r)) {
      const last = r === rounds - 1;
      const e = await startEngine(name, { ...opts, logSuffix: last ? '' : `.start${r + 1}` });
      readyMs[name].push(e.readyMs);
      log(`start ${r + 1}/${rounds} ${name.padEnd(11)} ready in ${e.readyMs.toFixed(0)} ms`);
      if (last) running.push(e);
      else await e.stop();
    }
  }
  running.sort((a, b) => ENGINES.indexOf(a.name) - ENGINES.indexOf(b.name));
  return { running, readyMs };
}

async function sidecarSpans(aw: RunningEngine | undefined): Promise<{ exported: number; dropped: number }> {
  if (aw === undefined) return { exported: 0, dropped: 0 };
  const text = await httpText(`${aw.httpBase}/metrics`);
  const num = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { exported: num('agentwarden_spans_exported_total'), dropped: num('agentwarden_spans_dropped_total') };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { verify: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false }, ghz: { type: 'boolean', default: false } }, strict: true });
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const paths = benchPaths(root);
  const dataDir = join(paths.work, 'data');
  mkdirSync(join(paths.work, 'logs'), { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  const quick = values.quick;
  const tputPlan: ThroughputPlan = { rounds: quick ? 1 : 6, seconds: 1.5, warmupSeconds: 0.5, clients: 4, streams: 16 };
  const latPlan: LatencyPlan = {
    rounds: quick ? 1 : 2,
    rates: quick ? [[100, 4], [1000, 3], [3000, 3]] : [[100, 8], [1000, 6], [3000, 5]],
    tool: values.ghz ? 'ghz' : 'loadgen', binary: values.ghz ? paths.ghz : paths.loadgen, outDir: dataDir,
  };
  if (!values.verify && !existsSync(latPlan.binary)) throw new Error(`bench: ${latPlan.binary} is missing: run bench/peers/build.sh${values.ghz ? ' ghz' : ''}`);

  const loadAtStart = loadavg()[0] ?? Number.NaN;
  const v = versions(paths);
  const sink = await startOtlpSink();
  const cerbosApi = await loadCerbosApi();
  const started = await startAll({ paths, otlpEndpoint: sink.endpoint, cerbosApi }, values.verify ? 1 : 3);
  const engines = started.running;
  const stopAll = async (): Promise<void> => {
    await Promise.all(engines.map((e) => e.stop()));
    await sink.close();
  };
  try {
    const rows = await verifyMix(engines);
    process.stdout.write(`decisions on the request mix (${MIX.length} requests, the same for every engine):\n${verifyTable(engines, rows)}\n\n`);
    const bad = rows.filter((r) => !r.agree);
    if (bad.length > 0) {
      process.stderr.write(`bench: the engines disagree on ${bad.map((r) => r.entry.id).join(', ')}: fix the policies under bench/peers/ before comparing speed\n`);
      return 1;
    }
    if (values.verify) {
      process.stdout.write(`bench: verify ok: ${ENGINES.length} engines agree on all ${MIX.length} requests\n`);
      return 0;
    }

    await sleep(1000);
    const rssIdle = new Map(engines.map((e) => [e.name, rssMiB(e.pid)]));
    const data = new Map<EngineName, DataFiles>(engines.map((e) => [e.name, writeDataFiles(e, dataDir)]));
    log('warm-up: 1 s of h2load per engine and request class (not counted)');
    await throughputPhase(engines, data, { ...tputPlan, rounds: 1, seconds: 1, warmupSeconds: 0 }, () => {});
    const tput = await throughputPhase(engines, data, tputPlan, log);
    const lat = await latencyPhase(engines, data, latPlan, log);
    await sleep(1500); // one span export interval, so the counters include the last batch
    const spans = await sidecarSpans(engines.find((e) => e.name === 'agentwarden'));

    const facts: EngineFacts[] = engines.map((e) => ({ name: e.name, version: v[e.name], readyMs: started.readyMs[e.name], rssIdleMiB: rssIdle.get(e.name) ?? Number.NaN }));
    const cpuModel = cpus()[0]?.model ?? '?';
    const header = [
      `agentwarden vs OPA-Envoy vs Cerbos PDP: one 50-rule policy (bench/peers/), ${MIX.length}-request mix (bench/compare/mix.ts)`,
      `machine: ${cpus().length} cores (${cpuModel}), shared with other work (1-min load average ${loadAtStart.toFixed(1)} at start, ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at end); engines and load generators on the same cores`,
      `throughput: h2load -c${tputPlan.clients} -m${tputPlan.streams} -t1, ${tputPlan.seconds} s per run (+${tputPlan.warmupSeconds} s warm-up), ${tputPlan.rounds} rounds x 3 classes, engines alternated; one request per class: ${Object.entries(THROUGHPUT_REQUESTS).map(([c, id]) => `${c}=${id}`).join(', ')}`,
      `latency: open loop with ${latPlan.tool === 'ghz' ? 'ghz (--async --rps -n, 1 connection)' : 'bench/peers/loadgen (fixed schedule, 1 connection, raw frames)'} cycling through the whole mix, ${latPlan.rates.map(([r, s]) => `${r} req/s x ${s} s`).join(', ')}, ${latPlan.rounds} rounds, engines alternated; measured from send${latPlan.tool === 'ghz' ? '' : ' (and from due time)'}`,
      'agentwarden: full decisions, audit spans exported over OTLP http/protobuf to a local sink; OPA-Envoy: decision logs off; Cerbos: audit off',
    ];
    process.stdout.write(`${renderReport({ figures: figures(facts, tput, lat), tput, header, spans: { ...spans, sinkRequests: sink.stats.requests, sinkBytes: sink.stats.bytes } })}\n`);
    return 0;
  } finally {
    await stopAll();
  }
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
