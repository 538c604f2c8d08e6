// The sidecar's runtime figures on /metrics (telemetry/runtime-metrics.ts):
// what `make soak` samples. The event loop's delay is measured, and reset at
// each scrape.
import { describe, expect, it } from '@jest/globals';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { runtimeFamilies, startRuntimeMetrics } from '../src/telemetry/runtime-metrics.js';

const value = (name: string): number => runtimeFamilies().find((f) => f.name === name)?.samples[0]?.value ?? Number.NaN;

/** Holds the event loop for ms (busy: the delay is what is measured). */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

describe('runtime metrics', () => {
  it('report resident memory and the V8 heap in use', () => {
    const families = runtimeFamilies();
    const rss = families.find((f) => f.name === 'process_resident_memory_bytes')?.samples[0]?.value ?? 0;
    const heap = families.find((f) => f.name === 'nodejs_heap_size_used_bytes')?.samples[0]?.value ?? 0;
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(heap).toBeGreaterThan(1024 * 1024);
    expect(heap).toBeLessThan(rss);
  });

  it('report the event loop delay since the previous scrape', async () => {
    startRuntimeMetrics({ gc: false });
    await new Promise((r) => setTimeout(r, 100));
    runtimeFamilies();
    // Loop iterations held 100 ms each (the monitor times iterations, so one long block counts once).
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1));
      block(100);
    }
    await new Promise((r) => setTimeout(r, 60));
    expect(value('nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(0.08);
    // The scrape reset the histogram: a loop left alone since shows no such delay.
    await new Promise((r) => setTimeout(r, 100));
    expect(value('nodejs_eventloop_lag_max_seconds')).toBeLessThan(0.08);
  });

  it('report no collections unless asked (--gc-metrics)', async () => {
    startRuntimeMetrics({ gc: false });
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    await new Promise((r) => setTimeout(r, 50));
    const names = runtimeFamilies().map((f) => f.name);
    expect(names).toContain('nodejs_eventloop_lag_p99_seconds');
    expect(names.filter((n) => n.startsWith('nodejs_gc_') || n.endsWith('_after_major_gc_bytes'))).toEqual([]);
  });

  it('count full collections and report the heap in use just after the latest', async () => {
    startRuntimeMetrics({ gc: true });
    const before = runtimeFamilies().find((f) => f.name === 'nodejs_gc_runs_total')?.samples.find((x) => x.labels?.['kind'] === 'major')?.value ?? Number.NaN;
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    // The observer is told of the collection asynchronously.
    await new Promise((r) => setTimeout(r, 50));
    const families = runtimeFamilies();
    const after = families.find((f) => f.name === 'nodejs_gc_runs_total')?.samples.find((x) => x.labels?.['kind'] === 'major')?.value ?? Number.NaN;
    expect(after).toBeGreaterThan(before);
    const live = families.find((f) => f.name === 'nodejs_heap_size_used_after_major_gc_bytes')?.samples[0]?.value ?? Number.NaN;
    expect(live).toBeGreaterThan(1024 * 1024);
    expect(live).toBeLessThan(value('nodejs_heap_size_total_bytes'));
  });
});
