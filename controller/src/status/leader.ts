// Leader election on a coordination.k8s.io Lease, so that of several controller
// replicas exactly one writes AgentPolicy.status. Every replica serves sidecars.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { sleep } from '../../../common/backoff.js';

export interface LeaderOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** Default 15 s. */
  readonly leaseSeconds?: number;
  /** Default 2 s. */
  readonly renewEveryMs?: number;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export class LeaderElector {
  private leading = false;
  private readonly stopper = new AbortController();
  private loopDone: Promise<void> | undefined;

  constructor(private readonly api: CoordinationV1Api, private readonly options: LeaderOptions, private readonly onChange: (leading: boolean) => void) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loopDone;
    if (this.leading) {
      await withTimeout(this.release(), 5000).catch(() => undefined);
      this.leading = false;
      this.onChange(false);
    }
  }

  private async loop(): Promise<void> {
    const leaseMs = (this.options.leaseSeconds ?? 15) * 1000;
    const renewEvery = this.options.renewEveryMs ?? 2000;
    // A leader steps down when it could not renew for two thirds of the lease:
    // before the lease expires and another replica may take it.
    const renewDeadline = Math.max(renewEvery, Math.floor((leaseMs * 2) / 3));
    let lastRenewed = 0;
    while (!this.stopper.signal.aborted) {
      let leading: boolean;
      try {
        leading = await withTimeout(this.tryAcquireOrRenew(), renewDeadline);
        if (leading) lastRenewed = Date.now();
      } catch (e: unknown) {
        this.options.log('warn', 'lease update failed', { error: e instanceof Error ? e.message : String(e) });
        leading = this.leading && Date.now() - lastRenewed < renewDeadline;
      }
      if (this.stopper.signal.aborted) break;
      if (leading !== this.leading) {
        this.leading = leading;
        this.options.log('info', leading ? 'became leader' : 'lost leadership', { lease: `${this.options.namespace}/${this.options.name}` });
        this.onChange(leading);
      }
      await sleep(renewEvery, this.stopper.signal);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const leaseSeconds = this.options.leaseSeconds ?? 15;
    // Lease times are MicroTime: V1MicroTime serialises with the microseconds the API server requires.
    const now = new V1MicroTime(Date.now());
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (e: unknown) {
      if (!isNotFound(e)) throw e;
    }
    if (lease === undefined) {
      await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } } });
      return true;
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime === undefined ? 0 : new Date(spec.renewTime).getTime();
    const expired = renewed + (spec.leaseDurationSeconds ?? leaseSeconds) * 1000 < now.getTime();
    if (spec.holderIdentity !== identity && !expired) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (spec.holderIdentity === identity ? 0 : 1);
    // Replace with the read resourceVersion: a concurrent writer makes this fail (409), not both win.
    await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...spec, holderIdentity: identity, leaseDurationSeconds: leaseSeconds, renewTime: now, acquireTime: spec.holderIdentity === identity ? spec.acquireTime : now, leaseTransitions: transitions } } });
    return true;
  }

  private async release(): Promise<void> {
    const { namespace, name } = this.options;
    const lease = await this.api.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== this.options.identity) return;
    await this.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, renewTime: undefined } } });
  }
}

export function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && 'code' in e && (e).code === 404;
}

/** Rejects when `p` takes longer than `ms` (a hung request must not stall leadership). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms`)); }, ms);
    p.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String(e))); });
  });
}
