// The Kubernetes calls for ClusterAgentPolicies: list (the informer's), status
// writes, and the namespace list whose labels namespaceSelectors read. The
// chart's ClusterRole grants exactly these.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ListResult } from '../kube/informer.js';
import { slimNamespace, type AgentPolicyObject, type SlimNamespace } from '../kube/objects.js';
import { isNotFound } from '../status/leader.js';

export const CLUSTER_PLURAL = 'clusteragentpolicies';

export interface ClusterPolicyApi {
  listClusterPolicies(): Promise<ListResult<AgentPolicyObject>>;
  listNamespaces(): Promise<ListResult<SlimNamespace>>;
  writeClusterStatus(name: string, status: unknown): Promise<void>;
}

/** The clients are made on first use, so that a controller on a fake Kube (tests) starts without a cluster. */
export function connectClusterPolicyApi(kc: KubeConfig, group: string, version: string): ClusterPolicyApi {
  let clients: { readonly custom: CustomObjectsApi; readonly core: CoreV1Api } | undefined;
  const api = (): { readonly custom: CustomObjectsApi; readonly core: CoreV1Api } => (clients ??= { custom: kc.makeApiClient(CustomObjectsApi), core: kc.makeApiClient(CoreV1Api) });
  return {
    async listClusterPolicies() {
      let list: { items?: AgentPolicyObject[]; metadata?: { resourceVersion?: string } };
      try {
        list = (await api().custom.listClusterCustomObject({ group, version, plural: CLUSTER_PLURAL })) as typeof list;
      } catch (e: unknown) {
        // The ClusterAgentPolicy CRD is not installed (an older chart): then there are none,
        // which is the truth, not a guess; the informer's watch keeps retrying and finds them once it is.
        if (isNotFound(e)) return { items: [], resourceVersion: '' };
        throw e;
      }
      return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async listNamespaces() {
      const list = await api().core.listNamespace({});
      return { items: list.items.map(slimNamespace), resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async writeClusterStatus(name, status) {
      await api().custom.patchClusterCustomObjectStatus({ group, version, plural: CLUSTER_PLURAL, name, body: [{ op: 'add', path: '/status', value: status }] });
    },
  };
}
