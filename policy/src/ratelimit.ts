// Rate limits per pod and rule (DESIGN.md semantics, point 9): a token bucket
// per rule of `requests` tokens refilled evenly over `per`. State lives in the
// sidecar's memory; time is passed in, so the buckets are deterministic in tests.

export interface RateLimiter {
  /**
   * Whether rule `rule` may allow one more request at `nowMs`; with `consume`
   * the request is counted. Would-be (Audit) decisions look without consuming.
   */
  admit(rule: number, requests: number, perMillis: number, nowMs: number, consume: boolean): boolean;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class TokenBuckets implements RateLimiter {
  private readonly buckets = new Map<number, Bucket>();

  admit(rule: number, requests: number, perMillis: number, nowMs: number, consume: boolean): boolean {
    let bucket = this.buckets.get(rule);
    if (bucket === undefined) {
      bucket = { tokens: requests, updatedMs: nowMs };
      this.buckets.set(rule, bucket);
    }
    const elapsed = nowMs - bucket.updatedMs;
    if (elapsed > 0) {
      bucket.tokens = Math.min(requests, bucket.tokens + (elapsed * requests) / perMillis);
      bucket.updatedMs = nowMs;
    }
    if (bucket.tokens < 1) return false;
    if (consume) bucket.tokens -= 1;
    return true;
  }

  /** Forget all counts (a new snapshot renumbers rules). */
  reset(): void {
    this.buckets.clear();
  }
}
