// Session taints per pod (DESIGN.md decision semantics point 12): pure state,
// like TokenBuckets, that the sidecar keeps for its lifetime (across snapshot
// updates) and the CLI keeps for one run. Time is passed in. Bounded: at most
// `maxSessions` sessions (the least recently used dropped and counted) and
// `maxTaintsPerSession` labels per session (further labels dropped and counted).

/** The span context of the decision that added a taint (hex; opaque to the core). */
export interface TaintOrigin {
  readonly traceId: string;
  readonly spanId: string;
}

export interface TaintEntry {
  readonly label: string;
  /** The label decays at this instant: ttl after the last call that added it. */
  readonly expiresAtMs: number;
  readonly origin?: TaintOrigin;
}

export interface SessionStoreOptions {
  /** Sessions kept; the least recently used is dropped beyond it. Default DEFAULT_MAX_SESSIONS. */
  readonly maxSessions?: number;
  /** Labels one session holds; further labels are dropped. Default DEFAULT_MAX_TAINTS_PER_SESSION. */
  readonly maxTaintsPerSession?: number;
}

export interface SessionStats {
  readonly sessions: number;
  readonly taints: number;
  /** Sessions dropped as least recently used, since the store was made. */
  readonly evicted: number;
  /** Labels not added because their session held maxTaintsPerSession already. */
  readonly taintsDropped: number;
}

/** Default bound of sessions per pod. */
export const DEFAULT_MAX_SESSIONS = 10_000;
/** Default bound of labels per session. */
export const DEFAULT_MAX_TAINTS_PER_SESSION = 32;

const NONE: readonly TaintEntry[] = [];

/** One session: its labels and its place in the recency list. */
interface Session {
  readonly key: string;
  entries: TaintEntry[];
  /** The next less recently used session; undefined for the oldest. */
  older: Session | undefined;
  /** The next more recently used session; undefined for the newest. */
  newer: Session | undefined;
}

export class SessionStore {
  readonly maxSessions: number;
  readonly maxTaintsPerSession: number;
  /**
   * Sessions by key. Recency is a list through the sessions themselves, not the
   * Map's insertion order: moving a key to the end of a Map deletes and re-adds
   * it, and with sessions that alternate that is a Map write per request. V8
   * rebuilds a Map's table every few deletions and links each replaced table
   * to its successor, so once one table was old, every later table (and the
   * sessions it held) was promoted with it (the stream table's bug:
   * sidecar/src/authz/h2/stream-table.ts). Here the Map changes only when a
   * session comes or goes, and a request moves a few pointers.
   */
  private readonly sessions = new Map<string, Session>();
  private oldest: Session | undefined;
  private newest: Session | undefined;
  private taintCount = 0;
  private evictedCount = 0;
  private droppedCount = 0;

  constructor(options: SessionStoreOptions = {}) {
    this.maxSessions = Math.max(1, options.maxSessions ?? DEFAULT_MAX_SESSIONS);
    this.maxTaintsPerSession = Math.max(1, options.maxTaintsPerSession ?? DEFAULT_MAX_TAINTS_PER_SESSION);
  }

  /** The labels of session `key` in force at `nowMs` (decayed ones removed). */
  taintsOf(key: string, nowMs: number): readonly TaintEntry[] {
    const session = this.sessions.get(key);
    if (session === undefined) return NONE;
    const live = this.prune(session.entries, nowMs);
    if (live.length === 0) {
      this.remove(session);
      return NONE;
    }
    session.entries = live;
    this.touch(session);
    return live;
  }

  /**
   * Adds `labels` to session `key` at `nowMs`, each decaying `ttlMs` after this
   * call (a label already there is refreshed and takes this origin). Returns the
   * labels added or refreshed: those beyond maxTaintsPerSession are dropped.
   */
  add(key: string, labels: readonly string[], nowMs: number, ttlMs: number, origin: TaintOrigin | undefined): readonly string[] {
    if (labels.length === 0) return labels;
    const found = this.sessions.get(key);
    const entries = found === undefined ? [] : this.prune(found.entries, nowMs);
    const expiresAtMs = ttlMs > 0 ? nowMs + ttlMs : Number.POSITIVE_INFINITY;
    const applied: string[] = [];
    for (const label of labels) {
      const entry: TaintEntry = origin === undefined ? { label, expiresAtMs } : { label, expiresAtMs, origin };
      const at = entries.findIndex((e) => e.label === label);
      if (at >= 0) {
        entries.splice(at, 1);
      } else if (entries.length >= this.maxTaintsPerSession) {
        this.droppedCount++;
        continue;
      } else {
        this.taintCount++;
      }
      // Newest last: links read them newest first.
      entries.push(entry);
      applied.push(label);
    }
    if (entries.length > 0) {
      if (found === undefined) {
        const session: Session = { key, entries, older: undefined, newer: undefined };
        this.sessions.set(key, session);
        this.link(session);
      } else {
        found.entries = entries;
        this.touch(found);
      }
    } else if (found !== undefined) {
      this.remove(found);
    }
    while (this.sessions.size > this.maxSessions && this.oldest !== undefined) {
      this.taintCount -= this.oldest.entries.length;
      this.evictedCount++;
      this.remove(this.oldest);
    }
    return applied;
  }

  stats(): SessionStats {
    return { sessions: this.sessions.size, taints: this.taintCount, evicted: this.evictedCount, taintsDropped: this.droppedCount };
  }

  /**
   * A rough count of the bytes the store holds (keys, entries, origins), for
   * the bench; `make bench-eval` prints it beside the heap V8 retains.
   */
  approxBytes(): number {
    let bytes = 0;
    for (const { key, entries } of this.sessions.values()) {
      // Map slot and key string, the array, and per entry the object and its label.
      bytes += 48 + 2 * key.length + 32 + 8 * entries.length;
      for (const e of entries) bytes += 40 + 2 * e.label.length + (e.origin === undefined ? 0 : 32 + 2 * (e.origin.traceId.length + e.origin.spanId.length));
    }
    return bytes;
  }

  /** Makes `session` the most recently used. */
  private touch(session: Session): void {
    if (session === this.newest) return;
    this.unlink(session);
    this.link(session);
  }

  /** Puts `session` at the newest end of the list. */
  private link(session: Session): void {
    session.older = this.newest;
    session.newer = undefined;
    if (this.newest === undefined) this.oldest = session;
    else this.newest.newer = session;
    this.newest = session;
  }

  private unlink(session: Session): void {
    if (session.older === undefined) this.oldest = session.newer;
    else session.older.newer = session.newer;
    if (session.newer === undefined) this.newest = session.older;
    else session.newer.older = session.older;
    session.older = undefined;
    session.newer = undefined;
  }

  private remove(session: Session): void {
    this.unlink(session);
    this.sessions.delete(session.key);
  }

  private prune(entries: TaintEntry[], nowMs: number): TaintEntry[] {
    let live = 0;
    for (const e of entries) if (e.expiresAtMs > nowMs) live++;
    if (live === entries.length) return entries;
    this.taintCount -= entries.length - live;
    return entries.filter((e) => e.expiresAtMs > nowMs);
  }
}
