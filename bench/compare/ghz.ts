// Open-loop latency with ghz (main.js --ghz; the default is loadgen.ts, see
// bench/peers/README.md for why): requests leave at a fixed rate whatever the
// answers do (--async: one goroutine per request), cycling through the whole
// request mix (a JSON array: ghz takes element i mod n for request i), bounded
// by -n. Percentiles come from every request's latency in ghz's JSON report,
// measured from when ghz sent it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { OpenLoopResult } from './loadgen.js';

export interface GhzOptions {
  readonly ghz: string;
  readonly address: string;
  readonly protoset: string;
  readonly call: string;
  readonly dataFile: string;
  readonly rps: number;
  readonly seconds: number;
  readonly outFile: string;
}

export function ghzArgs(o: GhzOptions): string[] {
  return ['--insecure', '--protoset', o.protoset, '--call', o.call, '--data-file', o.dataFile,
    '--async', '--rps', String(o.rps), '-c', '8', '--connections', '1', '-n', String(Math.round(o.rps * o.seconds)), '--timeout', '5s',
    '-O', 'json', '-o', o.outFile, o.address];
}

interface GhzReport {
  readonly count: number;
  readonly rps: number;
  readonly details?: readonly { readonly latency: number; readonly error: string; readonly status: string }[];
}

export function runGhz(o: GhzOptions): Promise<OpenLoopResult> {
  const args = ghzArgs(o);
  const command = `${o.ghz} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile(o.ghz, args, { timeout: (o.seconds + 30) * 1000, maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      // ghz exits 1 when any request failed; the report says how many.
      let report: GhzReport;
      try {
        report = JSON.parse(readFileSync(o.outFile, 'utf8')) as GhzReport;
      } catch (e: unknown) {
        reject(new Error(`${command}: no report (${err?.message ?? ''})\n${stderr}`, { cause: e }));
        return;
      }
      const details = report.details ?? [];
      const ok = details.filter((d) => d.status === 'OK');
      resolve({
        serviceMs: Float64Array.from(ok, (d) => d.latency / 1e6),
        dueMs: undefined,
        sent: details.length,
        errors: details.length - ok.length,
        errorSample: [...new Set(details.filter((d) => d.status !== 'OK').map((d) => d.error))].slice(0, 5),
        achievedRps: report.rps,
        command,
      });
    });
  });
}
