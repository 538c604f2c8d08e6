// The controller's Kubernetes I/O: list functions for the informers (with the
// selectors their watches use), TokenReview, and AgentPolicy status writes.
// Everything else is pure.
import { readFileSync } from 'node:fs';
import {
  AuthenticationV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, Watch,
} from '@kubernetes/client-node';
import type { ListResult } from './informer.js';
import { shareDispatchers } from './dispatcher.js';
import { ConcurrencyLimit } from './concurrency.js';
import type { V1Secret } from '@kubernetes/client-node';
import { POD_SELECTOR, slimPod, type AgentPolicyObject, type SlimPod, type SlimSecret } from './objects.js';
import { CREDENTIAL_SELECTOR } from './credentials.js';
import type { TokenReviewResult } from '../distribution/auth.js';

export const GROUP = 'agentwarden.io';
export const VERSION = 'v1alpha1';
export const PLURAL = 'agentpolicies';

export interface Kube {
  readonly config: KubeConfig;
  readonly watch: Watch;
  readonly coordination: CoordinationV1Api;
  /** Every AgentPolicy, each as `keep` makes it (kube/limits.ts limitPolicy), in pages. */
  listPolicies(keep?: (policy: AgentPolicyObject) => AgentPolicyObject): Promise<ListResult<AgentPolicyObject>>;
  /** Injected pods not terminated (POD_SELECTOR). */
  listPods(): Promise<ListResult<SlimPod>>;
  /** Secrets labelled agentwarden.io/credential=true only, each slimmed by `slim`, in pages. */
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

/** TokenReviews in flight at once; more wait in order (a reconnect storm of every sidecar). */
export const MAX_CONCURRENT_TOKEN_REVIEWS = 32;

/** Objects per page of the pods list (slimmed as each page comes). */
const POD_PAGE_SIZE = 500;

interface Page<R> {
  readonly items: readonly R[];
  readonly metadata?: { readonly resourceVersion?: string; readonly _continue?: string; readonly continue?: string };
}

/**
 * A list in pages of `limit`, each mapped before the next is fetched: the
 * controller never holds more than one page of full objects (a list of all
 * labelled Secrets at once would hold them all, up to 1 MiB each). An expired
 * continue token fails the list; the informer retries it from the start.
 */
export async function paged<R, T>(fetchPage: (limit: number, cont: string | undefined) => Promise<Page<R>>, limit: number, map: (raw: R) => T): Promise<ListResult<T>> {
  const items: T[] = [];
  let cont: string | undefined;
  let resourceVersion = '';
  do {
    const page = await fetchPage(limit, cont);
    for (const raw of page.items) items.push(map(raw));
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    const next = page.metadata?._continue ?? page.metadata?.continue ?? '';
    cont = next === '' ? undefined : next;
  } while (cont !== undefined);
  return { items, resourceVersion };
}

/** @param listPageSize objects per page of the AgentPolicy and Secret lists. */
export function connectKube(kc: KubeConfig, listPageSize = 10): Kube {
  // One connection pool per identity for every API client made from kc (kube/dispatcher.ts).
  shareDispatchers(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const reviews = new ConcurrencyLimit(MAX_CONCURRENT_TOKEN_REVIEWS);
  return {
    config: kc,
    watch: new Watch(kc),
    coordination: kc.makeApiClient(CoordinationV1Api),
    listPolicies(keep = (p) => p) {
      return paged(async (limit, cont) => {
        const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, limit, _continue: cont })) as { items?: AgentPolicyObject[]; metadata?: Page<unknown>['metadata'] };
        return { items: list.items ?? [], metadata: list.metadata };
      }, listPageSize, keep);
    },
    listPods() {
      return paged((limit, cont) => core.listPodForAllNamespaces({ ...POD_SELECTOR, limit, _continue: cont }), POD_PAGE_SIZE, slimPod);
    },
    listSecrets(slim) {
      return paged((limit, cont) => core.listSecretForAllNamespaces({ labelSelector: CREDENTIAL_SELECTOR, limit, _continue: cont }), listPageSize, slim);
    },
    async reviewToken(token, audiences) {
      const review = await reviews.run(() => authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [...audiences] } } }));
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
