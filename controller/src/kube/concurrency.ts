// At most `limit` calls of an async function at once; the others wait in
// order. The controller's TokenReviews go through one: when every sidecar
// reconnects at once (a controller restart, a replica lost), the API server
// sees a bounded number of reviews in flight instead of thousands, and the
// controller does not hold thousands of half-done requests (which outlive
// young-generation collections and fill the old generation with garbage:
// make bench-controller-memory).
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Calls that had to wait for a slot (for metrics). */
  queuedTotal = 0;

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError(`concurrency limit must be a whole number above 0, not ${limit}`);
  }

  /** Waiting now. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      this.queuedTotal++;
      await new Promise<void>((resolve) => { this.waiting.push(resolve); });
    } else {
      this.active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next caller; `active` only drops when nobody waits.
      if (next === undefined) this.active--;
      else next();
    }
  }
}
