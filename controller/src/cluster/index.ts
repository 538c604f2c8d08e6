// ClusterAgentPolicies wired to the controller's caches (DESIGN.md "Platform
// guardrails"): an informer for them and one for namespace labels (their
// namespaceSelectors), and the reconciler's policies cache seen as AgentPolicies
// and ClusterAgentPolicies together. The reconciler and status writer tell the
// two kinds apart by `kind`.
import type { KubernetesObject, V1Namespace, Watch } from '@kubernetes/client-node';
import { Informer, type InformerOptions, type InformerStats } from '../kube/informer.js';
import { slimNamespace, type AgentPolicyObject, type SlimNamespace } from '../kube/objects.js';
import type { Cache } from '../reconcile/reconciler.js';
import type { NamespaceLabelsLookup } from '../reconcile/snapshots.js';
import { CLUSTER_PLURAL, type ClusterPolicyApi } from './api.js';

export { connectClusterPolicyApi, CLUSTER_PLURAL, type ClusterPolicyApi } from './api.js';

export interface ClusterPolicyWiring {
  readonly api: ClusterPolicyApi;
  readonly watch: Watch;
  /** "/apis/agentwarden.io/v1alpha1" */
  readonly apiPath: string;
  readonly onChange: () => void;
  readonly log: InformerOptions<KubernetesObject>['log'];
}

export interface ClusterPolicyCaches {
  readonly clusterPolicies: Informer<AgentPolicyObject>;
  readonly namespaces: Informer<SlimNamespace>;
  readonly namespaceLabels: NamespaceLabelsLookup;
  /** `policies` and the ClusterAgentPolicies as one cache, synced when all three informers are. */
  withNamespaced(policies: Cache<AgentPolicyObject>): Cache<AgentPolicyObject>;
}

/** The informers (not started) and the views the reconciler and status writer read. */
export function clusterPolicyCaches(w: ClusterPolicyWiring): ClusterPolicyCaches {
  const clusterPolicies = new Informer<AgentPolicyObject>({
    name: CLUSTER_PLURAL, path: `${w.apiPath}/${CLUSTER_PLURAL}`, list: () => w.api.listClusterPolicies(), watch: w.watch, onChange: w.onChange, log: w.log,
    // The watch of a cluster-scoped kind carries the kind; a list item may not: set it so the reconciler can tell.
    transform: (o) => withKind(o as AgentPolicyObject),
  });
  const namespaces = new Informer<SlimNamespace>({
    name: 'namespace-labels', path: '/api/v1/namespaces', list: () => w.api.listNamespaces(), watch: w.watch, onChange: w.onChange, log: w.log,
    transform: (o) => slimNamespace(o as V1Namespace),
  });
  const namespaceLabels: NamespaceLabelsLookup = (ns) => namespaces.get(undefined, ns)?.metadata.labels;
  return {
    clusterPolicies, namespaces, namespaceLabels,
    withNamespaced: (policies) => ({
      list: () => [...clusterPolicies.list().map(withKind), ...policies.list()],
      get: (namespace, name) => (namespace === undefined || namespace === '' ? clusterPolicies.get(undefined, name) : policies.get(namespace, name)),
      stats: (): InformerStats => {
        const all = [policies.stats(), clusterPolicies.stats(), namespaces.stats()];
        return {
          synced: all.every((s) => s.synced),
          staleMs: Math.max(...all.map((s) => s.staleMs)),
          restarts: all.reduce((n, s) => n + s.restarts, 0),
          relists: all.reduce((n, s) => n + s.relists, 0),
          objects: all[0]?.objects ?? 0,
        };
      },
    }),
  };
}

function withKind(o: AgentPolicyObject): AgentPolicyObject {
  return o.kind === 'ClusterAgentPolicy' ? o : { ...o, kind: 'ClusterAgentPolicy' };
}
