// One load run through a front Envoy with bench/peers/loadgen's HTTP mode: open
// loop at a fixed rate on keep-alive connections (latency from each request's due
// time, after a warm-up on the same connections), or closed loop on one connection.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { track, untrack } from './procs.js';

export interface HttpLoad {
  readonly loadgen: string;
  readonly proxyPort: number;
  /** JSON file of requests (requests.ts HttpRequestSpec[]). */
  readonly requestsFile: string;
  /** Open loop: requests per second; closed loop: undefined. */
  readonly rate: number | undefined;
  readonly n: number;
  /** Open loop: requests sent first at the same rate, not counted. */
  readonly warmup: number;
  readonly outFile: string;
}

export interface HttpLoadResult {
  /** Open loop: from due time; closed loop: from send. ms. */
  readonly p50: number;
  readonly p99: number;
  /** From send (the generator's own lateness left out), ms. */
  readonly serviceP50: number;
  readonly serviceP99: number;
  readonly mean: number;
  readonly ok: number;
  readonly errors: number;
  readonly errorSample: readonly string[];
  readonly achievedRps: number;
  readonly lateSends: number;
  readonly command: string;
}

interface LoadgenReport {
  readonly ok: number;
  readonly errors: number;
  readonly errorSample: readonly string[] | null;
  readonly achievedRps: number;
  readonly lateSends: number;
  readonly summary: { readonly P50: number; readonly P99: number; readonly Mean: number; readonly ServiceP50: number; readonly ServiceP99: number };
}

/** Slack over the run's own length before loadgen is killed. */
const EXTRA_SECONDS = 60;
const REQUEST_TIMEOUT = '5s';

export function httpLoadArgs(o: HttpLoad): string[] {
  return ['-http-proxy', `http://127.0.0.1:${o.proxyPort}`, '-requests', o.requestsFile, '-n', String(o.n), '-timeout', REQUEST_TIMEOUT, '-out', o.outFile,
    ...(o.rate === undefined ? ['-closed'] : ['-rate', String(o.rate), '-warmup', String(o.warmup)])];
}

export function runHttpLoad(o: HttpLoad): Promise<HttpLoadResult> {
  const args = httpLoadArgs(o);
  const command = `${o.loadgen} ${args.join(' ')}`;
  const seconds = o.rate === undefined ? o.n / 100 : (o.n + o.warmup) / o.rate;
  return new Promise((resolve, reject) => {
    const child = execFile(o.loadgen, args, { timeout: (seconds + EXTRA_SECONDS) * 1000 }, (err, _stdout, stderr) => {
      untrack(stopper);
      if (err !== null) {
        reject(new Error(`bench: e2e: ${command}: ${err.message}\n${stderr}`, { cause: err }));
        return;
      }
      const r = JSON.parse(readFileSync(o.outFile, 'utf8')) as LoadgenReport;
      resolve({
        p50: r.summary.P50, p99: r.summary.P99, serviceP50: r.summary.ServiceP50, serviceP99: r.summary.ServiceP99, mean: r.summary.Mean, ok: r.ok, errors: r.errors, errorSample: r.errorSample ?? [],
        achievedRps: r.achievedRps, lateSends: r.lateSends, command,
      });
    });
    const stopper = track({ stop: () => { child.kill('SIGKILL'); return Promise.resolve(); } });
  });
}
