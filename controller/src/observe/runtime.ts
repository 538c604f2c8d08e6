// Where the controller's memory is and whether its event loop keeps up, on
// /metrics: the heap's total, the memory outside it (Buffers and other
// external memory, ArrayBuffers among them) and the event loop's delay. The
// delay's p99 and max cover the time since the previous scrape (the histogram
// is reset at each scrape, as prom-client's nodejs_eventloop_lag_* do), so a
// fan-out between two scrapes shows in the second.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { renderLines, single } from '../../../common/prometheus.js';

/** Sampling resolution of the event-loop delay histogram, ms. */
const RESOLUTION_MS = 10;

export class RuntimeMetrics {
  private readonly delay: ReturnType<typeof monitorEventLoopDelay>;

  constructor(private readonly memory: () => NodeJS.MemoryUsage = process.memoryUsage) {
    this.delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.delay.enable();
  }

  render(): string[] {
    const mem = this.memory();
    // The histogram's values are ns and include the sampling timer's own period.
    const seconds = (ns: number): number => (this.delay.count === 0 ? 0 : Math.max(0, ns - RESOLUTION_MS * 1e6) / 1e9);
    const lines = renderLines([
      single('nodejs_heap_total_bytes', 'gauge', 'V8 heap reserved (used and free).', mem.heapTotal),
      single('nodejs_external_memory_bytes', 'gauge', 'Memory of objects outside the V8 heap (Buffers, gRPC and HTTP/2 frames), ArrayBuffers included.', mem.external),
      single('nodejs_array_buffers_bytes', 'gauge', 'Memory of ArrayBuffers and SharedArrayBuffers, Buffers included.', mem.arrayBuffers),
      single('nodejs_eventloop_lag_p99_seconds', 'gauge', 'p99 of the event loop\'s delay since the previous scrape.', seconds(this.delay.percentile(99))),
      single('nodejs_eventloop_lag_max_seconds', 'gauge', 'Longest event loop delay since the previous scrape.', seconds(this.delay.max)),
    ]);
    this.delay.reset();
    return lines;
  }

  stop(): void {
    this.delay.disable();
  }
}
