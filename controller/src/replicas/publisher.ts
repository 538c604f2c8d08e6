// Publishes this replica's report (replicas/report.ts) in its own Lease,
// agentwarden-controller-replica-<identity>, in the controller's namespace:
// written at most every `debounceMs` after its sidecars' sync changed, and
// renewed every `renewEveryMs` so that the leader can tell a live replica from
// a lost one (renewTime + leaseDurationSeconds). Deleted on a clean stop, so
// the pods of a replica that shut down count as not synced at once.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { isNotFound } from '../status/leader.js';
import { encodeReport, REPORT_ANNOTATION, REPORT_LABEL, reportLeaseName, type ReplicaReport } from './report.js';

export interface ReportPublisherOptions {
  readonly namespace: string;
  readonly identity: string;
  /** The report now (this replica's streams). */
  readonly report: () => ReplicaReport;
  /** Default 15 s: a replica not heard of for this long is lost. */
  readonly leaseSeconds?: number;
  /** Default 5 s. */
  readonly renewEveryMs?: number;
  /** Default 250 ms: the sync changes of many ACKs are written once. */
  readonly debounceMs?: number;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export const DEFAULT_REPORT_LEASE_SECONDS = 15;
export const DEFAULT_REPORT_RENEW_MS = 5000;
export const DEFAULT_REPORT_DEBOUNCE_MS = 250;

export class ReportPublisher {
  private lease: V1Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastWrittenMs = 0;
  private pendingAt = Number.POSITIVE_INFINITY;
  /** Writes made and failed (metrics). */
  writes = 0;
  writeErrors = 0;
  readonly name: string;

  constructor(private readonly api: CoordinationV1Api, private readonly options: ReportPublisherOptions) {
    this.name = reportLeaseName(options.identity);
  }

  start(): void {
    this.schedule(0);
  }

  /** This replica's sync changed: write within debounceMs. */
  changed(): void {
    if (this.stopped) return;
    const debounce = this.options.debounceMs ?? DEFAULT_REPORT_DEBOUNCE_MS;
    const due = Math.max(0, this.lastWrittenMs + debounce - Date.now());
    // The renewal planned later is moved forward; an earlier write planned stays.
    this.schedule(due);
  }

  /** Resolves when the write in flight (if any) is done. */
  idle(): Promise<void> {
    return this.writing;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.writing;
    await this.api.deleteNamespacedLease({ name: this.name, namespace: this.options.namespace }).catch((e: unknown) => {
      if (!isNotFound(e)) this.options.log('warn', 'cannot delete the replica report Lease', { lease: this.name, error: e instanceof Error ? e.message : String(e) });
    });
  }

  private schedule(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.timer !== undefined && this.pendingAt <= at) return;
    clearTimeout(this.timer);
    this.pendingAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pendingAt = Number.POSITIVE_INFINITY;
      this.writing = this.writing.then(() => this.write());
    }, delayMs);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    if (this.stopped) return;
    const { namespace, identity } = this.options;
    const leaseSeconds = this.options.leaseSeconds ?? DEFAULT_REPORT_LEASE_SECONDS;
    const now = new V1MicroTime(Date.now());
    try {
      const value = encodeReport(this.options.report());
      const metadata = { name: this.name, namespace, labels: { [REPORT_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'agentwarden' }, annotations: { [REPORT_ANNOTATION]: value } };
      const spec = { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, renewTime: now };
      if (this.lease === undefined) {
        try {
          this.lease = await this.api.createNamespacedLease({ namespace, body: { metadata, spec: { ...spec, acquireTime: now } } });
        } catch (e: unknown) {
          if (!isConflict(e)) throw e;
          // Left by an earlier run of this replica: take it over.
          const existing = await this.api.readNamespacedLease({ name: this.name, namespace });
          this.lease = await this.api.replaceNamespacedLease({ name: this.name, namespace, body: { ...existing, metadata: { ...existing.metadata, ...metadata }, spec: { ...existing.spec, ...spec } } });
        }
      } else {
        try {
          this.lease = await this.api.replaceNamespacedLease({ name: this.name, namespace, body: { ...this.lease, metadata: { ...this.lease.metadata, ...metadata }, spec: { ...this.lease.spec, ...spec } } });
        } catch (e: unknown) {
          // Deleted or changed by someone else: start again from what is there.
          this.lease = undefined;
          throw e;
        }
      }
      this.writes++;
      this.lastWrittenMs = Date.now();
    } catch (e: unknown) {
      this.writeErrors++;
      this.options.log('warn', 'cannot write the replica report Lease; retrying', { lease: `${namespace}/${this.name}`, error: e instanceof Error ? e.message : String(e) });
    } finally {
      if (!this.stopped) this.schedule(this.lease === undefined ? 1000 : this.options.renewEveryMs ?? DEFAULT_REPORT_RENEW_MS);
    }
  }
}

function isConflict(e: unknown): boolean {
  return typeof e === 'object' && e !== null && 'code' in e && e.code === 409;
}
