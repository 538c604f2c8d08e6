// What `agentwarden explain` reads from the API server (kubeconfig as kubectl):
// the policy a decision names, as it is now, and the AgentAccessRequest a
// grant or an approval names.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { connectAccessRequests, GROUP, VERSION, type AccessRequestObject } from '../access/kube.js';

/** A policy as stored now: which object, its generation, its rules. */
export interface PolicyNow {
  /** "AgentPolicy support/support-agent" or "ClusterAgentPolicy platform-egress". */
  readonly object: string;
  readonly generation: number | undefined;
  readonly rules: readonly Readonly<Record<string, unknown>>[];
}

export interface ExplainKube {
  /** The AgentPolicy `name` in `namespace`, else the ClusterAgentPolicy `name`; undefined when neither exists. */
  policy(namespace: string, name: string): Promise<PolicyNow | undefined>;
  accessRequest(namespace: string, name: string): Promise<AccessRequestObject | undefined>;
}

interface PolicyObject {
  readonly metadata?: { readonly generation?: number };
  readonly spec?: { readonly rules?: unknown };
}

export function connectExplainKube(kc: KubeConfig): ExplainKube {
  const api = kc.makeApiClient(CustomObjectsApi);
  const requests = connectAccessRequests(kc);
  const notFound = (e: unknown): boolean => typeof e === 'object' && e !== null && 'code' in e && e.code === 404;
  const orUndefined = async <T>(p: Promise<T>): Promise<T | undefined> => p.catch((e: unknown) => {
    if (notFound(e) || (typeof e === 'object' && e !== null && 'status' in e && e.status === 404)) return undefined;
    throw e;
  });
  const toNow = (object: string, o: PolicyObject): PolicyNow => ({
    object,
    generation: o.metadata?.generation,
    rules: Array.isArray(o.spec?.rules) ? (o.spec.rules as unknown[]).filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null) : [],
  });
  return {
    async policy(namespace, name) {
      if (namespace !== '') {
        const namespaced = await orUndefined(api.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'agentpolicies', namespace, name }) as Promise<PolicyObject>);
        if (namespaced !== undefined) return toNow(`AgentPolicy ${namespace}/${name}`, namespaced);
      }
      const cluster = await orUndefined(api.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'clusteragentpolicies', name }) as Promise<PolicyObject>);
      return cluster === undefined ? undefined : toNow(`ClusterAgentPolicy ${name}`, cluster);
    },
    accessRequest: (namespace, name) => orUndefined(requests.get(namespace, name)),
  };
}
