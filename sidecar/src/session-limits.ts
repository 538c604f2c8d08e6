// The bounds of the sidecar's session store (issue 16), apart from state.ts so
// that the configuration reader can name the defaults without loading the
// policy core.

export interface SessionLimits {
  /** Sessions kept; the least recently used beyond it are dropped and counted. Default 10,000 (--max-sessions). */
  readonly maxSessions: number;
  /** Taints kept per session. Default 32 (--max-taints-per-session). */
  readonly maxTaintsPerSession: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = Object.freeze({ maxSessions: 10_000, maxTaintsPerSession: 32 });
