// The controller's Kubernetes I/O: list functions for the informers (with the
// selectors their watches use), TokenReview, and AgentPolicy status writes.
// Everything else is pure.
import { readFileSync } from 'node:fs';
import {
  AuthenticationV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, Watch,
} from '@kubernetes/client-node';
import type { ListResult } from './informer.js';
import type { V1Secret } from '@kubernetes/client-node';
import { POD_FIELD_SELECTOR, slimPod, type AgentPolicyObject, type SlimPod, type SlimSecret } from './objects.js';
import { CREDENTIAL_SELECTOR } from './credentials.js';
import type { TokenReviewResult } from '../distribution/auth.js';

export const GROUP = 'agentwarden.io';
export const VERSION = 'v1alpha1';
export const PLURAL = 'agentpolicies';

export interface Kube {
  readonly config: KubeConfig;
  readonly watch: Watch;
  readonly coordination: CoordinationV1Api;
  listPolicies(): Promise<ListResult<AgentPolicyObject>>;
  /** Pods not terminated (POD_FIELD_SELECTOR). */
  listPods(): Promise<ListResult<SlimPod>>;
  /** Secrets labelled agentwarden.io/credential=true only, each slimmed by `slim`. */
  listSecrets(slim: (secret: V1Secret) => SlimSecret): Promise<ListResult<SlimSecret>>;
  reviewToken(token: string, audiences: readonly string[]): Promise<TokenReviewResult>;
  writeStatus(namespace: string, name: string, status: unknown): Promise<void>;
  /** A namespace's labels; undefined when it does not exist. */
  namespaceLabels(name: string): Promise<Readonly<Record<string, string>> | undefined>;
}

export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) {
    readFileSync(file); // a clear ENOENT naming the file, before client-node's own error
    kc.loadFromFile(file);
  } else {
    kc.loadFromDefault();
  }
  return kc;
}

export function connectKube(kc: KubeConfig): Kube {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const authn = kc.makeApiClient(AuthenticationV1Api);
  return {
    config: kc,
    watch: new Watch(kc),
    coordination: kc.makeApiClient(CoordinationV1Api),
    async listPolicies() {
      const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items?: AgentPolicyObject[]; metadata?: { resourceVersion?: string } };
      return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async listPods() {
      const list = await core.listPodForAllNamespaces({ fieldSelector: POD_FIELD_SELECTOR });
      return { items: list.items.map(slimPod), resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async listSecrets(slim) {
      const list = await core.listSecretForAllNamespaces({ labelSelector: CREDENTIAL_SELECTOR });
      return { items: list.items.map(slim), resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async reviewToken(token, audiences) {
      const review = await authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [...audiences] } } });
      const s = review.status;
      return {
        authenticated: s?.authenticated === true,
        username: s?.user?.username ?? '',
        extra: s?.user?.extra ?? {},
        audiences: s?.audiences ?? [],
        error: s?.error ?? '',
      };
    },
    async namespaceLabels(name) {
      try {
        return (await core.readNamespace({ name })).metadata?.labels ?? {};
      } catch (e: unknown) {
        if (typeof e === 'object' && e !== null && 'code' in e && (e).code === 404) return undefined;
        throw e;
      }
    },
    async writeStatus(namespace, name, status) {
      await custom.patchNamespacedCustomObjectStatus({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: [{ op: 'add', path: '/status', value: status }] });
    },
  };
}
