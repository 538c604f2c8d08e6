// Capped, jittered exponential backoff (grpc-js backoff-timeout style): each
// failure doubles the delay up to `maxMs`; the delay is randomised by ±`jitter`.

export interface BackoffOptions {
  /** First delay, ms. */
  readonly initialMs: number;
  /** Cap, ms. */
  readonly maxMs: number;
  /** Fraction of the delay added or removed at random, 0..1. Default 0.2. */
  readonly jitter?: number;
}

export class Backoff {
  private next: number;

  constructor(private readonly options: BackoffOptions, private readonly random: () => number = Math.random) {
    this.next = options.initialMs;
  }

  /** The delay before the next attempt; grows for the one after. */
  delay(): number {
    const base = this.next;
    this.next = Math.min(this.options.maxMs, base * 2);
    const jitter = this.options.jitter ?? 0.2;
    return Math.max(0, Math.round(base * (1 + jitter * (2 * this.random() - 1))));
  }

  reset(): void {
    this.next = this.options.initialMs;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
