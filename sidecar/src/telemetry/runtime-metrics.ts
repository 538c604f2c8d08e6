// The sidecar's own runtime on /metrics, named as prom-client names them for
// Node processes: resident memory, V8 heap in use, and the event loop's delay
// (p99 and max since the previous scrape, as prom-client resets its
// histogram at each scrape; here without the sampling interval), and, with
// --gc-metrics, V8's collections by kind. `make soak` samples these every 30 s.
//
// Why the collections are off by default: Node reports each collection to a
// PerformanceObserver as an entry object whose deprecated getters it makes
// anew every time (node:internal/perf/observe, deprecate + setPrototypeOf),
// and those objects end up in V8's old generation. At 3,000 req/s, about 16
// scavenges a second, that garbage alone brought a full mark-compact (5-20 ms
// with the loop stopped) every few seconds; without the observer the same
// load promoted about a tenth as much and ran none in 30 s (allocation
// sampling of what full collections reclaimed, and --trace-gc).
import type { MetricFamily } from '../../../common/prometheus.js';
const { constants, monitorEventLoopDelay, PerformanceObserver } = process.getBuiltinModule('node:perf_hooks');

/**
 * The event loop's delay is sampled by a timer every RESOLUTION_MS (it does not
 * keep the process alive). Node's histogram records the whole interval between
 * two samples, the resolution included; the metrics subtract it, so an idle
 * loop reports about 0.
 */
const RESOLUTION_MS = 10;
const RESOLUTION_NS = RESOLUTION_MS * 1e6;

let loop: ReturnType<typeof monitorEventLoopDelay> | undefined;

/** V8's collections since start, by kind: minor (scavenges of the young generation), major (full mark-compact), incremental, weakcb. */
const GC_KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
const gcRuns = new Map<string, number>();
const gcSeconds = new Map<string, number>();
/** V8 heap in use just after the latest full collection: what survives, without the garbage between collections (NaN before the first). */
let heapAfterMajor = Number.NaN;

export interface RuntimeMetricsOptions {
  /** Count V8's collections (a PerformanceObserver of every collection: see the top of this file). */
  readonly gc: boolean;
}

/** Starts measuring the event loop's delay and, when asked, counting V8's collections (each once per process). */
export function startRuntimeMetrics(options: RuntimeMetricsOptions): void {
  if (loop === undefined) {
    loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    loop.enable();
  }
  if (options.gc && gcRuns.size === 0) observeCollections();
}

function observeCollections(): void {
  for (const kind of Object.values(GC_KINDS)) {
    gcRuns.set(kind, 0);
    gcSeconds.set(kind, 0);
  }
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail: unknown = Reflect.get(entry, 'detail');
      const kind = GC_KINDS[typeof detail === 'object' && detail !== null && 'kind' in detail && typeof detail.kind === 'number' ? detail.kind : -1] ?? 'other';
      gcRuns.set(kind, (gcRuns.get(kind) ?? 0) + 1);
      // The observer runs soon after the collection, before much is allocated again.
      if (kind === 'major') heapAfterMajor = process.memoryUsage().heapUsed;
      gcSeconds.set(kind, (gcSeconds.get(kind) ?? 0) + entry.duration / 1000);
    }
  }).observe({ entryTypes: ['gc'] });
}

export function runtimeFamilies(): MetricFamily[] {
  const memory = process.memoryUsage();
  const out: MetricFamily[] = [
    { name: 'process_resident_memory_bytes', type: 'gauge', help: 'Resident memory size in bytes.', samples: [{ value: memory.rss }] },
    { name: 'nodejs_heap_size_used_bytes', type: 'gauge', help: 'V8 heap in use, bytes.', samples: [{ value: memory.heapUsed }] },
    { name: 'nodejs_heap_size_total_bytes', type: 'gauge', help: 'V8 heap reserved, bytes.', samples: [{ value: memory.heapTotal }] },
    { name: 'nodejs_external_memory_bytes', type: 'gauge', help: 'Memory V8 accounts outside its heap (buffers), bytes.', samples: [{ value: memory.external }] },
  ];
  if (loop !== undefined) {
    // Nanoseconds, the resolution included; an empty histogram reports 0.
    const p99 = loop.count > 0 ? Math.max(0, loop.percentile(99) - RESOLUTION_NS) / 1e9 : 0;
    const max = loop.count > 0 ? Math.max(0, loop.max - RESOLUTION_NS) / 1e9 : 0;
    out.push(
      { name: 'nodejs_eventloop_lag_p99_seconds', type: 'gauge', help: 'Event loop delay, 99th percentile since the previous scrape, seconds.', samples: [{ value: p99 }] },
      { name: 'nodejs_eventloop_lag_max_seconds', type: 'gauge', help: 'Event loop delay, maximum since the previous scrape, seconds.', samples: [{ value: max }] },
    );
    loop.reset();
    if (Number.isFinite(heapAfterMajor)) out.push({ name: 'nodejs_heap_size_used_after_major_gc_bytes', type: 'gauge', help: 'V8 heap in use just after the latest full collection, bytes.', samples: [{ value: heapAfterMajor }] });
    if (gcRuns.size > 0) out.push(
      { name: 'nodejs_gc_runs_total', type: 'counter', help: 'V8 garbage collections since start, by kind (minor: young generation; major: full mark-compact).', samples: [...gcRuns].map(([kind, value]) => ({ labels: { kind }, value })) },
      { name: 'nodejs_gc_duration_seconds_total', type: 'counter', help: 'Time in V8 garbage collections since start, by kind, seconds.', samples: [...gcSeconds].map(([kind, value]) => ({ labels: { kind }, value })) },
    );
  }
  return out;
}
