// The machine's CPU time and its steal from /proc/stat (bench/compare/proc.ts),
// which make soak and make bench-gc print beside their rows. Linux only.
import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { machineCpuTicks } from '../../compare/proc.js';

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
  });
});
