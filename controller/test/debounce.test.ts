// Debouncer: a burst of changes becomes one reconcile, after a quiet period,
// and a change storm still reconciles at least every maxMs. Modern fake
// timers drive plain setTimeout reliably; no promise is involved here.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Debouncer } from '../src/reconcile/debounce.js';

const QUIET = 100;
const MAX = 1000;

describe('Debouncer', () => {
  let runs: number[];
  let start: number;
  let debouncer: Debouncer;

  beforeEach(() => {
    jest.useFakeTimers();
    start = Date.now();
    runs = [];
    debouncer = new Debouncer(QUIET, MAX, () => { runs.push(Date.now() - start); });
  });

  afterEach(() => {
    debouncer.cancel();
    jest.useRealTimers();
  });

  it('runs once, quietMs after the last trigger of a burst', () => {
    debouncer.trigger();
    jest.advanceTimersByTime(50);
    debouncer.trigger();
    jest.advanceTimersByTime(50);
    debouncer.trigger();
    jest.advanceTimersByTime(QUIET - 1);
    expect(runs).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(runs).toEqual([200]);
    jest.advanceTimersByTime(5 * MAX);
    expect(runs).toEqual([200]);
  });

  it('runs at the latest maxMs after the first trigger while triggers keep coming', () => {
    for (let t = 0; t < 2500; t += 50) {
      debouncer.trigger();
      jest.advanceTimersByTime(50);
    }
    expect(runs).toEqual([MAX, 2 * MAX]);
  });

  it('starts a new burst after a run: the maximum delay counts from the next trigger', () => {
    debouncer.trigger();
    jest.advanceTimersByTime(QUIET);
    expect(runs).toEqual([QUIET]);
    jest.advanceTimersByTime(500);
    debouncer.trigger();
    jest.advanceTimersByTime(QUIET);
    expect(runs).toEqual([QUIET, 2 * QUIET + 500]);
  });

  it('flush() runs a pending burst now, once, and does nothing when none is pending', () => {
    debouncer.flush();
    expect(runs).toEqual([]);
    debouncer.trigger();
    jest.advanceTimersByTime(10);
    debouncer.flush();
    expect(runs).toEqual([10]);
    jest.advanceTimersByTime(5 * MAX);
    expect(runs).toEqual([10]);
  });

  it('cancel() drops a pending run', () => {
    debouncer.trigger();
    debouncer.cancel();
    jest.advanceTimersByTime(5 * MAX);
    expect(runs).toEqual([]);
  });

  it('schedules a trigger made while it runs as a new burst', () => {
    let reentered = false;
    const inner = new Debouncer(QUIET, MAX, () => {
      runs.push(Date.now() - start);
      if (!reentered) {
        reentered = true;
        inner.trigger();
      }
    });
    inner.trigger();
    jest.advanceTimersByTime(5 * MAX);
    expect(runs).toEqual([QUIET, 2 * QUIET]);
  });
});
