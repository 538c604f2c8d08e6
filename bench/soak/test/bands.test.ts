// make soak's bands (bands.ts): the drift of a figure from its first sample
// after warm-up, the rows the V8 heap band compares, and the drift over the rows
// the hypervisor did not slow.
import { describe, expect, it } from '@jest/globals';
import { DRIFT, QUIET_STEAL_PCT, drift, heapBand, quietDrift } from '../bands.js';

describe('drift', () => {
  it('measures every sample against the first and holds within DRIFT', () => {
    const d = drift([10, 10.5, 9.2, 10.9]);
    expect(d?.base).toBe(10);
    expect(d?.worst).toBeCloseTo(0.09);
    expect(d?.ok).toBe(true);
    expect([d?.min, d?.max]).toEqual([9.2, 10.9]);
  });

  it('misses when one sample strays further than DRIFT, either way', () => {
    expect(drift([10, 10 * (1 + DRIFT) + 0.01])?.ok).toBe(false);
    expect(drift([10, 10 * (1 - DRIFT) - 0.01])?.ok).toBe(false);
  });

  it('has nothing to say without a sample', () => {
    expect(drift([])).toBeUndefined();
  });
});

describe('heapBand', () => {
  const row = (heapAfterFullMiB: number | undefined, heapInUseMiB: number) => ({ heapAfterFullMiB, heapInUseMiB });

  it('compares what each full GC after warm-up left, one sample per row that had one', () => {
    // The warm-up's GC left 15.3 (not among these rows); rows without a GC of their own add nothing.
    const band = heapBand([row(undefined, 19), row(16.8, 17), row(undefined, 21), row(16.9, 17.2), row(undefined, 20)]);
    expect(band.samples).toEqual([16.8, 16.9]);
    expect(band.what).toBe('V8 heap after a full GC (the 2 rows with one)');
    expect(drift(band.samples)?.ok).toBe(true);
  });

  it('falls back to the heap in use at each row end with fewer than two full GCs after warm-up', () => {
    const band = heapBand([row(undefined, 19), row(16.8, 17), row(undefined, 21)]);
    expect(band.samples).toEqual([19, 17, 21]);
    expect(band.what).toBe('V8 heap in use (1 rows after warm-up with a full GC)');
  });

  it('lets a heap that grows between full GCs miss its band', () => {
    expect(drift(heapBand([row(16, 18), row(18, 20), row(20, 22)]).samples)?.ok).toBe(false);
  });
});

describe('quietDrift', () => {
  const row = (stealPct: number, p99: number) => ({ stealPct, p99 });

  it('compares only the rows with steal up to QUIET_STEAL_PCT, from the first of them', () => {
    const q = quietDrift([row(9.8, 4.2), row(0.4, 1.1), row(QUIET_STEAL_PCT, 1.2), row(6.4, 2.8), row(0, 1.0)], (r) => r.p99);
    expect(q.rows).toBe(3);
    expect(q.drift?.base).toBe(1.1);
    expect(q.drift?.max).toBe(1.2);
    expect(q.drift?.worst).toBeCloseTo(0.1 / 1.1);
  });

  it('has no drift when every row had steal', () => {
    expect(quietDrift([row(2, 1), row(3, 1)], (r) => r.p99)).toEqual({ rows: 0, drift: undefined });
  });
});
