// make bench-instructions: machine instructions per Check in the sidecar's
// handler, counted by valgrind (cachegrind, no cache simulation). On a shared
// machine CPU time moves with the other guests (host steal swings make bench's
// CPU per request by half); an instruction count does not, so a change to the
// hot path can be measured by itself, before and after, in minutes.
//
// What is counted: bench/instructions/handler-loop.ts (decode, decide, the
// CheckResponse bytes, the audit span into its batch and its OTLP export to a
// local sink), under node with the sidecar launcher's V8 flags plus
// --single-threaded (V8's helper threads off, so that what they do is counted
// in the same order every run). Two runs of N1 and N2 checks; their difference
// over N2 - N1 is the instructions per check without start-up. Then the same
// with span export off. Not counted: the HTTP/2 framing and the socket (make
// bench-memory's bare responder row measures those in CPU time).
//   node dist/bench/instructions/main.js [--checks N1,N2]
// Needs valgrind (make bench-instructions installs Debian's). About 8 minutes.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startOtlpSink } from '../compare/otlp-sink.js';

const root = join(import.meta.dirname, '..', '..', '..');
const NODE = join(root, 'node_modules', '.bin', 'node');
const LOOP = join(root, 'dist', 'bench', 'instructions', 'handler-loop.js');
/** bin/agentwarden's V8 flags for the sidecar (AGENTWARDEN_SIDECAR_JIT=early-turbofan, GC=serial-scavenge), threads off. */
const V8_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=96', '--no-maglev', '--invocation-count-for-turbofan=300', '--no-allocation-site-pretenuring', '--no-memory-reducer-favors-memory', '--single-threaded'];

/** Instructions valgrind counted for a run of `checks` checks. */
function countInstructions(checks: number, env: NodeJS.ProcessEnv): Promise<number> {
  const args = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null', NODE, ...V8_FLAGS, LOOP];
  return new Promise((resolve, reject) => {
    execFile('valgrind', args, { env: { ...env, AGENTWARDEN_BENCH_CHECKS: String(checks) }, maxBuffer: 1 << 22, timeout: 30 * 60_000 }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`valgrind ${args.join(' ')}: ${err.message}\n${stderr.slice(-2000)}`));
        return;
      }
      const refs = /I\s+refs:\s+([\d,]+)/.exec(stderr);
      if (refs?.[1] === undefined || !stdout.includes(`${checks} checks`)) {
        reject(new Error(`valgrind: no instruction count for ${checks} checks\n${stdout}\n${stderr.slice(-2000)}`));
        return;
      }
      resolve(Number(refs[1].replaceAll(',', '')));
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { checks: { type: 'string', default: '12800,38400' } }, strict: true });
  const [n1, n2] = (values.checks ?? '').split(',').map(Number);
  if (n1 === undefined || n2 === undefined || !Number.isInteger(n1) || !Number.isInteger(n2) || n1 <= 0 || n2 <= n1) {
    throw new Error(`bench-instructions: --checks wants N1,N2 with 0 < N1 < N2, got ${JSON.stringify(values.checks)}`);
  }
  const sink = await startOtlpSink();
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  delete env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  try {
    const variants = [
      { key: 'export_on', label: 'audit spans exported (as shipped)', env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint } },
      { key: 'export_off', label: 'span export off', env },
    ];
    const perCheck: Record<string, number> = {};
    process.stdout.write(`make bench-instructions: instructions per Check in the sidecar's handler, bench mix (21 requests), valgrind cachegrind, (I(${n2}) - I(${n1})) / ${n2 - n1}\n`);
    for (const v of variants) {
      const i1 = await countInstructions(n1, v.env);
      const i2 = await countInstructions(n2, v.env);
      perCheck[v.key] = Math.round((i2 - i1) / (n2 - n1));
      process.stdout.write(`  ${v.label.padEnd(36)} ${(perCheck[v.key] ?? 0).toLocaleString('en-US').padStart(9)} instructions per check\n`);
    }
    process.stdout.write(`bench: instructions check_handler_per_request=${perCheck['export_on']} export_off=${perCheck['export_off']} checks=${n1},${n2}\n`);
    return 0;
  } finally {
    await sink.close();
  }
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
