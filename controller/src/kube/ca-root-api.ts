// The Kubernetes calls of the CA root publisher: the namespace list for its
// informer, and get, create and replace of one ConfigMap per namespace (the
// chart's ClusterRole grants exactly these).
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { ListResult } from './informer.js';
import { slimNamespace, type SlimNamespace } from './objects.js';
import { isNotFound } from '../status/leader.js';

export interface CaRootApi {
  listNamespaces(): Promise<ListResult<SlimNamespace>>;
  /** The ConfigMap; undefined when it does not exist. */
  readConfigMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  createConfigMap(namespace: string, body: V1ConfigMap): Promise<void>;
  /** An update with body.metadata.resourceVersion: fails (409) when the object changed since it was read. */
  replaceConfigMap(namespace: string, name: string, body: V1ConfigMap): Promise<void>;
}

export function connectCaRootApi(kc: KubeConfig): CaRootApi {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async listNamespaces() {
      const list = await core.listNamespace({});
      return { items: list.items.map(slimNamespace), resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async readConfigMap(namespace, name) {
      try {
        return await core.readNamespacedConfigMap({ namespace, name });
      } catch (e: unknown) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async createConfigMap(namespace, body) {
      await core.createNamespacedConfigMap({ namespace, body });
    },
    async replaceConfigMap(namespace, name, body) {
      await core.replaceNamespacedConfigMap({ namespace, name, body });
    },
  };
}
