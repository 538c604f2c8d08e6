// Rate limits per pod and rule (DESIGN.md semantics, point 9): a token bucket
// per rule of `requests` tokens refilled evenly over `per`. State lives in the
// sidecar's memory; time is passed in, so the buckets are deterministic in tests.

export interface RateLimiter {
  /**
   * Whether the rule keyed `rule` ("policy/rule") may allow one more request at
   * `nowMs`; with `consume` the request is counted. Would-be (Audit) decisions
   * look without consuming. Keys survive snapshot updates, so editing a policy
   * does not reset its counts.
   */
  admit(rule: string, requests: number, perMillis: number, nowMs: number, consume: boolean): boolean;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class TokenBuckets implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  admit(rule: string, requests: number, perMillis: number, nowMs: number, consume: boolean): boolean {
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

  /** Drops the buckets of rules no longer in force. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.buckets.keys()) if (!keys.has(key)) this.buckets.delete(key);
  }
}
