// V8's --trace-gc lines, as the sidecar prints them under make soak
// (trace-gc.ts), tallied per row: scavenges, full collections (Mark-Compact),
// the longest time the event loop stood still for one (the collection's pause,
// or for a full collection the biggest incremental marking step if longer),
// the heap in use just after the latest full collection, and (--trace-deopt)
// the optimized functions V8 marked for deoptimization.
//   [31779:0x3b3e1000]  202 ms: Scavenge 5.3 (6.5) -> 4.7 (7.5) MB, pooled: 0 MB, 9.01 / 0.00 ms  (average mu = ...
//   [31779:0x3b3e1000]  27736 ms: Mark-Compact 28.6 (33.3) -> 20.3 (33.0) MB, pooled: 0 MB, 6.54 / 0.01 ms  (+ 15.2 ms in 58 steps since start of marking, biggest step 10.9 ms, ...

/**
 * NODE_OPTIONS for a sidecar that prints its collections: trace-gc.ts
 * imported first, then what the caller already had.
 */
export function withTraceGc(nodeOptions: string | undefined): string {
  return `--import=${new URL('trace-gc.js', import.meta.url).href} ${nodeOptions ?? ''}`.trim();
}

export interface GcTally {
  readonly scavenges: number;
  readonly fullCollections: number;
  /** ms; 0 when there was no collection. */
  readonly longestPauseMs: number;
  /** MiB (V8 prints MB of 2^20 bytes) in use after the latest full collection in these lines; undefined when there was none. */
  readonly heapAfterFullMiB: number | undefined;
  /** Every scavenge's pause, ms, in order. */
  readonly scavengePausesMs: readonly number[];
  /**
   * Optimized functions V8 marked for deoptimization (--trace-deopt's "marking
   * dependent code" lines): code that relied on something the heap no longer
   * holds, e.g. a map a collection let die. The next calls run unoptimized.
   */
  readonly deoptimized: number;
}

const MARKED_FOR_DEOPT = /^\[marking dependent code .* for deoptimization/;
const LINE = /: (Scavenge|Minor Mark-Sweep|Mark-Compact|Mark-Compact \(reduce\)) [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms(?:.*?biggest step ([\d.]+) ms)?/;

export function tallyGc(text: string): GcTally {
  let scavenges = 0;
  let fullCollections = 0;
  let longestPauseMs = 0;
  let heapAfterFullMiB: number | undefined;
  const scavengePausesMs: number[] = [];
  let deoptimized = 0;
  for (const line of text.split('\n')) {
    if (MARKED_FOR_DEOPT.test(line)) {
      deoptimized++;
      continue;
    }
    const m = LINE.exec(line);
    if (m === null) continue;
    const [, kind = '', after = '', pause = '', step] = m;
    longestPauseMs = Math.max(longestPauseMs, Number(pause), step === undefined ? 0 : Number(step));
    if (kind.startsWith('Mark-Compact')) {
      fullCollections++;
      heapAfterFullMiB = Number(after);
    } else {
      scavenges++;
      scavengePausesMs.push(Number(pause));
    }
  }
  return { scavenges, fullCollections, longestPauseMs, heapAfterFullMiB, scavengePausesMs, deoptimized };
}

/** Reads what a growing log gained since the last call, whole lines only. */
export class LogTail {
  private offset = 0;

  constructor(private readonly read: (from: number) => Buffer) {}

  next(): string {
    const chunk = this.read(this.offset);
    const end = chunk.lastIndexOf(0x0a) + 1;
    this.offset += end;
    return chunk.subarray(0, end).toString('utf8');
  }
}
