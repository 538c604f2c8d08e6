// The token broker's settings (DESIGN.md "Brokered OAuth credentials"): bounds
// on each token request, refresh and retry timing, and whom the controller
// trusts as a token endpoint. Read from flags in config.ts; defaults here.

export interface OAuthOptions {
  /** PEM CA bundle trusted for token endpoints besides the system CAs (--oauth-ca-file); undefined: system CAs only. */
  readonly caFile: string | undefined;
  /** A token request (connect, TLS, answer) that takes longer is abandoned, ms. Default 10000 (--oauth-token-timeout). */
  readonly requestTimeoutMs: number;
  /** A token endpoint answer larger than this is abandoned, bytes. Default 65536 (--oauth-max-response-bytes). */
  readonly maxResponseBytes: number;
  /** Token requests in flight at once across all credentials (a burst after failover is spread). Default 4 (--oauth-max-concurrent-fetches). */
  readonly maxConcurrentFetches: number;
  /** Refresh at this share of a token's lifetime. Default 0.75. */
  readonly refreshAt: number;
  /** Up to this share of the lifetime earlier, at random, so that tokens fetched together do not refresh together. Default 0.1. */
  readonly refreshJitter: number;
  /** First retry after a failed fetch, ms; doubles per failure. Default 1000. */
  readonly retryBaseMs: number;
  /** Longest wait between retries, ms. Default 60000 (--oauth-retry-max). */
  readonly retryMaxMs: number;
}

export const DEFAULT_OAUTH_OPTIONS: OAuthOptions = Object.freeze({
  caFile: undefined,
  requestTimeoutMs: 10_000,
  maxResponseBytes: 65_536,
  maxConcurrentFetches: 4,
  refreshAt: 0.75,
  refreshJitter: 0.1,
  retryBaseMs: 1000,
  retryMaxMs: 60_000,
});
