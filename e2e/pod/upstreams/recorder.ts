// A bounded record of what a test server received: the newest MAX_RECEIVED entries, a count
// of the older ones dropped, a listener per entry (the CLIs print it as one JSON line) and a
// bounded wait for an entry, so that a test never sleeps to find out what arrived.

export const MAX_RECEIVED = 1000;

export class Recorder<T> {
  readonly #entries: T[] = [];
  readonly #waiters = new Set<{ match: (entry: T) => boolean; resolve: (entry: T) => void }>();
  #dropped = 0;

  constructor(private readonly onEntry?: (entry: T) => void) {}

  /** What arrived, oldest first: at most MAX_RECEIVED entries, the newest. */
  get received(): readonly T[] {
    return this.#entries;
  }

  /** How many entries were dropped from the front because the record was full. */
  get dropped(): number {
    return this.#dropped;
  }

  add(entry: T): void {
    this.#entries.push(entry);
    if (this.#entries.length > MAX_RECEIVED) {
      this.#entries.shift();
      this.#dropped++;
    }
    this.onEntry?.(entry);
    for (const waiter of this.#waiters) {
      if (waiter.match(entry)) {
        this.#waiters.delete(waiter);
        waiter.resolve(entry);
      }
    }
  }

  clear(): void {
    this.#entries.length = 0;
  }

  /** The first entry, already recorded or still to come, that matches; rejects after timeoutMs. */
  waitFor(match: (entry: T) => boolean, timeoutMs: number): Promise<T> {
    const found = this.#entries.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        match,
        resolve: (entry: T): void => {
          clearTimeout(timer);
          resolve(entry);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`recorder: no matching entry within ${timeoutMs} ms (${this.#entries.length} recorded)`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}
