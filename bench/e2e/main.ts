// make bench-e2e: what authorization costs a request end to end, agent -> Envoy ->
// upstream, through a real Envoy (.cache/bin/envoy) running the injector's bootstrap:
// with ext_authz calling the agentwarden sidecar (Unix socket), with ext_authz calling
// OPA-Envoy (loopback gRPC), with ext_authz calling a floor (a fixed allow on the
// sidecar's Unix socket transport: floor-node on the sidecar's HTTP/2 framing, floor-go
// on grpc-go; engines.ts), and without ext_authz, in one run, alternated.
//
//   node dist/bench/e2e/main.js            # 5 rounds: 100 req/s x 10 s, 1,000 req/s x 5 s, closed-loop probe (~9 min)
//   node dist/bench/e2e/main.js --quick    # 1 round, 3 s runs
//   node dist/bench/e2e/main.js --rounds 5 # more rounds: a median that a noisy neighbour moves less
//   node dist/bench/e2e/main.js --variants none,agentwarden,floor-node --rates 1000
//                                          # only these (none is always run: every figure is against it)
//
// Five front Envoys (one per variant, identical but for the authz endpoint or the
// missing filter) share one upstream Envoy that answers every request itself. Each
// round runs every rate on every variant (order rotated per round), open loop with
// bench/peers/loadgen's HTTP mode, then a closed-loop probe on one connection.
// Exits non-zero when a process fails or any request is not answered 200 by the
// upstream (such a run is printed as failed, its figures left out, and the bench goes
// on to the end); the targets are reported (PASS/MISS), not enforced.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_INJECT_OPTIONS } from '../../controller/src/inject/options.js';
import { benchPaths } from '../compare/engines.js';
import { startOtlpSink } from '../compare/otlp-sink.js';
import { busyPercent, cpuSeconds, freePort, machineCpuTicks, stealPercent } from '../compare/proc.js';
import { rotate } from '../compare/stats.js';
import { injectedProxyEnvBootstrap, patchFrontBootstrap } from './bootstrap-patch.js';
import { startEnvoy, upstreamBootstrap } from './envoy.js';
import { startFloorGo, startFloorNode, startOpaEnvoy, startSidecar, VARIANTS, type RunningAuthz, type Variant } from './engines.js';
import { FULL, MAX_ROUNDS, pickRates, pickVariants, QUICK, type Plan } from './plan.js';
import { runHttpLoad, type HttpLoadResult } from './load.js';
import { httpGet, stopAll, stopAllOnSignal } from './procs.js';
import { benchLines, type OpenLoopRun, type ProbeRun } from './report.js';
import { httpRequestOf, LOAD_ENTRIES } from './requests.js';
import { verifyTable, verifyThroughEnvoys } from './verify.js';

const UPSTREAM_CONCURRENCY = 1;

const log = (line: string): void => { process.stderr.write(`bench: e2e: ${line}\n`); };

/**
 * A run with a request not answered 200 by the upstream, with the front Envoy's ext_authz
 * counters: an empty 403 is a deny or, with failure_mode_allow false, an ext_authz error or
 * timeout (the injector's authzTimeoutMs), and only the counters tell which.
 */
async function failed(r: HttpLoadResult, what: string, adminSocket: string): Promise<Error> {
  const stats = (await httpGet({ socketPath: adminSocket }, '/stats?filter=ext_authz')).body.split('\n').filter((l) => /: [1-9]/.test(l));
  return new Error(`bench: e2e: ${what}: ${r.errors} of ${r.ok + r.errors} requests not answered 200 by the upstream, e.g. ${r.errorSample.join(' | ')}\n`
    + `  front Envoy ext_authz counters: ${stats.length === 0 ? 'none non-zero' : stats.join(', ')}\n  ${r.command}`);
}

/** "1.40.0" from `envoy --version`. */
function envoyVersion(binary: string): string {
  return /\/(\d+\.\d+\.\d+)\//.exec(execFileSync(binary, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' }, variants: { type: 'string' }, rates: { type: 'string' } }, strict: true });
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1 && rounds <= MAX_ROUNDS)) throw new Error(`bench: e2e: --rounds ${values.rounds}: must be an integer from 1 to ${MAX_ROUNDS}`);
  const base = values.quick ? QUICK : FULL;
  const plan: Plan = Object.freeze({
    ...base, ...(rounds === undefined ? {} : { rounds }),
    ...(values.rates === undefined ? {} : { rates: pickRates(base.rates, values.rates) }),
  });
  const variants = values.variants === undefined ? VARIANTS : pickVariants(values.variants);
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const paths = { ...benchPaths(root), work: join(root, '.cache', 'bench-e2e') };
  const envoyBinary = join(root, '.cache', 'bin', 'envoy');
  const authzFloor = join(root, '.cache', 'bin', 'authz-floor');
  for (const [file, how] of [[envoyBinary, 'make envoy'], [paths.loadgen, 'bench/peers/build.sh loadgen'], [paths.opaEnvoy, 'bench/peers/build.sh opa-envoy'], [authzFloor, 'bench/peers/build.sh authz-floor']] as const) {
    if (!existsSync(file)) throw new Error(`bench: e2e: ${file} is missing: run ${how} (make bench-e2e does)`);
  }
  const logs = join(paths.work, 'logs');
  const data = join(paths.work, 'data');
  mkdirSync(logs, { recursive: true });
  mkdirSync(data, { recursive: true });
  // Unix socket paths are limited to 107 bytes: keep them short, under the system's temp dir.
  const sockets = mkdtempSync(join(tmpdir(), 'agentwarden-bench-e2e-'));
  const removeSockets = (): void => rmSync(sockets, { recursive: true, force: true });
  stopAllOnSignal(removeSockets);

  const sink = await startOtlpSink();
  try {
    const loadAtStart = loadavg()[0] ?? Number.NaN;
    const ticksAtStart = machineCpuTicks();
    const upstreamPort = await freePort();
    await startEnvoy({
      binary: envoyBinary, name: 'upstream envoy', bootstrap: upstreamBootstrap({ host: '127.0.0.1', port: upstreamPort }, { pipe: join(sockets, 'upstream-admin.sock') }),
      workPrefix: join(logs, 'upstream-envoy'), adminSocket: join(sockets, 'upstream-admin.sock'), concurrency: UPSTREAM_CONCURRENCY, logLevel: DEFAULT_INJECT_OPTIONS.envoyLogLevel,
    });
    const starts: Record<Variant, () => Promise<RunningAuthz | undefined>> = {
      none: () => Promise.resolve(undefined),
      agentwarden: () => startSidecar(paths, join(sockets, 'authz.sock'), sink.endpoint, join(logs, 'agentwarden.log')),
      'opa-envoy': () => startOpaEnvoy(paths, sink.endpoint),
      'floor-node': () => startFloorNode(paths, join(sockets, 'floor-node.sock'), join(logs, 'floor-node.log')),
      'floor-go': () => startFloorGo(authzFloor, join(sockets, 'floor-go.sock'), join(logs, 'floor-go.log')),
    };
    const authz = new Map<Variant, RunningAuthz | undefined>();
    for (const v of variants) authz.set(v, await starts[v]());
    const pod = parse(readFileSync(join(root, 'bench', 'peers', 'agentwarden', 'pod.yaml'), 'utf8')) as V1Pod;
    const injected = injectedProxyEnvBootstrap(pod);
    const proxies = new Map<Variant, number>();
    const admin = (v: Variant): string => join(sockets, `front-${v}-admin.sock`);
    for (const variant of variants) {
      const port = await freePort();
      const bootstrap = patchFrontBootstrap(injected, {
        listener: { host: '127.0.0.1', port }, admin: { pipe: admin(variant) }, authz: authz.get(variant)?.address, upstream: `127.0.0.1:${upstreamPort}`,
      });
      await startEnvoy({
        binary: envoyBinary, name: `front envoy (${variant})`, bootstrap, workPrefix: join(logs, `front-envoy-${variant}`), adminSocket: admin(variant),
        concurrency: DEFAULT_INJECT_OPTIONS.envoyConcurrency, logLevel: DEFAULT_INJECT_OPTIONS.envoyLogLevel,
      });
      proxies.set(variant, port);
    }
    log(`upstream envoy on 127.0.0.1:${upstreamPort}; front envoys ${[...proxies].map(([v, p]) => `${v}=127.0.0.1:${p}`).join(' ')}; logs and bootstraps in ${logs}`);

    const rows = await verifyThroughEnvoys(proxies);
    process.stdout.write(`the request mix through each front Envoy (status; "upstream" = the upstream answered it):\n${verifyTable(variants, rows)}\n\n`);
    const bad = rows.filter((r) => !r.ok);
    if (bad.length > 0) throw new Error(`bench: e2e: unexpected outcome through Envoy for ${bad.map((r) => r.entry.id).join(', ')}`);

    const requestsFile = join(data, 'requests.json');
    writeFileSync(requestsFile, JSON.stringify(LOAD_ENTRIES.map(httpRequestOf)));
    const port = (v: Variant): number => proxies.get(v)!;
    // A run with a request not answered 200 (an ext_authz timeout under a neighbour's burst
    // is the usual one) or a failed warm-up is printed as `bench: e2e failed ...`, its figures
    // left out (that round then has no difference for that engine and rate: the per-round
    // lists show it) and the bench goes on; the exit code is non-zero at the end. The number
    // of runs is fixed by the plan and each is bounded by loadgen's -n and timeout.
    const failures: string[] = [];
    const loadOrFailure = async (what: string, adminSocket: string, load: () => Promise<HttpLoadResult>): Promise<HttpLoadResult | undefined> => {
      let why: string;
      try {
        const r = await load();
        if (r.errors === 0) return r;
        why = (await failed(r, what, adminSocket)).message;
      } catch (e: unknown) {
        why = e instanceof Error ? e.message : String(e);
      }
      failures.push(what);
      process.stderr.write(`${why}\n`);
      const line = why.split('\n').find((l) => /requests (failed|not answered)/.test(l)) ?? why.split('\n')[0] ?? '';
      process.stdout.write(`bench: e2e failed ${what}: ${line.replace(/, e\.g\..*$/, '').replace(/^.*?(\d+ of \d+)/, '$1').trim()}\n`);
      return undefined;
    };
    const runs: OpenLoopRun[] = [];
    const probes: ProbeRun[] = [];
    const warmRate = Math.max(...plan.rates.map(([r]) => r));
    for (const variant of variants) {
      await loadOrFailure(`warm-up ${variant} rate=${warmRate}`, admin(variant), () => runHttpLoad({ loadgen: paths.loadgen, proxyPort: port(variant), requestsFile, rate: warmRate, n: warmRate * plan.firstWarmupSeconds, warmup: 0, outFile: join(data, `${variant}-warm-up.json`) }));
    }
    for (let round = 1; round <= plan.rounds; round++) {
      const order = rotate(variants, round - 1);
      for (const [rate, seconds] of plan.rates) {
        for (const variant of order) {
          const pid = authz.get(variant)?.pid;
          const cpuBefore = pid === undefined ? 0 : cpuSeconds(pid);
          const ticksBefore = machineCpuTicks();
          const n = rate * seconds;
          const warmup = rate * plan.warmupSeconds;
          const r = await loadOrFailure(`round=${round} ${variant} rate=${rate}`, admin(variant), () => runHttpLoad({ loadgen: paths.loadgen, proxyPort: port(variant), requestsFile, rate, n, warmup, outFile: join(data, `${variant}-${rate}-r${round}.json`) }));
          if (r === undefined) continue;
          // The authz process's CPU over warm-up and run, per request: open loop pays a wake-up per request that closed loop shares.
          const authzCpu = pid === undefined ? '' : ` authz_cpu_us_per_req=${(1e6 * (cpuSeconds(pid) - cpuBefore) / (n + warmup)).toFixed(1)}`;
          runs.push({ round, variant, rate, p50: r.p50, p99: r.p99 });
          process.stdout.write(`bench: e2e raw round=${round} ${variant} p50_ms=${r.p50.toFixed(3)} p99_ms=${r.p99.toFixed(3)} rate=${rate} n=${r.ok} achieved_rps=${r.achievedRps.toFixed(0)} late_sends=${r.lateSends} from_send_p50_ms=${r.serviceP50.toFixed(3)} from_send_p99_ms=${r.serviceP99.toFixed(3)}${authzCpu} machine_busy_pct=${busyPercent(ticksBefore, machineCpuTicks()).toFixed(0)}\n`);
        }
      }
      for (const variant of order) {
        const r = await loadOrFailure(`round=${round} ${variant} closed_loop`, admin(variant), () => runHttpLoad({ loadgen: paths.loadgen, proxyPort: port(variant), requestsFile, rate: undefined, n: plan.probeRequests, warmup: 0, outFile: join(data, `${variant}-closed-r${round}.json`) }));
        if (r === undefined) continue;
        probes.push({ round, variant, mean: r.mean });
        process.stdout.write(`bench: e2e raw round=${round} ${variant} closed_loop mean_ms=${r.mean.toFixed(3)} p50_ms=${r.p50.toFixed(3)} p99_ms=${r.p99.toFixed(3)} n=${r.ok}\n`);
      }
    }
    process.stdout.write([
      '',
      `agent -> Envoy ${envoyVersion(envoyBinary)} (injector bootstrap, capture proxy-env, ${DEFAULT_INJECT_OPTIONS.envoyConcurrency} workers) -> upstream Envoy (direct response), HTTP/1.1 over loopback`,
      `open loop (bench/peers/loadgen -http-proxy, latency from due time): ${plan.rates.map(([r, s]) => `${r} req/s x ${s} s`).join(', ')} after ${plan.warmupSeconds} s warm-up (and ${plan.firstWarmupSeconds} s at ${warmRate} req/s per variant before the first round); closed loop: ${plan.probeRequests} requests on one connection; ${plan.rounds} round(s), variants rotated`,
      `load: the ${LOAD_ENTRIES.length} allowed requests of bench/compare/mix.ts in turn; agentwarden with audit spans exported (OTLP, ${sink.stats.requests} exports to the local sink)`,
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), 1-min load average ${loadAtStart.toFixed(1)} at start, ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at end; CPU steal ${stealPercent(ticksAtStart, machineCpuTicks()).toFixed(1)}% (the host's share of this guest's CPU time over the run; p99s on a stolen machine move with it)`,
      ...benchLines(runs, probes),
      ...(failures.length === 0 ? [] : [`bench: e2e FAILED runs=${failures.length} (figures left out): ${failures.join('; ')}`]),
      '',
    ].join('\n'));
    return failures.length === 0 ? 0 : 1;
  } finally {
    await stopAll();
    await sink.close();
    removeSockets();
  }
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
