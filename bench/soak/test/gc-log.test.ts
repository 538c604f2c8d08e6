// make soak's reading of V8's --trace-gc lines (gc-log.ts), on lines V8 printed
// for the sidecar, and on V8 itself: a process started with --trace-gc.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LogTail, tallyGc, withTraceGc } from '../gc-log.js';

const LINES = [
  '[21783:0x38c22000]    44357 ms: Scavenge 25.6 (33.3) -> 24.0 (33.3) MB, pooled: 0 MB, 0.45 / 0.00 ms  (average mu = 0.998, current mu = 0.998) task; ',
  '{"time":"2026-12-06T08:21:18.360Z","level":"info","msg":"policy snapshot loaded"}',
  '[21783:0x38c22000]    27736 ms: Mark-Compact 28.6 (33.3) -> 20.3 (33.0) MB, pooled: 0 MB, 6.54 / 0.01 ms  (+ 15.2 ms in 58 steps since start of marking, biggest step 10.9 ms, walltime since start of marking 43 ms) (average mu = 0.998, current mu = 0.998) finalize incremental marking via task; GC in old space requested',
  '[21783:0x38c22000]    44421 ms: Scavenge 25.7 (33.3) -> 24.1 (33.3) MB, pooled: 0 MB, 1.44 / 0.00 ms  (average mu = 0.998, current mu = 0.998) task; ',
  '[marking dependent code 0x25853aeb42b9 <Code TURBOFAN_JS> (0x1cdf9fd34621 <SharedFunctionInfo evaluate>) (opt id 358) for deoptimization, reason: embedded weak objects cleared]',
  '[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x11525668fef1 <JSFunction get (sfi = 0x560ccb84239)>, 0x1b5dabd37aa9 <Code TURBOFAN_JS>, opt id 669, bytecode offset 0, deopt exit 1, FP to SP delta 32',
  '[marking dependent code 0x3e41f39fc359 <Code TURBOFAN_JS> (0x23e8ce0aa1a9 <SharedFunctionInfo socketOnData>) (opt id 607) for deoptimization, reason: embedded weak objects cleared]',
  '[21783:0x38c22000]    51085 ms: Mark-Compact 19.6 (23.8) -> 17.5 (23.8) MB, pooled: 0 MB, 8.03 / 0.01 ms  (+ 9.0 ms in 5 steps since start of marking, biggest step 8.2 ms, walltime since start of marking 33 ms) (average mu = 0.974, current mu = 0.972) finalize incremental marking via task; GC in old space requested',
];

describe('tallyGc', () => {
  it('counts scavenges and full collections, the longest pause (a marking step included), the heap after the latest full one and the functions marked for deoptimization', () => {
    expect(tallyGc(LINES.join('\n'))).toEqual({ scavenges: 2, fullCollections: 2, longestPauseMs: 10.9, heapAfterFullMiB: 17.5, scavengePausesMs: [0.45, 1.44], deoptimized: 2 });
  });

  it('reports no collection for lines without any', () => {
    expect(tallyGc(`${LINES[1]}\n`)).toEqual({ scavenges: 0, fullCollections: 0, longestPauseMs: 0, heapAfterFullMiB: undefined, scavengePausesMs: [], deoptimized: 0 });
  });

  it('reads the lines this V8 prints', () => {
    const out = execFileSync(process.execPath, ['--trace-gc', '--expose-gc', '-e', 'gc(); gc(); let a = []; for (let i = 0; i < 3e5; i++) a.push({ i }); a = null;'], { encoding: 'utf8' });
    const t = tallyGc(out);
    expect(t.fullCollections).toBeGreaterThanOrEqual(2);
    expect(t.scavenges).toBeGreaterThanOrEqual(1);
    expect(t.heapAfterFullMiB).toBeGreaterThan(0);
    expect(t.longestPauseMs).toBeGreaterThan(0);
  });
});

describe('LogTail', () => {
  it('hands over whole lines only, each once', () => {
    let log = '';
    const tail = new LogTail((from) => Buffer.from(log).subarray(from));
    log += 'one\ntw';
    expect(tail.next()).toBe('one\n');
    expect(tail.next()).toBe('');
    log += 'o\nthree\n';
    expect(tail.next()).toBe('two\nthree\n');
  });
});

describe('withTraceGc', () => {
  it('imports trace-gc.js first and keeps the options the caller had', () => {
    const options = withTraceGc('--max-old-space-size=128');
    const [first = '', rest] = [options.split(' ')[0], options.split(' ').slice(1).join(' ')];
    expect(first.startsWith('--import=file://')).toBe(true);
    expect(existsSync(fileURLToPath(first.slice('--import='.length)))).toBe(true);
    expect(rest).toBe('--max-old-space-size=128');
    expect(withTraceGc(undefined)).toBe(first);
  });
});
