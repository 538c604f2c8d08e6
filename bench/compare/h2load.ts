// Closed-loop throughput with h2load: a fixed number of connections and streams
// each send the next request as soon as the previous answer arrives. The body is
// a framed gRPC message file; gRPC answers HTTP 200 even for gRPC errors, so the
// driver checks each data file once with a real call before loading with it.
import { execFile } from 'node:child_process';
import { cpuSeconds } from './proc.js';

export interface H2loadOptions {
  readonly url: string;
  readonly dataFile: string;
  readonly clients: number;
  readonly streams: number;
  /** Measurement seconds (h2load -D) after `warmupSeconds` of unmeasured load. */
  readonly seconds: number;
  readonly warmupSeconds: number;
}

export interface H2loadResult {
  readonly rps: number;
  readonly done: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly meanMs: number;
  readonly command: string;
}

export function h2loadArgs(o: H2loadOptions): string[] {
  return [`-c${o.clients}`, `-m${o.streams}`, '-t1', '-D', `${Math.round(o.seconds * 1000)}ms`, `--warm-up-time=${Math.round(o.warmupSeconds * 1000)}ms`,
    '-d', o.dataFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers', o.url];
}

export function runH2load(o: H2loadOptions): Promise<H2loadResult> {
  const args = h2loadArgs(o);
  const command = `h2load ${args.map((a) => (/[\s']/.test(a) ? `'${a}'` : a)).join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile('h2load', args, { timeout: (o.seconds + o.warmupSeconds + 30) * 1000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`${command}: ${err.message}\n${stderr}`));
        return;
      }
      try {
        resolve({ ...parseH2load(stdout), command });
      } catch (e: unknown) {
        reject(new Error(`${command}: ${e instanceof Error ? e.message : String(e)}\n${stdout}`, { cause: e }));
      }
    });
  });
}

export interface MeasuredH2load extends H2loadResult {
  /** The engine's CPU seconds from the end of h2load's warm-up to its exit: the CPU of the requests in `done`. */
  readonly cpuSeconds: number;
  /** The engine's CPU seconds over the whole run, warm-up included (how CPU per request was counted before 2026-12-06). */
  readonly cpuSecondsWithWarmup: number;
}

/**
 * runH2load, with the CPU process `pid` spent on the requests h2load counts.
 * h2load measures after its warm-up (--warm-up-time: "the time period before
 * starting the actual measurements"): the warm-up's requests are not in its
 * figures, so the CPU is read again when the warm-up ends: a timer from
 * h2load's start, which fires a few milliseconds before the warm-up really
 * ends (h2load connects first), so the window holds those milliseconds of
 * warm-up too; /proc counts in 10 ms ticks.
 */
export async function runH2loadWithCpu(o: H2loadOptions, pid: number): Promise<MeasuredH2load> {
  const start = cpuSeconds(pid);
  let measuredFrom = start;
  const timer = setTimeout(() => { measuredFrom = cpuSeconds(pid); }, o.warmupSeconds * 1000);
  try {
    const r = await runH2load(o);
    const end = cpuSeconds(pid);
    return { ...r, cpuSeconds: end - measuredFrom, cpuSecondsWithWarmup: end - start };
  } finally {
    clearTimeout(timer);
  }
}

export function parseH2load(out: string): Omit<H2loadResult, 'command'> {
  const fin = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out);
  if (fin === null || req === null) throw new Error('unexpected h2load output');
  return {
    rps: Number(fin[1]),
    done: Number(req[3]),
    succeeded: Number(req[4]),
    failed: Number(req[5]),
    errored: Number(req[6]),
    meanMs: mean === null ? Number.NaN : durationMs(mean[1] ?? ''),
  };
}

function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (m === null) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : v * 1000;
}
