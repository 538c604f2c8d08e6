// Push discipline: a bounded number of snapshot pushes in flight, the rest
// queued in order, and the event loop yielded to between slices. One edit that
// touches every pod must not serialise 10,000 copies of a snapshot into the
// HTTP/2 streams in one turn of the event loop (grpc-js copies each message into
// a frame buffer of its own), nor starve ACKs, health checks and /metrics while
// it does.
//
// A push is "in flight" from its start until its stream has taken the message
// (the write callback), it is forgotten (its stream closed), or slotTimeoutMs
// passed (a sidecar that does not read holds its own HTTP/2 window, not a
// slot). Each key (one stream) is queued at most once: a push queued again
// before it started keeps its place and runs with the newest state (the job
// reads the snapshot when it starts), and `force` requests merge.
import { renderLines, single } from '../../../common/prometheus.js';

export interface PushQueueOptions {
  /** Pushes in flight at once. */
  readonly maxConcurrent: number;
  /** Pushes started in one turn of the event loop before yielding (setImmediate). Default 64. */
  readonly sliceSize?: number;
  /** A push not done after this long frees its slot anyway, ms. Default 10000. */
  readonly slotTimeoutMs?: number;
}

/** --max-concurrent-pushes' default: Istio's PILOT_PUSH_THROTTLE is 100 too. */
export const DEFAULT_MAX_CONCURRENT_PUSHES = 100;
export const DEFAULT_PUSH_OPTIONS: PushQueueOptions = { maxConcurrent: DEFAULT_MAX_CONCURRENT_PUSHES };

/**
 * Starts one push. Calls `done` once the stream has taken the message; returns
 * false when nothing was sent (nothing to push, or the stream was ended), which
 * frees the slot at once.
 */
export type PushJob = (force: boolean, done: () => void) => boolean;

interface Queued {
  force: boolean;
  readonly job: PushJob;
  readonly queuedAtMs: number;
}

export interface PushQueueStats {
  readonly queued: number;
  readonly inFlight: number;
  /** Pushes started (sent or found to have nothing to send). */
  readonly started: number;
  /** Requests merged into a push already queued for the same stream. */
  readonly merged: number;
  /** In-flight pushes whose slot was freed by slotTimeoutMs. */
  readonly timedOut: number;
  /** Longest time a push started now waited in the queue, ms (since the last stats()). */
  readonly maxWaitMs: number;
}

export class PushQueue<K> {
  private readonly queue = new Map<K, Queued>();
  private readonly inFlight = new Map<K, NodeJS.Timeout>();
  private readonly sliceSize: number;
  private readonly slotTimeoutMs: number;
  private scheduled: NodeJS.Immediate | undefined;
  private started = 0;
  private merged = 0;
  private timedOut = 0;
  private maxWaitMs = 0;

  /** @param onError a job threw: its slot is freed and the queue goes on. */
  constructor(private readonly options: PushQueueOptions, private readonly now: () => number = Date.now, private readonly onError: (error: unknown) => void = () => undefined) {
    if (!Number.isSafeInteger(options.maxConcurrent) || options.maxConcurrent <= 0) throw new RangeError(`push queue: maxConcurrent must be a whole number above 0, not ${options.maxConcurrent}`);
    this.sliceSize = options.sliceSize ?? 64;
    this.slotTimeoutMs = options.slotTimeoutMs ?? 10_000;
  }

  /** Queues a push for `key` (or merges into the one queued); it starts when a slot is free, in order. */
  enqueue(key: K, force: boolean, job: PushJob): void {
    const queued = this.queue.get(key);
    if (queued !== undefined) {
      queued.force ||= force;
      this.merged++;
      return;
    }
    this.queue.set(key, { force, job, queuedAtMs: this.now() });
    this.schedule();
  }

  /** The stream closed: its queued push is dropped and its slot freed. */
  forget(key: K): void {
    this.queue.delete(key);
    this.release(key);
  }

  /** Drops everything queued (on shutdown); pushes in flight finish on their own. */
  clear(): void {
    this.queue.clear();
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    for (const timer of this.inFlight.values()) clearTimeout(timer);
    this.inFlight.clear();
  }

  stats(): PushQueueStats {
    const s = { queued: this.queue.size, inFlight: this.inFlight.size, started: this.started, merged: this.merged, timedOut: this.timedOut, maxWaitMs: this.maxWaitMs };
    this.maxWaitMs = 0;
    return s;
  }

  private schedule(): void {
    if (this.scheduled !== undefined || this.queue.size === 0 || this.inFlight.size >= this.options.maxConcurrent) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      this.drain();
    });
  }

  /** Starts up to one slice of queued pushes, then yields. */
  private drain(): void {
    let startedNow = 0;
    for (const [key, queued] of this.queue) {
      if (startedNow >= this.sliceSize || this.inFlight.size >= this.options.maxConcurrent) break;
      // A push of a stream still in flight waits for that one (one message at a time per stream).
      if (this.inFlight.has(key)) continue;
      this.queue.delete(key);
      startedNow++;
      this.started++;
      this.maxWaitMs = Math.max(this.maxWaitMs, this.now() - queued.queuedAtMs);
      const timer = setTimeout(() => {
        if (this.inFlight.get(key) !== timer) return;
        this.timedOut++;
        this.release(key);
      }, this.slotTimeoutMs);
      timer.unref();
      this.inFlight.set(key, timer);
      let sent: boolean;
      try {
        sent = queued.job(queued.force, () => { if (this.inFlight.get(key) === timer) this.release(key); });
      } catch (e: unknown) {
        this.onError(e);
        sent = false;
      }
      if (!sent && this.inFlight.get(key) === timer) this.release(key);
    }
    this.schedule();
  }

  private release(key: K): void {
    const timer = this.inFlight.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.inFlight.delete(key);
    this.schedule();
  }
}

/** The push queue on /metrics. */
export class PushQueueMetrics {
  constructor(private readonly queue: { stats(): PushQueueStats }, private readonly maxConcurrent: number) {}

  render(): string[] {
    const s = this.queue.stats();
    return renderLines([
      single('agentwarden_snapshot_pushes_queued', 'gauge', 'Snapshot pushes waiting for a slot (--max-concurrent-pushes).', s.queued),
      single('agentwarden_snapshot_pushes_in_flight', 'gauge', 'Snapshot pushes written and not yet taken by their stream.', s.inFlight),
      single('agentwarden_snapshot_push_slots', 'gauge', 'Snapshot pushes allowed in flight at once (--max-concurrent-pushes).', this.maxConcurrent),
      single('agentwarden_snapshot_push_starts_total', 'counter', 'Queued pushes started (a push whose stream already has the version sends nothing).', s.started),
      single('agentwarden_snapshot_pushes_merged_total', 'counter', 'Push requests merged into one already queued for the same stream (it sends the newest snapshot).', s.merged),
      single('agentwarden_snapshot_push_slot_timeouts_total', 'counter', 'Pushes whose stream had not taken the message after 10 s: their slot was freed (a sidecar that does not read).', s.timedOut),
      single('agentwarden_snapshot_push_queue_wait_max_seconds', 'gauge', 'Longest wait in the push queue of a push started since the previous scrape.', s.maxWaitMs / 1000),
    ]);
  }
}
