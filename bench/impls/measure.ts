// Timing of the in-process pairs: both sides in alternated rounds (ABBA), each
// side's own garbage collected before it is timed, main-thread CPU time per operation,
// medians and ranges of the per-round figures and of the per-round ratios.
import type { Pair, Side } from './pairs.js';

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface PairResult {
  readonly pair: Pair;
  /** CPU µs per operation. */
  readonly ours: Spread;
  readonly library: Spread;
  /** library / ours, per round. */
  readonly ratio: Spread;
}

export interface MicroPlan {
  readonly rounds: number;
  /** CPU time per side and round, roughly: long against the kernel's tick (4 ms). */
  readonly msPerSide: number;
}

export function spread(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN };
}

/** node --expose-gc: collect before each timed run, so that a side pays for its own garbage only. */
const collect: () => void = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);

let sink = 0;

/**
 * Microseconds the main thread has spent on a CPU (user + system). Not wall
 * time: on the shared 2-core machine the time other processes take is most of
 * its spread. Not process.cpuUsage() either: it adds V8's GC helper threads,
 * whose time grows with the machine's load far more than the code measured
 * does. GC work on helper threads is left out, which understates the side that
 * allocates more (the library's): the ratios err on the low side. The kernel
 * accounts this time per scheduler tick, so each timed run is long (see
 * MicroPlan.msPerSide).
 */
function cpuUs(): number {
  const u = process.threadCpuUsage();
  return u.user + u.system;
}

/** Runs `side` `reps` times; main-thread CPU µs per operation. */
function time(side: Side, reps: number, ops: number): number {
  collect();
  const t0 = cpuUs();
  for (let i = 0; i < reps; i++) sink += side.run();
  return (cpuUs() - t0) / (reps * ops);
}

/** Repetitions of run() that take about `ms` of CPU (after warming the side up for as long). */
function calibrate(side: Side, ms: number): number {
  let reps = 1;
  for (;;) {
    const t0 = cpuUs();
    for (let i = 0; i < reps; i++) sink += side.run();
    const took = (cpuUs() - t0) / 1000;
    if (took >= ms) return Math.max(1, Math.round((reps * ms) / took));
    reps = took < ms / 8 ? reps * 8 : Math.ceil((reps * ms * 1.1) / Math.max(took, 0.001));
  }
}

export function measureSides(sides: readonly Side[], ops: number, plan: MicroPlan): Spread[] {
  const reps = sides.map((s) => calibrate(s, plan.msPerSide));
  const perRound: number[][] = sides.map(() => []);
  for (let round = 0; round < plan.rounds; round++) {
    const order = sides.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) perRound[i]?.push(time(sides[i]!, reps[i]!, ops));
  }
  return perRound.map(spread);
}

export function measurePair(pair: Pair, plan: MicroPlan): PairResult {
  const reps = [calibrate(pair.ours, plan.msPerSide), calibrate(pair.library, plan.msPerSide)] as const;
  const ours: number[] = [];
  const library: number[] = [];
  for (let round = 0; round < plan.rounds; round++) {
    if (round % 2 === 0) {
      ours.push(time(pair.ours, reps[0], pair.ops));
      library.push(time(pair.library, reps[1], pair.ops));
    } else {
      library.push(time(pair.library, reps[1], pair.ops));
      ours.push(time(pair.ours, reps[0], pair.ops));
    }
  }
  return { pair, ours: spread(ours), library: spread(library), ratio: spread(ours.map((o, i) => (library[i] ?? Number.NaN) / o)) };
}

/** Keeps the results of every run observable, so that no run is optimised away. */
export function observed(): number {
  return sink;
}
