// Publishes the distribution CA (--ca-root-file) as the ConfigMap that injected
// pods mount (key ca.crt) into every namespace where pods can be injected. The
// decisions are plan.ts's; this is the shell: the CA file polled for changes,
// passes coalesced and run one at a time, writes by the leader only, a bounded
// number of namespaces per pass with a few requests in flight, a failed
// namespace retried with capped, jittered backoff, and a periodic resync that
// repairs ConfigMaps edited or deleted behind the controller's back.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { renderLines, single } from '../../../common/prometheus.js';
import type { CaRootApi } from '../kube/ca-root-api.js';
import { FilePoller } from '../files/poll.js';
import { Debouncer } from '../reconcile/debounce.js';
import { caRootTargets, configMapWrite, parseCaBundle, pendingNamespaces, retryDelayMs, type CaRootScope, type NamespaceView, type PodView } from './plan.js';

export interface CaRootPublisherOptions {
  readonly api: CaRootApi;
  /** --ca-root-file */
  readonly file: string;
  readonly configMapName: string;
  readonly scope: CaRootScope;
  /** The namespaces and pods caches (informers); passes wait until `synced`. */
  readonly namespaces: () => readonly NamespaceView[];
  readonly pods: () => readonly PodView[];
  readonly synced: () => boolean;
  /** Whether this replica may write (the elected leader, or no election). */
  readonly mayWrite: () => boolean;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  /** How often the CA file is checked for a change, ms. */
  readonly fileReloadMs: number;
  /** Forget what was confirmed and check every namespace again this often, ms. Default 10 min. */
  readonly resyncMs?: number;
  /** Namespaces checked per pass; the rest wait for the next pass, which follows at once. Default 200. */
  readonly maxPerPass?: number;
  /** Requests in flight. Default 4. */
  readonly concurrency?: number;
  /** Retry delays of a failed namespace. Default 1 s doubling to 5 min. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** A request taking longer fails (and is retried), ms. Default 15 s. */
  readonly requestTimeoutMs?: number;
  readonly random?: () => number;
}

export interface CaRootStats {
  /** A valid CA was read from the file. */
  readonly loaded: boolean;
  /** Distinct CAs taken from the file (the first included), and file contents refused. */
  readonly caLoads: number;
  readonly caLoadFailures: number;
  /** Namespaces that need the ConfigMap, and those of them confirmed to hold the current CA. */
  readonly targets: number;
  readonly upToDate: number;
  /** Namespaces where a ConfigMap of that name exists without the managed-by label. */
  readonly foreign: number;
  readonly creates: number;
  readonly updates: number;
  readonly writeFailures: number;
  /** Namespaces left for a later pass because a pass hit maxPerPass. */
  readonly deferred: number;
}

export class CaRootPublisher {
  private pem: string | undefined;
  private digest = '';
  private readonly confirmed = new Map<string, string>();
  private readonly failures = new Map<string, { readonly count: number; readonly retryAtMs: number }>();
  private readonly foreign = new Set<string>();
  private readonly poller: FilePoller;
  private readonly debouncer: Debouncer;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private targetCount = 0;
  private counts = { caLoads: 0, caLoadFailures: 0, creates: 0, updates: 0, writeFailures: 0, deferred: 0 };

  constructor(private readonly options: CaRootPublisherOptions) {
    this.poller = new FilePoller({ files: [options.file], intervalMs: options.fileReloadMs, onChange: () => this.loadCa() });
    this.debouncer = new Debouncer(200, 2000, () => { this.run(); });
  }

  /** Reads the CA file, then publishes; the file is polled for changes from here on. */
  start(): void {
    this.loadCa();
    this.poller.start();
    const resyncMs = this.options.resyncMs ?? 600_000;
    this.resyncTimer = setInterval(() => {
      this.confirmed.clear();
      this.trigger();
    }, resyncMs);
    this.resyncTimer.unref();
  }

  /** Something the targets depend on changed (a namespace, a pod, leadership): a pass soon. */
  trigger(): void {
    if (!this.stopped) this.debouncer.trigger();
  }

  /** A new leader does not trust what it confirmed under an earlier term. */
  leadershipChanged(leading: boolean): void {
    if (leading) this.confirmed.clear();
    this.trigger();
  }

  /** Checks the CA file now instead of at the next interval. */
  checkFile(): void {
    this.poller.check();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.debouncer.cancel();
    this.poller.stop();
    clearInterval(this.resyncTimer);
    clearTimeout(this.retryTimer);
    await this.running;
  }

  stats(): CaRootStats {
    let upToDate = 0;
    for (const digest of this.confirmed.values()) if (digest === this.digest) upToDate++;
    return { loaded: this.pem !== undefined, targets: this.targetCount, upToDate, foreign: this.foreign.size, ...this.counts };
  }

  /** Prometheus lines (common/prometheus.ts). */
  renderMetrics(): string[] {
    const s = this.stats();
    return renderLines([
      single('agentwarden_ca_root_loaded', 'gauge', '1 when a valid CA was read from --ca-root-file.', s.loaded ? 1 : 0),
      single('agentwarden_ca_root_file_loads_total', 'counter', 'CA file contents taken (the first one and each change).', s.caLoads),
      single('agentwarden_ca_root_file_load_failures_total', 'counter', 'CA file contents refused (unreadable, partial, not certificates).', s.caLoadFailures),
      {
        name: 'agentwarden_ca_root_namespaces', type: 'gauge', help: 'Namespaces that need the CA ConfigMap, and those confirmed to hold the current CA.',
        samples: [{ labels: { state: 'target' }, value: s.targets }, { labels: { state: 'up_to_date' }, value: s.upToDate }, { labels: { state: 'foreign' }, value: s.foreign }],
      },
      {
        name: 'agentwarden_ca_root_writes_total', type: 'counter', help: 'CA ConfigMaps written, by operation.',
        samples: [{ labels: { op: 'create' }, value: s.creates }, { labels: { op: 'update' }, value: s.updates }],
      },
      single('agentwarden_ca_root_write_failures_total', 'counter', 'CA ConfigMap writes that failed (retried with backoff).', s.writeFailures),
      single('agentwarden_ca_root_deferred_total', 'counter', 'Namespaces left to a later pass by the per-pass limit.', s.deferred),
    ]);
  }

  /** Takes the file's CA when it is valid; false keeps the previous one and retries at the next check. */
  private loadCa(): boolean {
    let content: string;
    try {
      content = readFileSync(this.options.file, 'utf8');
    } catch (e: unknown) {
      this.counts.caLoadFailures++;
      this.options.log('warn', 'cannot read the CA root file; keeping the CA published so far', { file: this.options.file, error: e instanceof Error ? e.message : String(e) });
      return false;
    }
    const bundle = parseCaBundle(content, this.options.file);
    if (!bundle.ok) {
      this.counts.caLoadFailures++;
      this.options.log('warn', 'CA root file refused; keeping the CA published so far', { error: bundle.error });
      return false;
    }
    if (bundle.pem !== this.pem) {
      this.pem = bundle.pem;
      this.digest = createHash('sha256').update(bundle.pem).digest('hex');
      this.counts.caLoads++;
      this.options.log('info', 'CA root loaded; publishing it', { file: this.options.file, certificates: bundle.certificates, sha256: this.digest.slice(0, 16) });
      this.trigger();
    }
    return true;
  }

  /** One pass at a time; a trigger during a pass runs another one after it. */
  private run(): void {
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((e: unknown) => { this.options.log('warn', 'CA root pass failed', { error: e instanceof Error ? e.message : String(e) }); })
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.run();
        }
      });
  }

  private async pass(): Promise<void> {
    const pem = this.pem;
    if (this.stopped || pem === undefined || !this.options.synced() || !this.options.mayWrite()) return;
    const digest = this.digest;
    const targets = caRootTargets(this.options.namespaces(), this.options.pods(), this.options.scope);
    this.targetCount = targets.length;
    // What is kept per namespace is bounded by the namespaces that need the CA.
    const wanted = new Set(targets);
    for (const map of [this.confirmed, this.failures]) for (const ns of map.keys()) if (!wanted.has(ns)) map.delete(ns);
    for (const ns of this.foreign) if (!wanted.has(ns)) this.foreign.delete(ns);

    const retryAt = new Map([...this.failures].map(([ns, f]) => [ns, f.retryAtMs]));
    const plan = pendingNamespaces({ targets, confirmed: this.confirmed, digest, retryAt, nowMs: Date.now(), limit: this.options.maxPerPass ?? 200 });
    this.counts.deferred += plan.deferred;
    const queue = [...plan.check];
    const worker = async (): Promise<void> => {
      for (let ns = queue.shift(); ns !== undefined; ns = queue.shift()) {
        if (this.stopped || !this.options.mayWrite()) return;
        await this.ensure(ns, pem, digest);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.options.concurrency ?? 4) }, worker));

    if (plan.deferred > 0) this.trigger();
    this.scheduleRetry();
  }

  /** Makes one namespace's ConfigMap hold `pem`; a failure is retried after a backoff. */
  private async ensure(namespace: string, pem: string, digest: string): Promise<void> {
    const { api, configMapName: name } = this.options;
    const timeoutMs = this.options.requestTimeoutMs ?? 15_000;
    try {
      const existing = await withTimeout(api.readConfigMap(namespace, name), timeoutMs);
      const write = configMapWrite(existing, namespace, name, pem);
      if (write.kind === 'create') {
        await withTimeout(api.createConfigMap(namespace, write.body), timeoutMs);
        this.counts.creates++;
        this.options.log('info', 'CA root ConfigMap created', { namespace, configMap: name });
      } else if (write.kind === 'replace') {
        await withTimeout(api.replaceConfigMap(namespace, name, write.body), timeoutMs);
        this.counts.updates++;
        this.options.log('info', 'CA root ConfigMap updated', { namespace, configMap: name });
      } else if (write.kind === 'foreign' && !this.foreign.has(namespace)) {
        this.options.log('warn', 'a ConfigMap of that name exists without app.kubernetes.io/managed-by=agentwarden; left alone (injected pods here may not trust the controller): label it or delete it', { namespace, configMap: name });
      }
      if (write.kind === 'foreign') this.foreign.add(namespace);
      else this.foreign.delete(namespace);
      this.confirmed.set(namespace, digest);
      this.failures.delete(namespace);
    } catch (e: unknown) {
      const count = (this.failures.get(namespace)?.count ?? 0) + 1;
      const delay = retryDelayMs(count, this.options.backoff ?? { initialMs: 1000, maxMs: 300_000 }, (this.options.random ?? Math.random)());
      this.failures.set(namespace, { count, retryAtMs: Date.now() + delay });
      this.counts.writeFailures++;
      this.options.log('warn', 'CA root ConfigMap write failed; retrying with backoff', { namespace, configMap: name, error: e instanceof Error ? e.message : String(e), attempt: count, retryInMs: delay });
    }
  }

  /** A pass when the earliest namespace waiting after a failure may be tried again. */
  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    let earliest: number | undefined;
    for (const f of this.failures.values()) earliest = earliest === undefined ? f.retryAtMs : Math.min(earliest, f.retryAtMs);
    if (earliest === undefined || this.stopped) return;
    this.retryTimer = setTimeout(() => { this.trigger(); }, Math.max(0, earliest - Date.now()));
    this.retryTimer.unref();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms`)); }, ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String(e))); });
  });
}
