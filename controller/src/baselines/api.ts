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
  /** Creates the identity's AgentBaseline (spec.serviceAccount only); an existing one is left as it is. */
  createBaseline(namespace: string, serviceAccount: string): Promise<void>;
  writeStatus(namespace: string, name: string, status: BaselineStatus): Promise<void>;
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
        await api().createNamespacedCustomObject({
          group, version, namespace, plural,
          body: { apiVersion: `${group}/${version}`, kind: BASELINE_KIND, metadata: { name: serviceAccount, namespace, labels: { 'app.kubernetes.io/managed-by': 'agentwarden' } }, spec: { serviceAccount } },
        });
      } catch (e: unknown) {
        if (!isStatus(e, 409)) throw e;
      }
    },
    async writeStatus(namespace, name, status) {
      await api().patchNamespacedCustomObjectStatus({ group, version, namespace, plural, name, body: [{ op: 'add', path: '/status', value: status }] });
    },
  };
}
