// The snapshot the sidecar enforces, swapped atomically as a whole, with the
// rate-limit state that belongs to it, and what lives as long as the sidecar:
// the grant ledger (when each grant was first seen, how often it was used) and
// the sessions' taints (issue 16), kept across snapshots, never sent anywhere.
import { AnomalyDetector, GrantLedger, SessionStore, TokenBuckets, type AnomalyDetectorOptions, type LoadedSnapshot, type SessionStoreOptions } from '../../policy/src/index.js';

export class PolicyState {
  private current: LoadedSnapshot | undefined;
  private readonly limiter = new TokenBuckets();
  private readonly ledger = new GrantLedger();
  private readonly store: SessionStore;
  /** Behaviour baselines (issue 17): what this pod learned, its rate windows, its quarantine. */
  private readonly detector: AnomalyDetector;
  private listeners: ((s: LoadedSnapshot) => void)[] = [];

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
    this.detector.sync(next.anomaly);
    this.current = next;
    for (const l of this.listeners) l(next);
  }

  onInstall(listener: (s: LoadedSnapshot) => void): void {
    this.listeners.push(listener);
  }
}
