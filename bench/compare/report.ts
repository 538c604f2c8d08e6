// Turns the runs into figures: a table for people and one `bench: ...` line per
// figure for machines. Throughput ratios are taken per round (the engines ran
// back to back) and their median reported, so machine drift cancels out.
import { concat, median, percentile } from './stats.js';
import { CLASSES, type RequestClass } from './mix.js';
import type { EngineName } from './engines.js';
import type { LatencyRun, ThroughputRun } from './load.js';

export interface EngineFacts {
  readonly name: EngineName;
  readonly version: string;
  readonly readyMs: readonly number[];
  readonly rssIdleMiB: number;
}

/** Open-loop latency, ms: from when each request left (p50…) and from when it was due (dueP50…, NaN when not measured). */
export interface LatencyFigures {
  readonly p50: number; readonly p99: number; readonly p999: number;
  readonly dueP50: number; readonly dueP99: number; readonly dueP999: number;
  readonly n: number; readonly errors: number; readonly achievedRps: number;
}

export interface EngineFigures {
  readonly name: EngineName;
  readonly version: string;
  readonly throughput: Readonly<Record<RequestClass | 'all', number>>;
  /** CPU over h2load's measured window per request it counted. */
  readonly cpuUsPerRequest: number;
  /** CPU over the whole run, warm-up included, per request counted (the figure before 2026-12-06, which overstated it). */
  readonly cpuUsPerRequestWithWarmup: number;
  /** CPU per request of each round (its three classes), lowest and highest: how much the machine moved it. */
  readonly cpuUsPerRequestRounds: readonly [number, number];
  readonly latency: ReadonlyMap<number, LatencyFigures>;
  readonly readyMs: number;
  readonly rssIdleMiB: number;
  readonly rssLoadMiB: number;
  readonly failed: number;
}

/** Requests per second over the round's three runs: total requests / total measured time. */
function roundAggregate(runs: readonly ThroughputRun[]): number {
  const done = runs.reduce((n, r) => n + r.done, 0);
  const seconds = runs.reduce((n, r) => n + r.done / r.rps, 0);
  return seconds > 0 ? done / seconds : Number.NaN;
}

function cpuPerRequestUs(runs: readonly ThroughputRun[]): number {
  const done = runs.reduce((n, r) => n + r.done, 0);
  return done > 0 ? (runs.reduce((n, r) => n + r.cpuSeconds, 0) / done) * 1e6 : Number.NaN;
}

function spread(values: readonly number[]): readonly [number, number] {
  return values.length === 0 ? [Number.NaN, Number.NaN] : [Math.min(...values), Math.max(...values)];
}

function rounds(runs: readonly ThroughputRun[]): number[] {
  return [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b);
}

export function figures(facts: readonly EngineFacts[], tput: readonly ThroughputRun[], lat: readonly LatencyRun[]): EngineFigures[] {
  return facts.map((f) => {
    const mine = tput.filter((r) => r.engine === f.name);
    const byClass = {} as Record<RequestClass | 'all', number>;
    for (const cls of CLASSES) byClass[cls] = median(mine.filter((r) => r.cls === cls).map((r) => r.rps));
    byClass.all = median(rounds(mine).map((round) => roundAggregate(mine.filter((r) => r.round === round))));
    const cpu = mine.reduce((n, r) => n + r.cpuSeconds, 0);
    const cpuWithWarmup = mine.reduce((n, r) => n + r.cpuSecondsWithWarmup, 0);
    const done = mine.reduce((n, r) => n + r.done, 0);
    const latency = new Map<number, LatencyFigures>();
    const myLat = lat.filter((r) => r.engine === f.name);
    for (const rate of [...new Set(myLat.map((r) => r.rate))]) {
      const runs = myLat.filter((r) => r.rate === rate);
      const all = concat(runs.map((r) => r.serviceMs));
      const due = concat(runs.map((r) => r.dueMs ?? new Float64Array(0)));
      latency.set(rate, {
        p50: percentile(all, 0.5), p99: percentile(all, 0.99), p999: percentile(all, 0.999), n: all.length,
        dueP50: percentile(due, 0.5), dueP99: percentile(due, 0.99), dueP999: percentile(due, 0.999),
        errors: runs.reduce((n, r) => n + r.errors, 0), achievedRps: median(runs.map((r) => r.achievedRps)),
      });
    }
    const rssLoad = Math.max(...mine.map((r) => r.rssMaxMiB), ...myLat.map((r) => r.rssMaxMiB));
    return {
      name: f.name, version: f.version, throughput: byClass, cpuUsPerRequest: done > 0 ? (cpu / done) * 1e6 : Number.NaN,
      cpuUsPerRequestWithWarmup: done > 0 ? (cpuWithWarmup / done) * 1e6 : Number.NaN,
      cpuUsPerRequestRounds: spread(rounds(mine).map((round) => cpuPerRequestUs(mine.filter((r) => r.round === round)))),
      latency, readyMs: median(f.readyMs), rssIdleMiB: f.rssIdleMiB, rssLoadMiB: rssLoad, failed: mine.reduce((n, r) => n + r.failed, 0),
    };
  });
}

/** agentwarden / peer, per round (aggregate of the classes, or one class), median over rounds. */
export function throughputRatio(tput: readonly ThroughputRun[], peer: EngineName, cls?: RequestClass): number {
  return median(roundRatios(tput, peer, cls));
}

function roundRatios(tput: readonly ThroughputRun[], peer: EngineName, cls?: RequestClass): number[] {
  const ratios: number[] = [];
  for (const round of rounds(tput)) {
    const pick = (e: EngineName): ThroughputRun[] => tput.filter((r) => r.round === round && r.engine === e && (cls === undefined || r.cls === cls));
    const a = roundAggregate(pick('agentwarden'));
    const b = roundAggregate(pick(peer));
    if (b > 0) ratios.push(a / b);
  }
  return ratios;
}

const fmt = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
/** Milliseconds with three significant-ish digits: 0.72, 28.8, 255. */
const ms = (v: number): string => (!Number.isFinite(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const metricName = (rate: number, what: string): string => `${what}_ms_at_${rate}rps`;

export interface ReportInput {
  readonly figures: readonly EngineFigures[];
  readonly tput: readonly ThroughputRun[];
  readonly header: readonly string[];
  readonly spans: { readonly exported: number; readonly dropped: number; readonly sinkRequests: number; readonly sinkBytes: number };
}

export function renderReport(input: ReportInput): string {
  const figs = input.figures;
  const col = (s: string): string => s.padStart(25);
  const row = (label: string, cell: (f: EngineFigures) => string): string => `${label.padEnd(42)}${figs.map((f) => col(cell(f))).join('')}`;
  const out: string[] = [...input.header, ''];
  out.push(row('', (f) => f.name));
  out.push(row('version', (f) => f.version));
  for (const cls of CLASSES) out.push(row(`throughput ${cls} (req/s)`, (f) => fmt(f.throughput[cls], 0)));
  out.push(row('throughput, all three (req/s)', (f) => fmt(f.throughput.all, 0)));
  out.push(row('CPU per request (µs)', (f) => fmt(f.cpuUsPerRequest, 1)));
  out.push(row('  per round, lowest-highest', (f) => `${fmt(f.cpuUsPerRequestRounds[0], 1)}-${fmt(f.cpuUsPerRequestRounds[1], 1)}`));
  out.push(row('  with the warm-up\'s CPU (before 2026-12-06)', (f) => fmt(f.cpuUsPerRequestWithWarmup, 1)));
  const rates = [...new Set(figs.flatMap((f) => [...f.latency.keys()]))].sort((a, b) => a - b);
  for (const rate of rates) {
    out.push(row(`latency @${rate} req/s p50/p99/p99.9 (ms)`, (f) => {
      const l = f.latency.get(rate);
      return l === undefined ? 'n/a' : `${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.p999)}`;
    }));
    if (figs.some((f) => Number.isFinite(f.latency.get(rate)?.dueP99 ?? Number.NaN))) {
      out.push(row(`  counted from due time (ms)`, (f) => {
        const l = f.latency.get(rate);
        return l === undefined ? 'n/a' : `${ms(l.dueP50)} / ${ms(l.dueP99)} / ${ms(l.dueP999)}`;
      }));
    }
    out.push(row(`  requests answered (errors)`, (f) => {
      const l = f.latency.get(rate);
      return l === undefined ? 'n/a' : `${l.n} (${l.errors})`;
    }));
  }
  out.push(row('start to ready (ms, median)', (f) => fmt(f.readyMs, 0)));
  out.push(row('RSS idle (MiB)', (f) => fmt(f.rssIdleMiB, 1)));
  out.push(row('RSS under load, max (MiB)', (f) => fmt(f.rssLoadMiB, 1)));
  out.push('');
  const vsOpa = throughputRatio(input.tput, 'opa-envoy');
  const vsCerbos = throughputRatio(input.tput, 'cerbos');
  const spread = (peer: EngineName): string => {
    const r = roundRatios(input.tput, peer);
    return `rounds ${fmt(Math.min(...r), 2)}-${fmt(Math.max(...r), 2)}`;
  };
  const cpuOf = (n: EngineName): number => figs.find((f) => f.name === n)?.cpuUsPerRequest ?? Number.NaN;
  const cpuVs = (peer: EngineName): number => cpuOf(peer) / cpuOf('agentwarden');
  out.push(`throughput ratio agentwarden/opa-envoy: ${fmt(vsOpa, 2)}x median of per-round ratios (${spread('opa-envoy')}; ${CLASSES.map((c) => `${c} ${fmt(throughputRatio(input.tput, 'opa-envoy', c), 2)}x`).join(', ')})`);
  out.push(`throughput ratio agentwarden/cerbos:    ${fmt(vsCerbos, 2)}x median of per-round ratios (${spread('cerbos')}; ${CLASSES.map((c) => `${c} ${fmt(throughputRatio(input.tput, 'cerbos', c), 2)}x`).join(', ')})`);
  out.push(`CPU per request, peer/agentwarden:      opa-envoy ${fmt(cpuVs('opa-envoy'), 2)}x, cerbos ${fmt(cpuVs('cerbos'), 2)}x (less sensitive to the machine's other work than req/s)`);
  out.push(`agentwarden audit spans: ${input.spans.exported} exported, ${input.spans.dropped} dropped; OTLP sink got ${input.spans.sinkRequests} export requests, ${(input.spans.sinkBytes / 1048576).toFixed(1)} MiB`);
  const aw = figs.find((f) => f.name === 'agentwarden');
  if (aw !== undefined) {
    const p99 = aw.latency.get(1000)?.p99 ?? Number.NaN;
    const dueP99 = aw.latency.get(1000)?.dueP99 ?? Number.NaN;
    const target = (ok: boolean, what: string, got: string): string => `  ${ok ? 'met ' : 'MISS'}  ${what.padEnd(40)} measured ${got}`;
    out.push('targets:');
    out.push(target(vsOpa >= 1.5, 'throughput >= 1.5x OPA-Envoy', `${fmt(vsOpa, 2)}x`));
    out.push(target(vsCerbos >= 2, 'throughput >= 2x Cerbos', `${fmt(vsCerbos, 2)}x`));
    out.push(target(p99 <= 1, 'p99 <= 1 ms at 1,000 req/s', `${fmt(p99, 2)} ms (from due time: ${fmt(dueP99, 2)} ms)`));
    out.push(target(aw.rssLoadMiB <= 80, 'sidecar RSS <= 80 MB under load', `${fmt(aw.rssLoadMiB, 1)} MiB`));
    // Issue 20 (a lighter sidecar): memory against OPA-Envoy's in this run, and the throughput ratios kept.
    const opa = figs.find((f) => f.name === 'opa-envoy');
    const rssVsOpa = aw.rssLoadMiB / (opa?.rssLoadMiB ?? Number.NaN);
    out.push('targets (issue 20):');
    out.push(target(rssVsOpa <= 2, 'sidecar RSS under load <= 2.0x OPA-Envoy', `${fmt(rssVsOpa, 2)}x (${fmt(aw.rssLoadMiB, 1)} MiB vs ${fmt(opa?.rssLoadMiB ?? Number.NaN, 1)} MiB)`));
    out.push(target(aw.rssIdleMiB <= 80, 'sidecar RSS idle <= 80 MiB', `${fmt(aw.rssIdleMiB, 1)} MiB (OPA-Envoy ${fmt(opa?.rssIdleMiB ?? Number.NaN, 1)} MiB)`));
    out.push(target(vsOpa >= 2.5, 'throughput >= 2.5x OPA-Envoy', `${fmt(vsOpa, 2)}x`));
    out.push(target(vsCerbos >= 5, 'throughput >= 5x Cerbos', `${fmt(vsCerbos, 2)}x`));
    out.push(target(aw.cpuUsPerRequest <= 20, 'CPU per request <= 20 µs', `${fmt(aw.cpuUsPerRequest, 1)} µs (OPA-Envoy ${fmt(opa?.cpuUsPerRequest ?? Number.NaN, 1)} µs)`));
  }
  out.push('');
  for (const f of figs) {
    for (const cls of CLASSES) out.push(`bench: ${f.name} throughput_rps_${cls}=${fmt(f.throughput[cls], 0)}`);
    out.push(`bench: ${f.name} throughput_rps=${fmt(f.throughput.all, 0)}`);
    out.push(`bench: ${f.name} cpu_us_per_request=${fmt(f.cpuUsPerRequest, 1)} cpu_us_per_request_rounds=${fmt(f.cpuUsPerRequestRounds[0], 1)}-${fmt(f.cpuUsPerRequestRounds[1], 1)} with_warmup_cpu=${fmt(f.cpuUsPerRequestWithWarmup, 1)}`);
    for (const [rate, l] of [...f.latency.entries()].sort((a, b) => a[0] - b[0])) {
      out.push(`bench: ${f.name} ${metricName(rate, 'p50')}=${fmt(l.p50, 3)}`);
      out.push(`bench: ${f.name} ${metricName(rate, 'p99')}=${fmt(l.p99, 3)}`);
      out.push(`bench: ${f.name} ${metricName(rate, 'p999')}=${fmt(l.p999, 3)}`);
      if (Number.isFinite(l.dueP99)) {
        out.push(`bench: ${f.name} ${metricName(rate, 'p50_due')}=${fmt(l.dueP50, 3)}`);
        out.push(`bench: ${f.name} ${metricName(rate, 'p99_due')}=${fmt(l.dueP99, 3)}`);
        out.push(`bench: ${f.name} ${metricName(rate, 'p999_due')}=${fmt(l.dueP999, 3)}`);
      }
    }
    out.push(`bench: ${f.name} ready_ms=${fmt(f.readyMs, 0)}`);
    out.push(`bench: ${f.name} rss_mb_idle=${fmt(f.rssIdleMiB, 1)}`);
    out.push(`bench: ${f.name} rss_mb_load=${fmt(f.rssLoadMiB, 1)}`);
  }
  out.push(`bench: ratio throughput_vs_opa_envoy=${fmt(vsOpa, 2)}`);
  out.push(`bench: ratio throughput_vs_cerbos=${fmt(vsCerbos, 2)}`);
  out.push(`bench: ratio cpu_per_request_opa_envoy_vs_agentwarden=${fmt(cpuVs('opa-envoy'), 2)}`);
  out.push(`bench: ratio cpu_per_request_cerbos_vs_agentwarden=${fmt(cpuVs('cerbos'), 2)}`);
  const rssLoadOf = (n: EngineName): number => figs.find((f) => f.name === n)?.rssLoadMiB ?? Number.NaN;
  const rssIdleOf = (n: EngineName): number => figs.find((f) => f.name === n)?.rssIdleMiB ?? Number.NaN;
  out.push(`bench: ratio sidecar_rss_vs_opa_envoy=${fmt(rssLoadOf('agentwarden') / rssLoadOf('opa-envoy'), 2)}`);
  out.push(`bench: ratio sidecar_rss_idle_vs_opa_envoy=${fmt(rssIdleOf('agentwarden') / rssIdleOf('opa-envoy'), 2)}`);
  out.push(`bench: agentwarden spans_exported=${input.spans.exported}`);
  out.push(`bench: agentwarden spans_dropped=${input.spans.dropped}`);
  return out.join('\n');
}
