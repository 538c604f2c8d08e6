// The CA root publisher wired to the controller's caches: a namespaces informer
// of its own (reusing Informer) and the controller's pods informer.
import type { Watch } from '@kubernetes/client-node';
import type { CaRootConfig } from './options.js';
import type { CaRootApi } from '../kube/ca-root-api.js';
import { Informer, type InformerOptions } from '../kube/informer.js';
import { slimNamespace, type SlimNamespace, type SlimPod } from '../kube/objects.js';
import type { V1Namespace } from '@kubernetes/client-node';
import { CaRootPublisher } from './publisher.js';

export { CaRootPublisher } from './publisher.js';

export interface CaRootWiring {
  readonly config: CaRootConfig;
  readonly api: CaRootApi;
  readonly watch: Watch;
  readonly pods: Informer<SlimPod>;
  readonly mayWrite: () => boolean;
  readonly fileReloadMs: number;
  readonly log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  readonly informerLog: InformerOptions<SlimNamespace>['log'];
}

/** The publisher and its namespaces informer, neither started. The pods informer's changes must call publisher.trigger(). */
export function caRootFromCaches(w: CaRootWiring): { readonly namespaces: Informer<SlimNamespace>; readonly publisher: CaRootPublisher } {
  const namespaces: Informer<SlimNamespace> = new Informer<SlimNamespace>({
    name: 'namespaces', path: '/api/v1/namespaces', list: () => w.api.listNamespaces(), watch: w.watch,
    onChange: () => { publisher.trigger(); }, log: w.informerLog, transform: (o) => slimNamespace(o as V1Namespace),
  });
  const publisher = new CaRootPublisher({
    api: w.api, file: w.config.file, configMapName: w.config.configMapName,
    scope: { namespaceLabels: w.config.namespaceLabels, excludeNamespaces: w.config.excludeNamespaces },
    namespaces: () => namespaces.list().map((n) => ({ name: n.metadata.name, labels: n.metadata.labels, terminating: n.terminating })),
    pods: () => w.pods.list().map((p) => ({ namespace: p.metadata.namespace, labels: p.metadata.labels })),
    synced: () => namespaces.stats().synced && w.pods.stats().synced,
    mayWrite: w.mayWrite,
    log: w.log,
    fileReloadMs: w.fileReloadMs,
  });
  return { namespaces, publisher };
}
