// Leader election over a coordination.k8s.io Lease: of several controller
// replicas exactly one writes AgentPolicy.status. The API server is an
// in-memory Lease store with the API server's optimistic concurrency: a
// create of an existing Lease and a replace with a stale resourceVersion fail
// with 409 Conflict. Each replica has its own connection to it.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { LeaderElector, type LeaderOptions } from '../src/status/leader.js';
import { until } from './helpers.js';

const NS = 'agentwarden-system';
const NAME = 'agentwarden-controller';
const RENEW_MS = 25;

class ApiError extends Error {
  constructor(readonly code: number, message: string) {
    super(`HTTP ${code}: ${message}`);
  }
}

/** The API server's Lease, shared by every replica. */
class LeaseStore {
  lease: V1Lease | undefined;
  private version = 0;
  reads = 0;
  writes = 0;
  conflicts = 0;
  /** When set, reads wait until this many are pending, then all complete together (a race). */
  readBarrier = 0;
  private readonly waitingReads: (() => void)[] = [];

  read(): Promise<V1Lease> {
    this.reads++;
    const answer = (): Promise<V1Lease> => (this.lease === undefined ? Promise.reject(new ApiError(404, `leases "${NAME}" not found`)) : Promise.resolve(structuredClone(this.lease)));
    if (this.readBarrier === 0) return answer();
    return new Promise<void>((resolve) => {
      this.waitingReads.push(resolve);
      if (this.waitingReads.length >= this.readBarrier) {
        this.readBarrier = 0;
        for (const release of this.waitingReads.splice(0)) release();
      }
    }).then(answer);
  }

  create(body: V1Lease): Promise<V1Lease> {
    if (this.lease !== undefined) {
      this.conflicts++;
      return Promise.reject(new ApiError(409, `leases "${NAME}" already exists`));
    }
    return Promise.resolve(this.store(body));
  }

  replace(body: V1Lease): Promise<V1Lease> {
    if (this.lease === undefined) return Promise.reject(new ApiError(404, `leases "${NAME}" not found`));
    if (body.metadata?.resourceVersion !== this.lease.metadata?.resourceVersion) {
      this.conflicts++;
      return Promise.reject(new ApiError(409, 'the object has been modified; please apply your changes to the latest version and try again'));
    }
    return Promise.resolve(this.store(body));
  }

  /** A Lease another process holds, renewed `renewedMsAgo` ago. */
  heldBy(holder: string, renewedMsAgo: number, leaseSeconds = 15): void {
    const renewed = new Date(Date.now() - renewedMsAgo);
    this.store({ metadata: { name: NAME, namespace: NS }, spec: { holderIdentity: holder, leaseDurationSeconds: leaseSeconds, acquireTime: renewed, renewTime: renewed, leaseTransitions: 3 } });
  }

  private store(body: V1Lease): V1Lease {
    this.writes++;
    this.version++;
    this.lease = structuredClone({ ...body, metadata: { ...body.metadata, resourceVersion: String(this.version) } });
    return structuredClone(this.lease);
  }
}

/** One replica's connection; `partitioned` makes its calls hang, as over a dead network. */
class Connection {
  partitioned = false;
  reads = 0;
  private readonly hung: ((e: Error) => void)[] = [];

  constructor(private readonly store: LeaseStore) {}

  heal(): void {
    this.partitioned = false;
    for (const fail of this.hung.splice(0)) fail(new Error('connect ETIMEDOUT'));
  }

  api(): CoordinationV1Api {
    const call = <T>(f: () => Promise<T>): Promise<T> => (this.partitioned ? new Promise<T>((_resolve, reject) => { this.hung.push(reject); }) : f());
    const api = {
      readNamespacedLease: () => {
        this.reads++;
        return call(() => this.store.read());
      },
      createNamespacedLease: (p: { namespace: string; body: V1Lease }) => call(() => this.store.create(p.body)),
      replaceNamespacedLease: (p: { name: string; namespace: string; body: V1Lease }) => call(() => this.store.replace(p.body)),
    };
    return api as unknown as CoordinationV1Api;
  }
}

interface Replica {
  readonly identity: string;
  readonly elector: LeaderElector;
  readonly connection: Connection;
  /** Leadership changes reported through onChange. */
  readonly changes: boolean[];
}

const started: Replica[] = [];
/** Moments at which a replica became leader while another one still believed it led. */
const splitBrain: string[] = [];

function replica(store: LeaseStore, identity: string, options: Partial<LeaderOptions> = {}): Replica {
  const connection = new Connection(store);
  const changes: boolean[] = [];
  const elector: LeaderElector = new LeaderElector(connection.api(), { namespace: NS, name: NAME, identity, renewEveryMs: RENEW_MS, log: () => undefined, ...options }, (leading) => {
    changes.push(leading);
    if (leading) for (const other of started) if (other.identity !== identity && other.elector.isLeader) splitBrain.push(`${identity} became leader while ${other.identity} still led`);
  });
  const r = { identity, elector, connection, changes };
  started.push(r);
  return r;
}

function leaders(): string[] {
  return started.filter((r) => r.elector.isLeader).map((r) => r.identity);
}

describe('LeaderElector', () => {
  afterEach(async () => {
    for (const r of started) r.connection.heal();
    await Promise.all(started.map((r) => r.elector.stop()));
    started.splice(0);
    splitBrain.splice(0);
  });

  it('makes exactly one of two replicas the leader, and keeps it so while it renews', async () => {
    const store = new LeaseStore();
    const a = replica(store, 'controller-a');
    const b = replica(store, 'controller-b');
    a.elector.start();
    b.elector.start();
    await until('a leader', () => leaders().length > 0);
    const leader = leaders()[0];
    const writes = store.writes;
    await until('ten renewals', () => store.writes >= writes + 10);
    expect(leaders()).toEqual([leader]);
    expect(store.lease?.spec?.holderIdentity).toBe(leader);
    expect(splitBrain).toEqual([]);
  });

  it('hands over to the other replica within a few renew periods when the leader stops and releases the lease', async () => {
    const store = new LeaseStore();
    const a = replica(store, 'controller-a');
    a.elector.start();
    await until('a to lead', () => a.elector.isLeader);
    const b = replica(store, 'controller-b');
    b.elector.start();
    await until('b to find the lease held', () => b.connection.reads >= 2);
    expect(b.elector.isLeader).toBe(false);

    await a.elector.stop();
    expect(store.lease?.spec?.holderIdentity).toBeUndefined();
    const readsAtStop = b.connection.reads; // one per renew period
    await until('b to take over', () => b.elector.isLeader);
    // The lease lasts 15 s: b takes it over at its next attempt (or the one after,
    // if one was under way), not when the lease expires.
    expect(b.connection.reads - readsAtStop).toBeLessThanOrEqual(2);
    expect(store.lease?.spec?.holderIdentity).toBe('controller-b');
  });

  it('reports leadership lost once stopped', async () => {
    const store = new LeaseStore();
    const a = replica(store, 'controller-a');
    a.elector.start();
    await until('a to lead', () => a.elector.isLeader);
    await a.elector.stop();
    expect(a.elector.isLeader).toBe(false);
    expect(a.changes).toEqual([true, false]);
  });

  it('takes over an expired lease held by another process, counting the transition', async () => {
    const store = new LeaseStore();
    store.heldBy('controller-gone', 60_000);
    const a = replica(store, 'controller-a');
    a.elector.start();
    await until('a to lead', () => a.elector.isLeader);
    expect(store.lease?.spec).toMatchObject({ holderIdentity: 'controller-a', leaseTransitions: 4, leaseDurationSeconds: 15 });
    expect(new Date(store.lease!.spec!.acquireTime!).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('leaves a lease another process holds and renews alone', async () => {
    const store = new LeaseStore();
    store.heldBy('controller-other', 0);
    const a = replica(store, 'controller-a');
    a.elector.start();
    await until('ten attempts', () => store.reads >= 10);
    expect(a.elector.isLeader).toBe(false);
    expect(a.changes).toEqual([]);
    expect(store.writes).toBe(1);
    expect(store.lease?.spec?.holderIdentity).toBe('controller-other');
  });

  it('lets only one of two replicas win a race for an expired lease: the other\'s replace conflicts', async () => {
    const store = new LeaseStore();
    store.heldBy('controller-gone', 60_000);
    store.readBarrier = 2; // both read the same resourceVersion before either writes
    const a = replica(store, 'controller-a');
    const b = replica(store, 'controller-b');
    a.elector.start();
    b.elector.start();
    await until('a leader', () => leaders().length > 0);
    expect(store.conflicts).toBeGreaterThanOrEqual(1);
    const writes = store.writes;
    await until('five renewals', () => store.writes >= writes + 5);
    expect(leaders()).toHaveLength(1);
    expect(splitBrain).toEqual([]);
  });

  it('stops leading when it cannot renew within the lease duration, before another replica takes over', async () => {
    const store = new LeaseStore();
    const a = replica(store, 'controller-a', { leaseSeconds: 1 });
    a.elector.start();
    await until('a to lead', () => a.elector.isLeader);
    a.connection.partitioned = true; // a's requests hang: it can no longer renew
    const b = replica(store, 'controller-b', { leaseSeconds: 1 });
    b.elector.start();
    await until('b to take over the expired lease', () => b.elector.isLeader, 5_000);
    expect(splitBrain).toEqual([]);
    expect(a.elector.isLeader).toBe(false);
  });
});
