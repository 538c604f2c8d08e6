// The snapshot the sidecar enforces, swapped atomically as a whole, with the
// rate-limit state that belongs to it.
import { TokenBuckets, type LoadedSnapshot } from '../../policy/src/index.js';

export class PolicyState {
  private current: LoadedSnapshot | undefined;
  private readonly limiter = new TokenBuckets();
  private listeners: ((s: LoadedSnapshot) => void)[] = [];

  get snapshot(): LoadedSnapshot | undefined {
    return this.current;
  }

  get rateLimiter(): TokenBuckets {
    return this.limiter;
  }

  /** Installs a new snapshot; rate-limit counts of rules still in force carry over. */
  install(next: LoadedSnapshot): void {
    this.limiter.retain(new Set(next.rules.map((r) => r.key)));
    this.current = next;
    for (const l of this.listeners) l(next);
  }

  onInstall(listener: (s: LoadedSnapshot) => void): void {
    this.listeners.push(listener);
  }
}
