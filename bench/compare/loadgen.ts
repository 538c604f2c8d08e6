// Open-loop latency with bench/peers/loadgen (Go, built into .cache/bin/loadgen):
// request i leaves at start + i/rate whatever the earlier answers do, cycling
// through the whole mix as raw gRPC frames (the bytes --verify checked). It keeps
// every latency, both from when the request was due (includes the load
// generator's own lateness on a busy machine) and from when it left.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface LoadgenOptions {
  readonly loadgen: string;
  readonly address: string;
  readonly method: string;
  readonly framesFile: string;
  readonly rps: number;
  readonly seconds: number;
  readonly outFile: string;
}

export interface OpenLoopResult {
  /** Sent -> answered, ms, answered requests only. */
  readonly serviceMs: Float64Array;
  /** Due -> answered, ms; undefined when the tool does not measure it. */
  readonly dueMs: Float64Array | undefined;
  readonly sent: number;
  readonly errors: number;
  readonly errorSample: readonly string[];
  readonly achievedRps: number;
  readonly command: string;
}

export function loadgenArgs(o: LoadgenOptions): string[] {
  return ['-addr', o.address, '-method', o.method, '-data', o.framesFile, '-rate', String(o.rps),
    '-n', String(Math.round(o.rps * o.seconds)), '-timeout', '5s', '-out', o.outFile];
}

interface LoadgenReport {
  readonly sent: number;
  readonly errors: number;
  readonly errorSample: readonly string[] | null;
  readonly achievedRps: number;
  readonly latencyUs: readonly number[] | null;
  readonly serviceUs: readonly number[] | null;
}

export function runLoadgen(o: LoadgenOptions): Promise<OpenLoopResult> {
  const args = loadgenArgs(o);
  const command = `${o.loadgen} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile(o.loadgen, args, { timeout: (o.seconds + 30) * 1000 }, (err, _stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`${command}: ${err.message}\n${stderr}`));
        return;
      }
      const r = JSON.parse(readFileSync(o.outFile, 'utf8')) as LoadgenReport;
      resolve({
        serviceMs: Float64Array.from(r.serviceUs ?? [], (us) => us / 1000),
        dueMs: Float64Array.from(r.latencyUs ?? [], (us) => us / 1000),
        sent: r.sent, errors: r.errors, errorSample: r.errorSample ?? [], achievedRps: r.achievedRps, command,
      });
    });
  });
}
