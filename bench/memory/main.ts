// make bench-memory: where the sidecar's resident memory goes. The same
// closed-loop load (h2load -c4 -m16, the allowed, denied and MCP requests of
// the bench mix) against, one after the other:
//   - Node 24 with nothing loaded (idle only): the runtime's own pages;
//   - the bare responder (bare-responder.ts): Check on the sidecar's HTTP/2
//     framing with a fixed answer, the floor of any sidecar on this stack;
//   - the sidecar with audit export off, and on (OTLP http/protobuf to a sink),
//     with its span queue as shipped (reused batch buffers) and as before
//     issue 20 (AGENTWARDEN_SPAN_QUEUE=sdk: the SDK's BatchSpanProcessor), and
//     with the batches sent by the SDK's export delegate instead of the
//     sidecar's transport (AGENTWARDEN_OTLP_TRANSPORT=sdk), and with V8's own
//     compiler tiers instead of the launcher's (AGENTWARDEN_SIDECAR_JIT=v8-default),
//     and with V8's allocation-site pretenuring, which the launcher turns off
//     (AGENTWARDEN_SIDECAR_V8_FLAGS=--allocation-site-pretenuring).
//   npm run bench:memory -- --only sidecar,sidecar_pretenuring --starts 8
// measures only those rows, each 8 times, alternated (a row per start).
// For the sidecars, V8's collections during the load per 100,000 requests,
// from V8's --trace-gc lines on their stdout (bench/soak/trace-gc.ts, which
// adds nothing to the heap, unlike the sidecar's --gc-metrics): full ones
// (Mark-Compact) are what objects promoted to the old generation cost.
// Peak is VmHWM after the load; anon/file split the resident pages at the end
// (file pages are the node binary's, shared by every process that maps it).
// For the sidecars also the V8 heap in use at idle (their /metrics) and the
// modules loaded by then (files, and Node's internal modules), counted in a
// start of their own (module-count.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { toBinary } from '@bufbuild/protobuf';
import { CheckRequestSchema } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { CHECK_PATH } from '../../sidecar/src/authz/http2-server.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { grpcFrame } from '../compare/grpc-raw.js';
import { CLASSES, THROUGHPUT_REQUESTS, mixEntry } from '../compare/mix.js';
import { startOtlpSink } from '../compare/otlp-sink.js';
import { tallyGc, withTraceGc } from '../soak/gc-log.js';
import { listOf } from '../compare/args.js';
import { parseH2load } from '../compare/h2load.js';
import { cpuSeconds, freePort, httpText, memoryMiB, waitFor200 } from '../compare/proc.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const root = join(import.meta.dirname, '..', '..', '..');
const work = join(root, '.cache', 'bench', 'memory');
const node = join(root, 'node_modules', '.bin', 'node');
/** The V8 flags bin/agentwarden gives the sidecar (NODE_OPTIONS and its command line), for the processes started without it. */
const LAUNCHER_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=96', '--no-parallel-scavenge'];
/** The malloc settings bin/agentwarden gives the sidecar, for every process here. */
const LAUNCHER_MALLOC = { MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '131072' };
const REQUESTS_PER_CLASS = 100_000;
const MIB = 1024 * 1024;

interface Subject {
  readonly key: string;
  readonly label: string;
  readonly command: string;
  readonly args: (grpcPort: number, httpPort: number) => string[];
  readonly env: Readonly<Record<string, string>>;
  /** Where readiness is polled; undefined: not loaded, idle only. */
  readonly ready?: (httpPort: number) => string;
  /** The sidecar's /metrics (V8's collections are read there); undefined: not a sidecar. */
  readonly metrics?: (httpPort: number) => string;
}

interface Figures {
  readonly idleMiB: number;
  readonly peakMiB: number;
  readonly anonMiB: number;
  readonly fileMiB: number;
  readonly rps: number;
  readonly cpuUsPerRequest: number;
  /** Audit spans exported / dropped (sidecar with export on), from its /metrics. */
  readonly spans?: { readonly exported: number; readonly dropped: number };
  /** V8 collections during the load, per 100,000 requests (sidecars: --trace-gc). */
  readonly gc?: { readonly minor: number; readonly major: number };
  /** V8 heap in use at idle, MiB (sidecars: nodejs_heap_size_used_bytes). */
  readonly heapIdleMiB?: number;
  /** Module files loaded by idle (sidecars, counted in a start of their own). */
  readonly modules?: ModuleCount;
}

/** Runs h2load without blocking this process: the OTLP sink answering the sidecar's exports lives here. */
async function h2load(url: string, dataFile: string): Promise<number> {
  const { stdout: out } = await run('h2load', ['-n', String(REQUESTS_PER_CLASS), '-c4', '-m16', '-t1', '-d', dataFile,
    '-H', 'content-type: application/grpc', '-H', 'te: trailers', url], { encoding: 'utf8', timeout: 300_000 });
  const r = parseH2load(out);
  if (r.succeeded !== REQUESTS_PER_CLASS) throw new Error(`bench-memory: h2load against ${url} did not succeed on every request:\n${out}`);
  return r.rps;
}

/** The sidecar's span counters once everything recorded has been exported or dropped (polled, 15 s at most). */
async function spanCounters(metricsUrl: string): Promise<{ exported: number; dropped: number }> {
  const total = REQUESTS_PER_CLASS * CLASSES.length;
  const deadline = performance.now() + 15_000;
  for (;;) {
    const text = await httpText(metricsUrl);
    const read = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    const counters = { exported: read('agentwarden_spans_exported_total'), dropped: read('agentwarden_spans_dropped_total') };
    if (counters.exported + counters.dropped >= total || performance.now() > deadline) return counters;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measure(s: Subject, dataFiles: readonly string[]): Promise<Figures> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const log = join(work, `${s.key}.log`);
  const traced = s.metrics !== undefined;
  const env = { ...process.env, ...LAUNCHER_MALLOC, ...s.env, ...(traced ? { NODE_OPTIONS: withTraceGc(process.env['NODE_OPTIONS']) } : {}) };
  const child: ChildProcess = spawn(s.command, s.args(grpcPort, httpPort), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let gcLog = '';
  child.stdout?.on('data', (c: Buffer) => { gcLog += c.toString(); });
  const stderr: Buffer[] = [];
  child.stderr?.on('data', (c: Buffer) => stderr.push(c));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => { exited = true; resolve(); }));
  try {
    const pid = child.pid ?? 0;
    if (s.ready !== undefined) await waitFor200(s.ready(httpPort), () => !exited, 60_000);
    // Settled: one second after ready, as the bench's idle figure.
    await new Promise((r) => setTimeout(r, 1000));
    const idle = memoryMiB(pid);
    const idleMiB = idle['VmRSS'] ?? Number.NaN;
    const heapIdleMiB = s.metrics === undefined ? undefined : metricValue(await httpText(s.metrics(httpPort)), 'nodejs_heap_size_used_bytes') / MIB;
    if (s.ready === undefined) return { idleMiB, peakMiB: Number.NaN, anonMiB: idle['RssAnon'] ?? Number.NaN, fileMiB: idle['RssFile'] ?? Number.NaN, rps: Number.NaN, cpuUsPerRequest: Number.NaN };
    const gcBefore = gcLog.length;
    const cpu0 = cpuSeconds(pid);
    const rps: number[] = [];
    for (const f of dataFiles) rps.push(await h2load(`http://127.0.0.1:${grpcPort}${CHECK_PATH}`, f));
    const cpu = cpuSeconds(pid) - cpu0;
    const during = tallyGc(gcLog.slice(gcBefore));
    const per100k = (n: number): number => n * 100_000 / (REQUESTS_PER_CLASS * dataFiles.length);
    const gc = traced ? { minor: per100k(during.scavenges), major: per100k(during.fullCollections) } : undefined;
    const st = memoryMiB(pid);
    const spans = s.env['OTEL_TRACES_EXPORTER'] === 'otlp' ? await spanCounters(`http://127.0.0.1:${httpPort}/metrics`) : undefined;
    return {
      idleMiB, peakMiB: st['VmHWM'] ?? Number.NaN, anonMiB: st['RssAnon'] ?? Number.NaN, fileMiB: st['RssFile'] ?? Number.NaN,
      rps: rps.reduce((a, b) => a + b, 0) / rps.length, cpuUsPerRequest: cpu * 1e6 / (REQUESTS_PER_CLASS * dataFiles.length),
      ...(spans === undefined ? {} : { spans }),
      ...(gc === undefined ? {} : { gc }),
      ...(heapIdleMiB === undefined ? {} : { heapIdleMiB }),
    };
  } finally {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(killer);
    writeFileSync(log, Buffer.concat(stderr));
  }
}

function metricValue(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
}

/** Module files loaded, and Node's internal modules. */
interface ModuleCount {
  readonly files: number;
  readonly internal: number;
}

/** Starts the subject once more with module-count.ts preloaded; the modules it loaded by idle. */
async function countModules(s: Subject): Promise<ModuleCount> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const hook = join(root, 'dist', 'bench', 'memory', 'module-count.js');
  const env = { ...process.env, ...LAUNCHER_MALLOC, ...s.env, NODE_OPTIONS: `--import=${pathToFileURL(hook).href} ${process.env['NODE_OPTIONS'] ?? ''}` };
  const child = spawn(s.command, s.args(grpcPort, httpPort), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const counted = new Promise<ModuleCount>((resolve) => {
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /modules_loaded=(\d+) node_internal_modules=(\d+)/.exec(stderr);
      if (m !== null) resolve({ files: Number(m[1]), internal: Number(m[2]) });
    });
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => { exited = true; resolve(); }));
  try {
    if (s.ready !== undefined) await waitFor200(s.ready(httpPort), () => !exited, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGUSR2');
    return await Promise.race([counted, new Promise<ModuleCount>((resolve) => setTimeout(() => { resolve({ files: Number.NaN, internal: Number.NaN }); }, 5000))]);
  } finally {
    child.kill('SIGTERM');
    await exit;
  }
}

/** --only (row keys, comma-separated; default all) and --starts (measurements of each row, alternated; default 1). */
function options(keys: readonly string[]): { only: readonly string[] | undefined; starts: number } {
  const { values } = parseArgs({ options: { only: { type: 'string' }, starts: { type: 'string' } }, strict: true });
  const only = values.only === undefined ? undefined : listOf('bench-memory', '--only', values.only, keys);
  const starts = Number(values.starts ?? '1');
  if (!Number.isInteger(starts) || starts < 1) throw new Error(`bench-memory: --starts: "${values.starts ?? ''}" is not a positive integer`);
  return { only, starts };
}

async function main(): Promise<void> {
  mkdirSync(work, { recursive: true });
  const dataFiles = CLASSES.map((cls) => {
    const file = join(work, `${cls}.bin`);
    writeFileSync(file, grpcFrame(toBinary(CheckRequestSchema, checkRequestFrom(mixEntry(THROUGHPUT_REQUESTS[cls]).request))));
    return file;
  });
  const sink = await startOtlpSink();
  const peers = join(root, 'bench', 'peers', 'agentwarden');
  const sidecar = (key: string, label: string, env: Record<string, string>): Subject => ({
    key, label, command: join(root, 'bin', 'agentwarden'), env,
    args: (g, h) => ['sidecar', '--policy', join(peers, 'policy.yaml'), '--pod', join(peers, 'pod.yaml'), '--listen', `127.0.0.1:${g}`, '--allow-tcp-credentials', '--admin-listen', `127.0.0.1:${h}`],
    ready: (h) => `http://127.0.0.1:${h}/readyz`,
    metrics: (h) => `http://127.0.0.1:${h}/metrics`,
  });
  const exportOn = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_EXPORTER: 'otlp' };
  const subjects: Subject[] = [
    { key: 'node_idle', label: 'Node 24, nothing loaded (idle only)', command: node, args: () => [...LAUNCHER_FLAGS, '-e', 'setInterval(() => {}, 1 << 30)'], env: {} },
    { key: 'bare_responder', label: 'HTTP/2 framing, fixed answer', command: node, args: (g, h) => [...LAUNCHER_FLAGS, join(root, 'dist', 'bench', 'memory', 'bare-responder.js'), String(g), String(h)], env: {}, ready: (h) => `http://127.0.0.1:${h}/` },
    sidecar('sidecar_export_off', 'sidecar, span export off', { OTEL_TRACES_EXPORTER: 'none' }),
    sidecar('sidecar', 'sidecar, span export on (as shipped)', exportOn),
    // The span queue before issue 20: ReadableSpans in the SDK's BatchSpanProcessor (telemetry/sdk-spans.ts).
    sidecar('sidecar_sdk_queue', 'sidecar, span export on, AGENTWARDEN_SPAN_QUEUE=sdk', { ...exportOn, AGENTWARDEN_SPAN_QUEUE: 'sdk' }),
    // The batches sent by the SDK's http/protobuf export delegate, as before the sidecar's own transport (telemetry/otlp-http-transport.ts).
    sidecar('sidecar_sdk_transport', 'sidecar, span export on, AGENTWARDEN_OTLP_TRANSPORT=sdk', { ...exportOn, AGENTWARDEN_OTLP_TRANSPORT: 'sdk' }),
    // V8's own compiler tiers (Maglev, Turbofan from the 3,000th call) instead of the launcher's early Turbofan (bin/agentwarden).
    sidecar('sidecar_v8_jit', 'sidecar, span export on, AGENTWARDEN_SIDECAR_JIT=v8-default', { ...exportOn, AGENTWARDEN_SIDECAR_JIT: 'v8-default' }),
    // V8's allocation-site pretenuring back on (bin/agentwarden turns it off: some starts then allocate request objects in the old generation for good).
    sidecar('sidecar_pretenuring', 'sidecar, span export on, AGENTWARDEN_SIDECAR_V8_FLAGS=--allocation-site-pretenuring', { ...exportOn, AGENTWARDEN_SIDECAR_V8_FLAGS: '--allocation-site-pretenuring' }),
  ];
  const { only, starts } = options(subjects.map((s) => s.key));
  const chosen = subjects.filter((s) => only === undefined || only.includes(s.key));
  const runs = Array.from({ length: starts }, () => chosen).flat();
  const rows: [Subject, Figures][] = [];
  try {
    for (const s of runs) {
      process.stderr.write(`bench-memory: ${s.label}\n`);
      const figures = await measure(s, dataFiles);
      rows.push([s, s.metrics === undefined ? figures : { ...figures, modules: await countModules(s) }]);
    }
  } finally {
    await sink.close();
  }
  const f = (n: number, digits = 0): string => (Number.isNaN(n) ? '-' : n.toFixed(digits));
  const lines = [
    `resident memory under h2load -n ${REQUESTS_PER_CLASS} -c4 -m16 -t1 per request class (${CLASSES.join(', ')}), one process at a time:`,
    '',
    '| process | idle RSS (MiB) | peak RSS (MiB) | anon / file at end (MiB) | req/s | CPU µs/request | GCs per 100,000 requests, minor / major | spans exported / dropped | V8 heap in use idle (MiB) | modules loaded: files / Node internals |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(([s, r]) => `| ${s.label} | ${f(r.idleMiB)} | ${f(r.peakMiB)} | ${f(r.anonMiB)} / ${f(r.fileMiB)} | ${f(r.rps)} | ${f(r.cpuUsPerRequest, 1)} | ${r.gc === undefined ? '-' : `${f(r.gc.minor)} / ${f(r.gc.major)}`} | ${r.spans === undefined ? '-' : `${r.spans.exported} / ${r.spans.dropped}`} | ${f(r.heapIdleMiB ?? Number.NaN, 1)} | ${r.modules === undefined ? '-' : `${f(r.modules.files)} / ${f(r.modules.internal)}`} |`),
    '',
    ...rows.map(([s, r]) => `bench: memory ${s.key} idle_mib=${f(r.idleMiB, 1)} peak_mib=${f(r.peakMiB, 1)} anon_mib=${f(r.anonMiB, 1)} file_mib=${f(r.fileMiB, 1)} rps=${f(r.rps)} cpu_us_per_request=${f(r.cpuUsPerRequest, 1)}${r.gc === undefined ? '' : ` gc_minor_per_100k=${f(r.gc.minor)} gc_major_per_100k=${f(r.gc.major)}`}${r.spans === undefined ? '' : ` spans_exported=${r.spans.exported} spans_dropped=${r.spans.dropped}`}${r.heapIdleMiB === undefined ? '' : ` heap_idle_mib=${f(r.heapIdleMiB, 1)}`}${r.modules === undefined ? '' : ` modules_loaded=${f(r.modules.files)} node_internal_modules=${f(r.modules.internal)}`}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
