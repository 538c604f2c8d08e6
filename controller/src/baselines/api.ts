// The Kubernetes calls of baselines: the AgentBaseline list (the informer's),
// creating one per agent identity, and replacing its status. The chart's
// ClusterRole grants exactly these.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ListResult } from '../kube/informer.js';
import { paged } from '../kube/api.js';
import { isStatus } from '../approvals/api.js';
import { BASELINE_KIND, BASELINE_PLURAL, type AgentBaselineObject, type BaselineStatus } from './objects.js';

export interface BaselineApi {
  listBaselines(): Promise<ListResult<AgentBaselineObject>>;
  /** Creates the identity's AgentBaseline (spec.serviceAccount only) and returns its resourceVersion; an existing one is left as it is (undefined). */
  createBaseline(namespace: string, serviceAccount: string): Promise<string | undefined>;
  /**
   * Replaces status, only when the object is still at `resourceVersion` (another replica
   * may have written since: the API server refuses, 422); returns the new resourceVersion.
   */
  writeStatus(namespace: string, name: string, status: BaselineStatus, resourceVersion: string): Promise<string>;
}

/** The client is made on first use, so that a controller on a fake Kube (tests) starts without a cluster. */
export function connectBaselineApi(kc: KubeConfig, group: string, version: string, listPageSize: number): BaselineApi {
  let client: CustomObjectsApi | undefined;
  const api = (): CustomObjectsApi => (client ??= kc.makeApiClient(CustomObjectsApi));
  const plural = BASELINE_PLURAL;
  return {
    async listBaselines() {
      try {
        return await paged((limit, cont) => api().listClusterCustomObject({ group, version, plural, limit, _continue: cont }) as Promise<{ items: AgentBaselineObject[] }>, listPageSize, (o) => o);
      } catch (e: unknown) {
        // The CRD is not installed (an older chart): there are none; the watch retries until it is.
        if (isStatus(e, 404)) return { items: [], resourceVersion: '' };
        throw e;
      }
    },
    async createBaseline(namespace, serviceAccount) {
      try {
        const created = await api().createNamespacedCustomObject({
          group, version, namespace, plural,
          body: { apiVersion: `${group}/${version}`, kind: BASELINE_KIND, metadata: { name: serviceAccount, namespace, labels: { 'app.kubernetes.io/managed-by': 'agentwarden' } }, spec: { serviceAccount } },
        }) as AgentBaselineObject;
        return created.metadata?.resourceVersion;
      } catch (e: unknown) {
        if (!isStatus(e, 409)) throw e;
        return undefined;
      }
    },
    async writeStatus(namespace, name, status, resourceVersion) {
      const written = await api().patchNamespacedCustomObjectStatus({
        group, version, namespace, plural, name,
        body: [{ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion }, { op: 'add', path: '/status', value: status }],
      }) as AgentBaselineObject;
      return written.metadata?.resourceVersion ?? '';
    },
  };
}
