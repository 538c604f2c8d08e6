// make bench-e2e's figures (pure): what ext_authz adds to a request's latency
// through Envoy, per engine and rate. "Added" is taken per round, against the run
// without ext_authz of the same round (same Envoy, same upstream, minutes apart at
// most), and the median over the rounds reported, so a shared machine's drift
// falls on both sides of each difference.
import { median } from '../compare/stats.js';
import type { Engine, Variant } from './engines.js';

export interface OpenLoopRun {
  readonly round: number;
  readonly variant: Variant;
  readonly rate: number;
  /** From due time, ms. */
  readonly p50: number;
  readonly p99: number;
}

export interface ProbeRun {
  readonly round: number;
  readonly variant: Variant;
  /** Closed loop, one connection: mean latency, ms. */
  readonly mean: number;
}

export interface AddedFigures {
  readonly engine: Engine;
  readonly rate: number;
  /** Median over rounds of the engine's p50 / p99, ms. */
  readonly p50: number;
  readonly p99: number;
  /** Median over rounds of (engine − none), ms. */
  readonly addedP50: number;
  readonly addedP99: number;
  /** (engine − none) p99 of each round, in round order: how far the machine's noise moved it. */
  readonly addedP99PerRound: readonly number[];
  readonly rounds: number;
}

/** The issue's targets (at 1,000 req/s): added p99 at most 1 ms, and at most 0.6× OPA-Envoy's. */
export const TARGET_RATE = 1000;
export const TARGET_ADDED_P99_MS = 1;
export const TARGET_RATIO_VS_OPA = 0.6;
const ENGINES: readonly Engine[] = ['agentwarden', 'opa-envoy', 'floor-node', 'floor-go'];
const FLOORS: readonly Engine[] = ['floor-node', 'floor-go'];

/**
 * Median over rounds of (agentwarden − floor-node) p99 at `rate`, each from the same round:
 * what the sidecar's own work (decoding, deciding, auditing) adds above the bare round trip.
 */
export function overFloorP99(runs: readonly OpenLoopRun[], rate: number): number {
  const floor = new Map(runs.filter((r) => r.rate === rate && r.variant === 'floor-node').map((r) => [r.round, r.p99]));
  const over = runs.filter((r) => r.rate === rate && r.variant === 'agentwarden' && floor.has(r.round)).map((r) => r.p99 - floor.get(r.round)!);
  return over.length === 0 ? Number.NaN : median(over);
}

/** Per engine and rate; rounds without a baseline run at that rate are left out. */
export function addedFigures(runs: readonly OpenLoopRun[]): AddedFigures[] {
  const rates = [...new Set(runs.map((r) => r.rate))].sort((a, b) => a - b);
  const out: AddedFigures[] = [];
  for (const rate of rates) {
    const baseline = new Map(runs.filter((r) => r.rate === rate && r.variant === 'none').map((r) => [r.round, r]));
    for (const engine of ENGINES) {
      const mine = runs.filter((r) => r.rate === rate && r.variant === engine && baseline.has(r.round));
      if (mine.length === 0) continue;
      const added = (pick: (r: OpenLoopRun) => number): number => median(mine.map((r) => pick(r) - pick(baseline.get(r.round)!)));
      out.push({
        engine, rate, rounds: mine.length,
        p50: median(mine.map((r) => r.p50)), p99: median(mine.map((r) => r.p99)),
        addedP50: added((r) => r.p50), addedP99: added((r) => r.p99),
        addedP99PerRound: [...mine].sort((a, b) => a.round - b.round).map((r) => r.p99 - baseline.get(r.round)!.p99),
      });
    }
  }
  return out;
}

/** Median over rounds of the probe's (engine − none) mean, ms. */
export function addedProbeMeans(probes: readonly ProbeRun[]): Map<Engine, number> {
  const baseline = new Map(probes.filter((p) => p.variant === 'none').map((p) => [p.round, p.mean]));
  const out = new Map<Engine, number>();
  for (const engine of ENGINES) {
    const added = probes.filter((p) => p.variant === engine && baseline.has(p.round)).map((p) => p.mean - baseline.get(p.round)!);
    if (added.length > 0) out.set(engine, median(added));
  }
  return out;
}

const ms = (v: number): string => v.toFixed(3);

/** The `bench: ...` lines: added latency per engine and rate, the ratio to OPA-Envoy, the probe, and the targets (PASS/MISS). */
export function benchLines(runs: readonly OpenLoopRun[], probes: readonly ProbeRun[]): string[] {
  const figures = addedFigures(runs);
  const lines: string[] = [];
  const baselines = [...new Set(runs.map((r) => r.rate))].sort((a, b) => a - b).map((rate) => {
    const none = runs.filter((r) => r.rate === rate && r.variant === 'none');
    return `bench: e2e none p50_ms=${ms(median(none.map((r) => r.p50)))} p99_ms=${ms(median(none.map((r) => r.p99)))} rate=${rate}`;
  });
  lines.push(...baselines);
  for (const f of figures) {
    lines.push(`bench: e2e ${f.engine} p50_ms=${ms(f.p50)} p99_ms=${ms(f.p99)} rate=${f.rate}`);
    lines.push(`bench: e2e ${f.engine} added_p50_ms=${ms(f.addedP50)} added_p99_ms=${ms(f.addedP99)} rate=${f.rate}`);
    lines.push(`bench: e2e ${f.engine} added_p99_per_round_ms=${f.addedP99PerRound.map(ms).join(',')} rate=${f.rate}`);
  }
  const ratioAt = (rate: number): number => {
    const aw = figures.find((f) => f.engine === 'agentwarden' && f.rate === rate);
    const opa = figures.find((f) => f.engine === 'opa-envoy' && f.rate === rate);
    return aw === undefined || opa === undefined ? Number.NaN : aw.addedP99 / opa.addedP99;
  };
  // Only where both ran (make bench-e2e --variants may leave either out).
  for (const rate of [...new Set(figures.map((f) => f.rate))].filter((r) => !Number.isNaN(ratioAt(r)))) lines.push(`bench: e2e_added_p99_vs_opa_envoy=${ratioAt(rate).toFixed(2)} rate=${rate}`);
  const added = (engine: Engine, rate: number): number => figures.find((f) => f.engine === engine && f.rate === rate)?.addedP99 ?? Number.NaN;
  for (const rate of [...new Set(figures.filter((f) => f.engine === 'floor-node').map((f) => f.rate))]) {
    // A floor that added nothing measurable (zero or negative: noise) gives no ratio, as for OPA-Envoy's target.
    const floor = added('floor-node', rate);
    lines.push(`bench: e2e_added_p99_vs_floor_node=${(floor > 0 ? added('agentwarden', rate) / floor : Number.NaN).toFixed(2)} rate=${rate}`);
    lines.push(`bench: e2e agentwarden added_p99_over_floor_node_ms=${ms(overFloorP99(runs, rate))} rate=${rate}`);
  }
  for (const [engine, added] of addedProbeMeans(probes)) lines.push(`bench: e2e closed_loop ${engine} added_mean_ms=${ms(added)}`);

  const aw = figures.find((f) => f.engine === 'agentwarden' && f.rate === TARGET_RATE);
  const opa = figures.find((f) => f.engine === 'opa-envoy' && f.rate === TARGET_RATE);
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  const notRun = `not measured (${[aw === undefined ? 'agentwarden' : '', opa === undefined ? 'opa-envoy' : ''].filter((e) => e !== '').join(' and ')} not run at ${TARGET_RATE} req/s)`;
  lines.push(`bench: e2e target agentwarden added_p99_ms<=${TARGET_ADDED_P99_MS} rate=${TARGET_RATE}: ${aw === undefined ? notRun : `${verdict(aw.addedP99 <= TARGET_ADDED_P99_MS)} (${ms(aw.addedP99)})`}`);
  // Compared as aw <= 0.6 x opa, so a negative or zero OPA-Envoy figure (noise) is a MISS, never a pass by a meaningless ratio.
  const ratioVerdict = aw === undefined || opa === undefined ? notRun
    : `${verdict(opa.addedP99 > 0 && aw.addedP99 <= TARGET_RATIO_VS_OPA * opa.addedP99)} (${ratioAt(TARGET_RATE).toFixed(2)})`;
  lines.push(`bench: e2e target e2e_added_p99_vs_opa_envoy<=${TARGET_RATIO_VS_OPA} rate=${TARGET_RATE}: ${ratioVerdict}`);
  // The floor: the least any out-of-process ext_authz server added in this run (a fixed allow, nothing decided).
  const floors = FLOORS.map((e) => [e, added(e, TARGET_RATE)] as const).filter(([, v]) => !Number.isNaN(v));
  if (floors.length > 0) {
    const floor = Math.min(...floors.map(([, v]) => v));
    // A floor at or below zero is the machine's noise, not a floor: no verdict from it.
    const verdictOnFloor = floor <= 0 ? 'not measurable in this run (a floor at or below zero is noise)'
      : `the ${TARGET_ADDED_P99_MS} ms target is ${floor > TARGET_ADDED_P99_MS ? 'below' : 'at or above'} the floor here`;
    lines.push(`bench: e2e floor added_p99_ms=${ms(floor)} rate=${TARGET_RATE} (${floors.map(([e, v]) => `${e} ${ms(v)}`).join(', ')}): ${verdictOnFloor}`);
  }
  return lines;
}
