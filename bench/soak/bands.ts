// make soak's bands: does a figure stay within DRIFT of its first sample after
// warm-up, and which rows the V8 heap band compares. Pure; main.ts prints.

/** Within this fraction of the first sample after warm-up. */
export const DRIFT = 0.10;

export interface Drift {
  readonly ok: boolean;
  /** The first of the compared samples. */
  readonly base: number;
  /** The largest |sample - base| / base. */
  readonly worst: number;
  readonly min: number;
  readonly max: number;
}

/** How far the samples stray from the first of them; undefined with no sample. */
export function drift(samples: readonly number[]): Drift | undefined {
  const base = samples[0];
  if (base === undefined) return undefined;
  const worst = samples.reduce((w, v) => Math.max(w, Math.abs(v - base) / base), 0);
  return { ok: worst <= DRIFT, base, worst, min: Math.min(...samples), max: Math.max(...samples) };
}

export interface HeapRow {
  /** V8 heap in use just after this row's last full GC; undefined: no full GC in the row. */
  readonly heapAfterFullMiB: number | undefined;
  /** V8 heap in use at the end of the row. */
  readonly heapInUseMiB: number;
}

export interface HeapBand {
  /** What the samples are, for the target line. */
  readonly what: string;
  readonly samples: readonly number[];
}

/**
 * The V8 heap samples to compare, from the rows after warm-up. The heap in use
 * swings with the garbage between full GCs; what survives them is what would
 * grow. So: the heap each full GC under the measured load left, one sample per
 * row that had one. A row without a full GC has no new figure of its own: the
 * figure of an earlier GC, the warm-up's above all, is not a sample of it.
 * With fewer than two such rows, the heap in use at each row's end.
 */
export function heapBand(measured: readonly HeapRow[]): HeapBand {
  const afterFull = measured.flatMap((r) => (r.heapAfterFullMiB === undefined ? [] : [r.heapAfterFullMiB]));
  if (afterFull.length >= 2) return { what: `V8 heap after a full GC (the ${afterFull.length} rows with one)`, samples: afterFull };
  return { what: `V8 heap in use (${afterFull.length} rows after warm-up with a full GC)`, samples: measured.map((r) => r.heapInUseMiB) };
}

/** A row's steal at most this (percent of the machine's CPU time) counts as quiet. */
export const QUIET_STEAL_PCT = 1;

export interface QuietRow {
  /** % of the machine's CPU time the hypervisor gave to other guests during the row. */
  readonly stealPct: number;
}

/**
 * The drift of a figure over the quiet rows only: those during which the
 * hypervisor took at most QUIET_STEAL_PCT of the machine's CPU. Not a target
 * (the band is over every row): it tells a row the host slowed from a
 * drift of the process's own.
 */
export function quietDrift<R extends QuietRow>(rows: readonly R[], pick: (r: R) => number): { rows: number; drift: Drift | undefined } {
  const quiet = rows.filter((r) => r.stealPct <= QUIET_STEAL_PCT);
  return { rows: quiet.length, drift: drift(quiet.map(pick)) };
}
