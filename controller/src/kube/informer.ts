// A list+watch cache that does not trust its watch (client-node's informers are
// known to die silently: kubernetes-client/javascript #364, #596, #1933).
// - list, then watch from the list's resourceVersion with bookmarks;
// - a watch ended by the server is resumed from the last resourceVersion;
// - 410 Gone (or any ERROR event) relists;
// - failures retry with capped, jittered backoff;
// - a periodic relist repairs anything missed;
// - a watchdog restarts a watch that has been silent for too long;
// - staleness (time since the cache last heard from the API server) is exposed.
import type { KubernetesObject, Watch } from '@kubernetes/client-node';
import { Backoff, sleep } from '../../../common/backoff.js';
import type { StoreBudget } from './budget.js';

export interface ListResult<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

export interface InformerOptions<T extends KubernetesObject> {
  /** For logs and metrics, e.g. "agentpolicies". */
  readonly name: string;
  /** The watch path, e.g. "/apis/agentwarden.io/v1alpha1/agentpolicies". */
  readonly path: string;
  readonly list: () => Promise<ListResult<T>>;
  readonly watch: Watch;
  /** Called after the cache changed (coalesce downstream). */
  readonly onChange: (name: string) => void;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Label and field selectors of the watch; `list` must apply the same. */
  readonly selector?: { readonly labelSelector?: string; readonly fieldSelector?: string };
  /** Server-side watch timeout, s. Default 60. */
  readonly watchTimeoutSeconds?: number;
  /** Relist at least this often, ms. Default 10 min. */
  readonly relistIntervalMs?: number;
  /** Restart a watch that has been silent this long, ms. Default 3 × watch timeout. */
  readonly staleAfterMs?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Turns a watched object into what the cache keeps (lists are transformed by `list`). */
  readonly transform?: (obj: unknown) => T;
  /** Charges what the cache keeps to its namespace and replaces what is over a limit with a stub (kube/budget.ts). */
  readonly budget?: StoreBudget<T>;
}

export interface InformerStats {
  readonly synced: boolean;
  /** ms since the last list, event, bookmark or watch (re)start. */
  readonly staleMs: number;
  readonly restarts: number;
  readonly relists: number;
  readonly objects: number;
}

export class Informer<T extends KubernetesObject> {
  private readonly store = new Map<string, T>();
  private readonly stopController = new AbortController();
  private synced = false;
  private lastHeardMs = Date.now();
  private restarts = 0;
  private relists = 0;
  private loopDone: Promise<void> | undefined;
  private currentWatch: AbortController | undefined;
  private restartWatch: ((why: 'relist' | 'relist-after-error') => void) | undefined;
  /** relist() was called: the next list that starts must happen, and reports a change. */
  private relistRequested = false;
  private readonly backoff: Backoff;

  constructor(private readonly options: InformerOptions<T>) {
    this.backoff = new Backoff({ initialMs: options.backoff?.initialMs ?? 500, maxMs: options.backoff?.maxMs ?? 30_000 });
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    this.currentWatch?.abort();
    await this.loopDone;
  }

  /**
   * Forces a list that starts after this call (now, or after the list in flight),
   * and onChange once it is in, even if no object changed (callers relist to
   * apply a new transform).
   */
  relist(): void {
    this.relistRequested = true;
    this.restartWatch?.('relist');
  }

  list(): T[] {
    return [...this.store.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(key(namespace, name));
  }

  stats(): InformerStats {
    return { synced: this.synced, staleMs: Date.now() - this.lastHeardMs, restarts: this.restarts, relists: this.relists, objects: this.store.size };
  }

  private async loop(): Promise<void> {
    const stop = this.stopController.signal;
    const relistEvery = this.options.relistIntervalMs ?? 600_000;
    while (!stop.aborted) {
      const requested = this.relistRequested;
      this.relistRequested = false;
      try {
        const listed = await this.options.list();
        this.relists++;
        this.heard();
        this.replace(listed.items, requested);
        this.synced = true;
        // Asked for while this list was in flight: list again.
        if (this.relistRequested) continue;
        let rv = listed.resourceVersion;
        const relistAt = Date.now() + relistEvery;
        // Resume the watch from the last resourceVersion until a relist is due or needed.
        while (!stop.aborted && Date.now() < relistAt) {
          const result = await this.watchOnce(rv);
          if (result.kind === 'relist') {
            // 410 Gone relists at once; any other error event waits like a failure would.
            if (result.backoff) {
              this.restarts++;
              await sleep(this.backoff.delay(), stop);
            }
            break;
          }
          rv = result.resourceVersion;
          this.backoff.reset();
        }
      } catch (e: unknown) {
        if (requested) this.relistRequested = true;
        this.restarts++;
        const delay = this.backoff.delay();
        this.options.log('warn', 'informer failed; retrying', { informer: this.options.name, error: e instanceof Error ? e.message : String(e), retryInMs: delay });
        await sleep(delay, stop);
      }
    }
  }

  /** One watch; resolves when it ends. Throws on connection errors. */
  private watchOnce(resourceVersion: string): Promise<{ kind: 'resume'; resourceVersion: string } | { kind: 'relist'; backoff: boolean }> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 60;
    const staleAfter = this.options.staleAfterMs ?? timeoutSeconds * 3000;
    const stop = this.stopController.signal;
    return new Promise((resolve, reject) => {
      let rv = resourceVersion;
      let relist = false;
      let backoff = false;
      let settled = false;
      let handle: AbortController | undefined;
      const finish = (err: unknown): void => {
        if (settled) return;
        settled = true;
        clearInterval(watchdog);
        stop.removeEventListener('abort', onStop);
        this.currentWatch = undefined;
        this.restartWatch = undefined;
        // A handle that is still to come is aborted when it arrives (below).
        handle?.abort();
        if (relist || stop.aborted) resolve({ kind: 'relist', backoff });
        else if (err !== null && err !== undefined && !isAbort(err)) reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
        else resolve({ kind: 'resume', resourceVersion: rv });
      };
      const onStop = (): void => { finish(null); };
      stop.addEventListener('abort', onStop, { once: true });
      // Settles the watch itself, so that a request that never completes cannot hang the informer.
      const restart = (why: 'relist' | 'relist-after-error'): void => {
        relist = true;
        backoff = why === 'relist-after-error';
        finish(null);
      };
      this.restartWatch = restart;
      const watchdog = setInterval(() => {
        if (Date.now() - this.lastHeardMs > staleAfter) {
          this.options.log('warn', 'watch silent for too long; restarting with a relist', { informer: this.options.name, silentMs: Date.now() - this.lastHeardMs });
          restart('relist');
        }
      }, Math.max(1, Math.min(5000, staleAfter / 2)));
      this.heard();
      this.options.watch.watch(this.options.path, { ...this.options.selector, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds }, (phase: string, obj: unknown) => {
        if (settled) return;
        this.heard();
        const raw = obj as { code?: number; metadata?: { resourceVersion?: string } };
        if (phase === 'ERROR') {
          // 410 Gone: our resourceVersion is too old; relist at once. Other errors: relist after a backoff.
          this.options.log(raw.code === 410 ? 'info' : 'warn', 'watch error event; relisting', { informer: this.options.name, code: raw.code });
          restart(raw.code === 410 ? 'relist' : 'relist-after-error');
          return;
        }
        const newRv = raw.metadata?.resourceVersion;
        if (newRv !== undefined) rv = newRv;
        if (phase === 'BOOKMARK') return;
        const o = this.options.transform === undefined ? (obj as T) : this.options.transform(obj);
        const k = key(o.metadata?.namespace, o.metadata?.name ?? '');
        const previous = this.store.get(k);
        if (previous !== undefined) this.options.budget?.release(previous);
        if (phase === 'DELETED') this.store.delete(k);
        else this.store.set(k, this.options.budget === undefined ? o : this.options.budget.admit(o));
        this.options.onChange(this.options.name);
      }, finish).then((controller) => {
        handle = controller;
        if (settled) controller.abort();
        else this.currentWatch = controller;
      }, finish);
    });
  }

  private heard(): void {
    this.lastHeardMs = Date.now();
  }

  private replace(items: readonly T[], notify: boolean): void {
    const next = new Map<string, T>();
    const budget = this.options.budget;
    budget?.reset();
    for (const item of items) next.set(key(item.metadata?.namespace, item.metadata?.name ?? ''), budget === undefined ? item : budget.admit(item));
    let changed = next.size !== this.store.size;
    if (!changed) {
      for (const [k, v] of next) {
        if (this.store.get(k)?.metadata?.resourceVersion !== v.metadata?.resourceVersion) {
          changed = true;
          break;
        }
      }
    }
    this.store.clear();
    for (const [k, v] of next) this.store.set(k, v);
    if (changed || notify || this.relists === 1) this.options.onChange(this.options.name);
  }
}

function key(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.message.includes('aborted'));
}
