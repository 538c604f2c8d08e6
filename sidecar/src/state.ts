// The snapshot the sidecar enforces, swapped atomically as a whole, with the
// rate-limit state that belongs to it.
import { TokenBuckets, type LoadedSnapshot } from '../../policy/src/index.js';

export class PolicyState {
  private current: LoadedSnapshot | undefined;
  private limiter = new TokenBuckets();
  private listeners: ((s: LoadedSnapshot) => void)[] = [];

  get snapshot(): LoadedSnapshot | undefined {
    return this.current;
  }

  get rateLimiter(): TokenBuckets {
    return this.limiter;
  }

  /** Installs a new snapshot. Rate-limit counts restart only when the version changes. */
  install(next: LoadedSnapshot): void {
    if (this.current?.version !== next.version) this.limiter = new TokenBuckets();
    this.current = next;
    for (const l of this.listeners) l(next);
  }

  onInstall(listener: (s: LoadedSnapshot) => void): void {
    this.listeners.push(listener);
  }
}
