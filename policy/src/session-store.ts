// STUB for the sidecar's work on issue 16 (wt-s16): the SessionStore API of
// /work/contract-16.md, so the sidecar compiles before the policy core's
// implementation (wt-p16) is merged; that merge replaces this file.

export interface TaintOrigin { readonly traceId: string; readonly spanId: string }
export interface TaintEntry { readonly label: string; readonly expiresAtMs: number; readonly origin?: TaintOrigin }
export interface SessionStoreOptions { readonly maxSessions?: number; readonly maxTaintsPerSession?: number }
export interface SessionStats { readonly sessions: number; readonly taints: number; readonly evicted: number }

export const DEFAULT_MAX_SESSIONS = 10_000;
export const DEFAULT_MAX_TAINTS_PER_SESSION = 32;

export class SessionStore {
  private readonly sessions = new Map<string, TaintEntry[]>();
  private evicted = 0;
  readonly maxSessions: number;
  readonly maxTaintsPerSession: number;

  constructor(options: SessionStoreOptions = {}) {
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.maxTaintsPerSession = options.maxTaintsPerSession ?? DEFAULT_MAX_TAINTS_PER_SESSION;
  }

  taintsOf(key: string, nowMs: number): readonly TaintEntry[] {
    return (this.sessions.get(key) ?? []).filter((t) => t.expiresAtMs > nowMs);
  }

  add(key: string, labels: readonly string[], nowMs: number, ttlMs: number, origin: TaintOrigin | undefined): void {
    const kept = this.taintsOf(key, nowMs).filter((t) => !labels.includes(t.label));
    const added = labels.map((label) => ({ label, expiresAtMs: nowMs + ttlMs, ...(origin === undefined ? {} : { origin }) }));
    this.sessions.delete(key);
    this.sessions.set(key, [...added, ...kept].slice(0, this.maxTaintsPerSession));
    while (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
      this.evicted++;
    }
  }

  stats(): SessionStats {
    let taints = 0;
    for (const t of this.sessions.values()) taints += t.length;
    return { sessions: this.sessions.size, taints, evicted: this.evicted };
  }
}
