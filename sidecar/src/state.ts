// The snapshot the sidecar enforces, swapped atomically as a whole, with the
// rate-limit state that belongs to it, and what lives as long as the sidecar:
// the grant ledger (when each grant was first seen, how often it was used) and
// the sessions' taints (issue 16), kept across snapshots, never sent anywhere.
import { AnomalyDetector, GrantLedger, SessionStore, TokenBuckets, type AnomalyDetectorOptions, type HeldToken, type LoadedSnapshot, type SessionStoreOptions } from '../../policy/src/index.js';

export class PolicyState {
  private current: LoadedSnapshot | undefined;
  private readonly limiter = new TokenBuckets();
  private readonly ledger = new GrantLedger();
  private readonly store: SessionStore;
  /** Behaviour baselines (issue 17): what this pod learned, its rate windows, its quarantine. */
  private readonly detector: AnomalyDetector;
  private listeners: ((s: LoadedSnapshot) => void)[] = [];
  /** Brokered OAuth tokens by revision: when this sidecar first loaded each (only those of the current snapshot are kept). */
  private tokensSeen = new Map<string, number>();
  /** Brokered OAuth tokens of the snapshot in force, by LoadedCredential.tokenKey (loadSnapshot's heldToken). */
  private tokensHeld = new Map<string, HeldToken>();

  /** `sessions`: the bounds of the session store (--max-sessions, --max-taints-per-session). */
  constructor(sessions: SessionStoreOptions = {}, anomalies: AnomalyDetectorOptions = {}) {
    this.store = new SessionStore(sessions);
    this.detector = new AnomalyDetector(anomalies);
  }

  get anomalies(): AnomalyDetector {
    return this.detector;
  }

  get snapshot(): LoadedSnapshot | undefined {
    return this.current;
  }

  get rateLimiter(): TokenBuckets {
    return this.limiter;
  }

  get grants(): GrantLedger {
    return this.ledger;
  }

  get sessions(): SessionStore {
    return this.store;
  }

  /**
   * Installs a new snapshot; rate-limit counts of rules still in force carry
   * over. Its grants are seen now (`nowMs`, the sidecar's clock): each lasts at
   * most its duration from here, whatever the controller's clock said.
   */
  install(next: LoadedSnapshot, nowMs: number = Date.now()): void {
    this.limiter.retain(new Set(next.rules.map((r) => r.key)));
    this.ledger.observe(next.grants, nowMs);
    this.ledger.retain(new Set(next.grants.map((g) => g.uid)), nowMs);
    const revisions = new Set(next.snapshot.credentials.filter((c) => c.oauth2).map((c) => c.revision));
    for (const r of this.tokensSeen.keys()) if (!revisions.has(r)) this.tokensSeen.delete(r);
    const held = new Map<string, HeldToken>();
    for (const c of [...next.rules.map((r) => r.credential), ...next.grants.map((g) => g.credential)]) {
      if (c?.tokenKey !== undefined && c.value !== undefined && c.usableUntilMs !== undefined && nowMs < c.usableUntilMs) held.set(c.tokenKey, { value: c.value, usableUntilMs: c.usableUntilMs });
    }
    this.tokensHeld = held;
    this.detector.sync(next.anomaly);
    this.current = next;
    for (const l of this.listeners) l(next);
  }

  /**
   * When this sidecar first loaded the token with `revision` (loadSnapshot's
   * tokenFirstSeen): a token is used at most its lifetime from then, so a sidecar
   * clock behind the controller's cannot stretch it.
   */
  readonly tokenFirstSeen = (revision: string, nowMs: number): number => {
    const seen = this.tokensSeen.get(revision);
    if (seen !== undefined) return seen;
    this.tokensSeen.set(revision, nowMs);
    return nowMs;
  };

  /** The token held for `tokenKey` from the snapshot in force (loadSnapshot's heldToken). */
  readonly heldToken = (tokenKey: string, nowMs: number): HeldToken | undefined => {
    const t = this.tokensHeld.get(tokenKey);
    return t !== undefined && nowMs < t.usableUntilMs ? t : undefined;
  };

  onInstall(listener: (s: LoadedSnapshot) => void): void {
    this.listeners.push(listener);
  }
}
