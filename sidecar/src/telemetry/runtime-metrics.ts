// The sidecar's own runtime on /metrics, named as prom-client names them for
// Node processes: resident memory, V8 heap in use, and the event loop's delay
// (p99 and max since the previous scrape, as prom-client resets its
// histogram at each scrape). `make soak` samples these every 30 s.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { MetricFamily } from '../../../common/prometheus.js';

/** The event loop's delay is sampled every RESOLUTION_MS (a timer of libuv's; it does not keep the process alive). */
const RESOLUTION_MS = 20;

let loop: ReturnType<typeof monitorEventLoopDelay> | undefined;

/** Starts measuring the event loop's delay (once per process). */
export function startRuntimeMetrics(): void {
  if (loop !== undefined) return;
  loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  loop.enable();
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
    // Nanoseconds; NaN-free: an empty histogram reports 0.
    const p99 = loop.count > 0 ? loop.percentile(99) / 1e9 : 0;
    const max = loop.count > 0 ? loop.max / 1e9 : 0;
    out.push(
      { name: 'nodejs_eventloop_lag_p99_seconds', type: 'gauge', help: 'Event loop delay, 99th percentile since the previous scrape, seconds.', samples: [{ value: p99 }] },
      { name: 'nodejs_eventloop_lag_max_seconds', type: 'gauge', help: 'Event loop delay, maximum since the previous scrape, seconds.', samples: [{ value: max }] },
    );
    loop.reset();
  }
  return out;
}
