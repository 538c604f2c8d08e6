// The CLI's Kubernetes I/O for AgentBaselines (issue 17): read one, JSON-merge-
// patch its spec (accepted operations, releases) at the resourceVersion read,
// and read a pod's ServiceAccount (whose baseline a pod's release goes to).
// Errors are the access commands' AccessApiError, with the API server's message.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { apiError, GROUP, VERSION } from '../access/kube.js';

export const BASELINE_PLURAL = 'agentbaselines';

export interface AgentBaselineObject {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly resourceVersion?: string };
  readonly spec?: { readonly serviceAccount?: string; readonly accepted?: readonly string[]; readonly releases?: readonly { readonly pod: string; readonly at: string; readonly by?: string }[] };
  readonly status?: Readonly<Record<string, unknown>>;
}

export interface BaselineApi {
  readonly defaultNamespace: string;
  get(namespace: string, name: string): Promise<AgentBaselineObject>;
  /** A JSON merge patch of the object, refused (409) when it changed since `resourceVersion`. */
  patchSpec(namespace: string, name: string, resourceVersion: string, spec: Readonly<Record<string, unknown>>): Promise<AgentBaselineObject>;
  podServiceAccount(namespace: string, pod: string): Promise<string>;
}

export function connectBaselines(kc: KubeConfig): BaselineApi {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const at = { group: GROUP, version: VERSION, plural: BASELINE_PLURAL };
  const server = kc.getCurrentCluster()?.server ?? '';
  const call = <T>(request: Promise<unknown>): Promise<T> => request.then((v) => v as T, (e: unknown) => {
    throw apiError(e, server);
  });
  return {
    defaultNamespace: kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default',
    get: (namespace, name) => call(custom.getNamespacedCustomObject({ ...at, namespace, name })),
    patchSpec: (namespace, name, resourceVersion, spec) => call(custom.patchNamespacedCustomObject(
      { ...at, namespace, name, body: { metadata: { resourceVersion }, spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )),
    podServiceAccount: async (namespace, pod) => (await call<{ spec?: { serviceAccountName?: string } }>(core.readNamespacedPod({ namespace, name: pod }))).spec?.serviceAccountName ?? 'default',
  };
}
