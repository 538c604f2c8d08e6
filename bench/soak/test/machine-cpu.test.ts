// The machine's CPU time and its steal from /proc/stat (bench/compare/proc.ts),
// which make soak, make bench-gc and make bench-e2e print beside their rows. Linux only.
import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { busyPercent, machineCpuTicks, stealPercent } from '../../compare/proc.js';

const onLinux = existsSync('/proc/stat') ? it : it.skip;

describe('machineCpuTicks', () => {
  onLinux('counts the ticks of every CPU, steal among them, and both only grow', () => {
    const before = machineCpuTicks();
    const until = performance.now() + 60;
    while (performance.now() < until) { /* busy: the clock ticks */ }
    const after = machineCpuTicks();
    expect(before.total).toBeGreaterThan(0);
    expect(before.steal).toBeGreaterThanOrEqual(0);
    expect(before.steal).toBeLessThanOrEqual(before.total);
    expect(after.total).toBeGreaterThan(before.total);
    expect(after.steal).toBeGreaterThanOrEqual(before.steal);
    expect(after.idle).toBeGreaterThanOrEqual(before.idle);
    expect(before.idle).toBeLessThanOrEqual(before.total);
  });

  it('splits the time between two readings into busy, idle and stolen', () => {
    const before = { total: 1000, steal: 10, idle: 400 };
    const after = { total: 1200, steal: 30, idle: 480 };
    // 200 ticks: 80 idle, 20 stolen, 100 busy.
    expect(busyPercent(before, after)).toBeCloseTo(50);
    expect(stealPercent(before, after)).toBeCloseTo(10);
    expect(busyPercent(before, before)).toBeNaN();
  });
});
