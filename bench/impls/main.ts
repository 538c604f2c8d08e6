// make bench-impls: what the sidecar's hand-written hot-path code replaced,
// measured against it in one run, both sides alternated, with the ratio:
//   - the Check server: own HTTP/2 framing (default) against --grpc-impl grpc-js,
//     the whole sidecar under h2load (throughput and CPU per request);
//   - CheckRequest decode: the wire reader against protobuf-es fromBinary;
//   - CheckResponse encode: response-wire.ts against protobuf-es toBinary;
//   - OTLP span serialization: ours against the SDK's ProtobufTraceSerializer.
// Every speed figure quoted in a code comment about these parts is one this
// prints. About 2.5 minutes; stops by itself.
//   node --expose-gc dist/bench/impls/main.js [server] [decode] [encode] [otlp]   (default: all)
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { measurePair, measureSides, observed, spread, type PairResult, type Spread } from './measure.js';
import { benchSnapshot, decodePairs, encodePair, envoyLikeRequest, mixDecisions, mixRequests, otlpPair, otlpParts, spanBatch, SPAN_BATCH } from './pairs.js';
import { SERVER_IMPLS, serverPair, type ServerImpl, type ServerRun } from './server.js';
import { CLASSES } from '../compare/mix.js';

const SECTIONS = ['server', 'decode', 'encode', 'otlp'] as const;
type Section = (typeof SECTIONS)[number];

const MICRO = { rounds: 9, msPerSide: 80 };
const SERVER = { rounds: 6, seconds: 2, warmupSeconds: 3, clients: 4, streams: 16 };

const root = join(import.meta.dirname, '..', '..', '..');
const machine: string[] = [];
const say = (line = ''): void => { process.stdout.write(`${line}\n`); };
const progress = (line: string): void => { process.stderr.write(`bench-impls: ${line}\n`); };

const f = (n: number, digits: number): string => (Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const range = (s: Spread, digits: number): string => `${f(s.median, digits)} [${f(s.min, digits)}–${f(s.max, digits)}]`;
/** Plain numbers for the `bench:` lines. */
const num = (x: number, digits: number): string => x.toFixed(digits);
const ratio = (s: Spread): string => `${f(s.median, 2)}× [${f(s.min, 2)}–${f(s.max, 2)}]`;

function printPair(r: PairResult): void {
  const digits = r.ours.median < 10 ? 2 : 1;
  say(`${r.pair.name}, CPU µs per ${r.pair.unit}:`);
  say(`  ${r.pair.ours.label.padEnd(46)} ${range(r.ours, digits)}`);
  say(`  ${r.pair.library.label.padEnd(46)} ${range(r.library, digits)}`);
  say(`  ${'ratio, library / ours (per round)'.padEnd(46)} ${ratio(r.ratio)}`);
  machine.push(`bench: impls ${r.pair.key} ours_us=${num(r.ours.median, 3)} library_us=${num(r.library.median, 3)} ratio=${num(r.ratio.median, 2)} ratio_min=${num(r.ratio.min, 2)} ratio_max=${num(r.ratio.max, 2)}`);
}

function microSections(sections: ReadonlySet<Section>): void {
  if (!sections.has('decode') && !sections.has('encode') && !sections.has('otlp')) return;
  say(`In process, both sides on the same inputs; CPU time of the main thread per operation, median of ${MICRO.rounds} alternated rounds`);
  say(`of ~${MICRO.msPerSide} ms of CPU a side [range of the rounds]:`);
  say();
  if (sections.has('decode')) {
    const mix = mixRequests();
    const envoy = envoyLikeRequest();
    const avg = mix.reduce((n, b) => n + b.length, 0) / mix.length;
    for (const p of [...decodePairs('mix', `bench mix (${mix.length} requests, ${avg.toFixed(0)} B on average)`, mix), ...decodePairs('envoy_like', `Envoy-like request (${envoy.length} B)`, [envoy])]) {
      printPair(measurePair(p, MICRO));
    }
  }
  if (sections.has('encode')) printPair(measurePair(encodePair(mixDecisions(benchSnapshot())), MICRO));
  if (sections.has('otlp')) {
    const plain = spanBatch(true);
    printPair(measurePair(otlpPair(plain), MICRO));
    const parts = otlpParts(plain, spanBatch(false));
    const spreads = measureSides(parts, SPAN_BATCH, MICRO);
    say('  ours as the sidecar runs it, CPU µs per span:');
    for (const [i, part] of parts.entries()) {
      const s = spreads[i]!;
      say(`    ${part.label.padEnd(44)} ${range(s, 2)}`);
      machine.push(`bench: impls otlp_${i === 0 ? 'encode_one_span' : 'batch_of_encoded_spans'}_us=${num(s.median, 3)}`);
    }
  }
  say();
}

interface ServerFigures {
  /** Per round: all classes' requests over their seconds. */
  readonly rps: number[];
  /** Per round: CPU µs per request over the three classes. */
  readonly cpuUs: number[];
  readonly byClass: Map<string, number[]>;
  readonly failed: number;
}

function serverFigures(runs: readonly ServerRun[], impl: ServerImpl): ServerFigures {
  const mine = runs.filter((r) => r.impl === impl);
  const rounds = [...new Set(mine.map((r) => r.round))];
  const byClass = new Map(CLASSES.map((c) => [c as string, mine.filter((r) => r.cls === c).map((r) => r.rps)]));
  return {
    rps: rounds.map((round) => { const rs = mine.filter((r) => r.round === round); return rs.reduce((a, r) => a + r.rps, 0) / rs.length; }),
    cpuUs: rounds.map((round) => { const rs = mine.filter((r) => r.round === round); return (rs.reduce((a, r) => a + r.cpuSeconds, 0) * 1e6) / rs.reduce((a, r) => a + r.done, 0); }),
    byClass,
    failed: mine.reduce((sum, r) => sum + r.failed, 0),
  };
}

async function serverSection(): Promise<void> {
  const runs = await serverPair(root, SERVER, progress);
  const label: Record<ServerImpl, string> = { http2: 'own HTTP/2 framing (default)', 'grpc-js': '--grpc-impl grpc-js' };
  const figs = new Map(SERVER_IMPLS.map((i) => [i, serverFigures(runs, i)]));
  const own = figs.get('http2')!;
  const grpcJs = figs.get('grpc-js')!;
  say(`Check server: the whole sidecar (bench/peers/agentwarden policy, audit spans exported over OTLP http/protobuf to a local sink),`);
  say(`h2load -c${SERVER.clients} -m${SERVER.streams} -t1 -D ${SERVER.seconds}s per request class (${CLASSES.join(', ')}), ${SERVER.rounds} rounds alternated; median [range] of the rounds:`);
  say(`  ${''.padEnd(30)} ${'req/s, three classes'.padEnd(26)} ${CLASSES.map((c) => c.padStart(8)).join(' ')}   CPU µs/request`);
  for (const impl of SERVER_IMPLS) {
    const g = figs.get(impl)!;
    say(`  ${label[impl].padEnd(30)} ${range(spread(g.rps), 0).padEnd(26)} ${CLASSES.map((c) => f(spread(g.byClass.get(c) ?? []).median, 0).padStart(8)).join(' ')}   ${range(spread(g.cpuUs), 1)}${g.failed > 0 ? `   (${g.failed} failed)` : ''}`);
  }
  const tput = spread(own.rps.map((r, i) => r / (grpcJs.rps[i] ?? Number.NaN)));
  const cpu = spread(grpcJs.cpuUs.map((c, i) => c / (own.cpuUs[i] ?? Number.NaN)));
  say(`  ratios per round: throughput own / grpc-js ${ratio(tput)}; CPU per request grpc-js / own ${ratio(cpu)}`);
  say();
  machine.push(`bench: impls check_server own_rps=${num(spread(own.rps).median, 0)} grpcjs_rps=${num(spread(grpcJs.rps).median, 0)} own_cpu_us=${num(spread(own.cpuUs).median, 1)} grpcjs_cpu_us=${num(spread(grpcJs.cpuUs).median, 1)} throughput_ratio=${num(tput.median, 2)} cpu_ratio=${num(cpu.median, 2)}`);
}

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  for (const a of asked) if (!(SECTIONS as readonly string[]).includes(a)) throw new Error(`bench-impls: "${a}" is not one of ${SECTIONS.join(', ')}`);
  const sections = new Set<Section>(asked.length === 0 ? SECTIONS : (asked as Section[]));
  const t0 = performance.now();
  const load0 = loadavg()[0] ?? Number.NaN;
  say(`make bench-impls, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.versions.node}, load average ${load0.toFixed(1)} at start${(globalThis as { gc?: unknown }).gc === undefined ? ' (without --expose-gc)' : ''}`);
  say();
  microSections(sections);
  if (sections.has('server')) await serverSection();
  say(`took ${((performance.now() - t0) / 1000).toFixed(0)} s, load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at end`);
  for (const line of machine) process.stdout.write(`${line}\n`);
  if ((sections.has('decode') || sections.has('encode') || sections.has('otlp')) && observed() === 0) throw new Error('bench-impls: the measured runs produced nothing');
}

await main();
