// The Slack-compatible notification webhook: one JSON POST per created
// AgentAccessRequest (`{text, agentwarden: {...}}`), to the URL in the Secret
// of --notify-webhook-secret (key `url`, read at each delivery so a rotated URL
// is used at once). A bounded queue and one delivery at a time; a failed POST
// is retried with capped exponential backoff a bounded number of times, then
// given up; everything is counted and nothing waits on it.
import { Backoff, sleep } from '../../../common/backoff.js';
import { ApprovalMetrics } from './metrics.js';

export interface Notification {
  readonly text: string;
  readonly agentwarden: { readonly request: string; readonly namespace: string; readonly pod: string; readonly operation: string; readonly approveCommand: string };
}

export interface NotifierOptions {
  /** The webhook URL now; undefined: not configured (the notification is dropped, counted failed). */
  readonly url: () => Promise<string | undefined>;
  readonly metrics: ApprovalMetrics;
  readonly log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
  /** Notifications waiting; more are dropped. Default 256. */
  readonly maxQueue?: number;
  /** Attempts per notification. Default 5. */
  readonly maxAttempts?: number;
  /** Backoff between attempts. Default 500 ms doubling to 30 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** One POST's timeout, ms. Default 5000. */
  readonly timeoutMs?: number;
}

export class WebhookNotifier {
  private readonly queue: Notification[] = [];
  private running = false;
  private readonly stopping = new AbortController();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: NotifierOptions) {}

  /** Queues `n`; never blocks. */
  notify(n: Notification): void {
    if (this.queue.length >= (this.o.maxQueue ?? 256)) {
      ApprovalMetrics.inc(this.o.metrics.notifications, 'dropped');
      this.o.log('warn', 'notification queue full; notification dropped', { request: n.agentwarden.request });
      return;
    }
    this.queue.push(n);
    if (!this.running) void this.drain();
  }

  /** Resolves when the queue is empty (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => { this.idleWaiters.push(resolve); });
  }

  stop(): void {
    this.stopping.abort();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let n = this.queue.shift(); n !== undefined && !this.stopping.signal.aborted; n = this.queue.shift()) await this.deliver(n);
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async deliver(n: Notification): Promise<void> {
    const backoff = new Backoff(this.o.backoff ?? { initialMs: 500, maxMs: 30_000 });
    const attempts = this.o.maxAttempts ?? 5;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const error = await this.post(n);
      if (error === undefined) {
        ApprovalMetrics.inc(this.o.metrics.notifications, 'sent');
        return;
      }
      if (attempt === attempts || this.stopping.signal.aborted) {
        ApprovalMetrics.inc(this.o.metrics.notifications, 'failed');
        this.o.log('warn', 'notification webhook failed; given up', { request: n.agentwarden.request, attempts: attempt, error });
        return;
      }
      ApprovalMetrics.inc(this.o.metrics.notifications, 'retried');
      await sleep(backoff.delay(), this.stopping.signal);
    }
  }

  /** undefined when delivered, else why not. Never logs the URL (it is a secret). */
  private async post(n: Notification): Promise<string | undefined> {
    let url: string | undefined;
    try {
      url = await this.o.url();
    } catch (e: unknown) {
      return `cannot read the webhook Secret: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (url === undefined || !/^https?:\/\//.test(url)) return 'the webhook Secret has no http(s) url';
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(n), signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000) });
      await res.arrayBuffer();
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (e: unknown) {
      return e instanceof Error ? e.message : String(e);
    }
  }
}
