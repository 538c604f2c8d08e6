// make soak's bands (bands.ts): the drift of a figure from its first sample
// after warm-up, and the rows the V8 heap band compares.
import { describe, expect, it } from '@jest/globals';
import { DRIFT, drift, heapBand } from '../bands.js';

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
