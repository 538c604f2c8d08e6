// What one namespace may make the controller hold. Every object a cache keeps
// is charged to its namespace (a count and bytes); an object that would take
// its namespace past a limit, or that is too large by itself, is refused: the
// cache keeps a stub that says why (so the AgentPolicy status can), the
// refusal is counted by resource and reason, and the controller goes on.
// A tenant that floods its namespace loses its own credentials or policies,
// never the controller's memory or anyone else's.

/** Why an object was refused. `reason` is the status reason; `metric` the agentwarden_informer_refused_total label. */
export interface Refusal {
  readonly reason: string;
  readonly metric: 'object_too_large' | 'value_too_large' | 'namespace_objects' | 'namespace_bytes';
  readonly message: string;
}

/** Per-namespace limits of one cache. */
export interface NamespaceLimits {
  readonly maxObjects: number;
  readonly maxBytes: number;
}

/** The informer's view of a budget (kube/informer.ts). */
export interface StoreBudget<T> {
  /** What to store for `obj` (itself or a stub saying why it was refused). The previous version, if any, was released first. */
  admit(obj: T): T;
  /** `obj` left the cache. */
  release(obj: T): void;
  /** A full list replaces the cache: every charge is dropped. */
  reset(): void;
}

export interface BudgetedResource<T> {
  /** For metrics and messages, e.g. "secrets". */
  readonly resource: string;
  /** Status reason when the namespace is full, e.g. "NamespaceCredentialLimit". */
  readonly namespaceReason: string;
  /** The flags that set the limits, for messages. */
  readonly flags: { readonly objects: string; readonly bytes: string };
  readonly namespace: (obj: T) => string;
  /** namespace/name@resourceVersion: a version refused again (at a relist) is not counted again. */
  readonly version: (obj: T) => string;
  /** Bytes `obj` holds. */
  readonly bytes: (obj: T) => number;
  /** A refusal made before the budget saw `obj` (too large, or a Secret key too large): counted here. */
  readonly refused: (obj: T) => Refusal | undefined;
  /** A stub holds nothing: never charged. */
  readonly isStub: (obj: T) => boolean;
  /** The stub kept instead of `obj`. */
  readonly stub: (obj: T, why: Refusal) => T;
}

/** Refused versions remembered so that relists do not count them again; beyond this many, forgotten. */
const MAX_REMEMBERED_REFUSALS = 10_000;

interface Charge { objects: number; bytes: number }

export class NamespaceBudget<T> implements StoreBudget<T> {
  private readonly charges = new Map<string, Charge>();
  private readonly charged = new WeakSet<object>();
  private readonly refusals = new Map<Refusal['metric'], number>();
  /** Versions refused and still in the cache (or not yet seen to leave it). */
  private readonly refusedNow = new Set<string>();
  private totalBytes = 0;

  constructor(private readonly kind: BudgetedResource<T>, private readonly limits: NamespaceLimits) {}

  admit(obj: T): T {
    const own = this.kind.refused(obj);
    if (own !== undefined) this.refuse(obj, own);
    if (this.kind.isStub(obj)) return obj;
    const ns = this.kind.namespace(obj);
    const bytes = this.kind.bytes(obj);
    const charge = this.charges.get(ns) ?? { objects: 0, bytes: 0 };
    const why: Refusal | undefined = charge.objects + 1 > this.limits.maxObjects
      ? { reason: this.kind.namespaceReason, metric: 'namespace_objects', message: `namespace ${ns} already has ${charge.objects} ${this.kind.resource} in the controller's cache, the most it may (${this.kind.flags.objects} ${this.limits.maxObjects})` }
      : charge.bytes + bytes > this.limits.maxBytes
        ? { reason: this.kind.namespaceReason, metric: 'namespace_bytes', message: `namespace ${ns} would hold ${charge.bytes + bytes} bytes of ${this.kind.resource} in the controller's cache, above ${this.kind.flags.bytes} ${this.limits.maxBytes}` }
        : undefined;
    if (why !== undefined) {
      this.refuse(obj, why);
      return this.kind.stub(obj, why);
    }
    charge.objects++;
    charge.bytes += bytes;
    this.charges.set(ns, charge);
    this.totalBytes += bytes;
    if (typeof obj === 'object' && obj !== null) this.charged.add(obj);
    return obj;
  }

  release(obj: T): void {
    this.refusedNow.delete(this.kind.version(obj));
    if (typeof obj !== 'object' || obj === null || !this.charged.has(obj)) return;
    this.charged.delete(obj);
    const ns = this.kind.namespace(obj);
    const charge = this.charges.get(ns);
    if (charge === undefined) return;
    const bytes = this.kind.bytes(obj);
    charge.objects--;
    charge.bytes -= bytes;
    this.totalBytes -= bytes;
    if (charge.objects <= 0) this.charges.delete(ns);
  }

  reset(): void {
    this.charges.clear();
    this.totalBytes = 0;
  }

  stats(): BudgetStats {
    return { resource: this.kind.resource, bytes: this.totalBytes, refusedObjects: this.refusedNow.size, refused: new Map(this.refusals) };
  }

  private refuse(obj: T, why: Refusal): void {
    const version = this.kind.version(obj);
    if (this.refusedNow.has(version)) return;
    if (this.refusedNow.size >= MAX_REMEMBERED_REFUSALS) this.refusedNow.clear();
    this.refusedNow.add(version);
    this.refusals.set(why.metric, (this.refusals.get(why.metric) ?? 0) + 1);
  }
}

export interface BudgetStats {
  readonly resource: string;
  /** Bytes charged now, all namespaces. */
  readonly bytes: number;
  /** Objects held as stubs now (refused, or with a refused key). */
  readonly refusedObjects: number;
  /** Refused object versions since start, by reason. */
  readonly refused: ReadonlyMap<Refusal['metric'], number>;
}
