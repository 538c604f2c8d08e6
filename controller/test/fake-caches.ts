// A cache as the reconciler and the status writer read an informer: objects in
// memory, listed (synced) or not yet.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { InformerStats } from '../src/kube/informer.js';
import type { Cache } from '../src/reconcile/reconciler.js';

export class FakeCache<T extends KubernetesObject> implements Cache<T> {
  synced = true;
  staleMs = 0;

  constructor(public items: T[] = []) {}

  list(): T[] { return [...this.items]; }
  get(namespace: string | undefined, name: string): T | undefined {
    return this.items.find((o) => (o.metadata?.namespace ?? '') === (namespace ?? '') && o.metadata?.name === name);
  }
  stats(): InformerStats { return { synced: this.synced, staleMs: this.staleMs, restarts: 0, relists: this.synced ? 1 : 0, objects: this.items.length }; }
}
