// The CLI's Kubernetes I/O for AgentAccessRequests: the kubeconfig found as
// kubectl finds it (--kubeconfig, else KUBECONFIG, else ~/.kube/config;
// --context; the context's namespace), and the four calls the commands make.
// API errors become AccessApiError with the API server's own message (a
// webhook's refusal reads as the webhook wrote it).
import { readFileSync } from 'node:fs';
import { ApiException, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { InputError } from '../../../policy/io/manifests.js';

export const GROUP = 'agentwarden.io';
export const VERSION = 'v1alpha1';
export const PLURAL = 'agentaccessrequests';
export const KIND = 'AgentAccessRequest';

/** An AgentAccessRequest as the API server returns it (only what the CLI reads is typed). */
export interface AccessRequestObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly resourceVersion?: string; readonly creationTimestamp?: string; readonly uid?: string };
  readonly spec: Readonly<Record<string, unknown>>;
  readonly status?: Readonly<Record<string, unknown>>;
}

export interface KubeTarget {
  /** --kubeconfig; undefined: KUBECONFIG, else ~/.kube/config, else in-cluster. */
  readonly kubeconfig: string | undefined;
  /** --context; undefined: the kubeconfig's current context. */
  readonly context: string | undefined;
}

/** The API calls the access commands make. */
export interface AccessRequestApi {
  /** The context's namespace ("default" when it names none): what -n defaults to. */
  readonly defaultNamespace: string;
  get(namespace: string, name: string): Promise<AccessRequestObject>;
  create(object: AccessRequestObject): Promise<AccessRequestObject>;
  /** A JSON merge patch of the status subresource. */
  patchStatus(namespace: string, name: string, patch: Readonly<Record<string, unknown>>): Promise<AccessRequestObject>;
  /** In one namespace, or in all (namespace undefined). */
  list(namespace: string | undefined): Promise<AccessRequestObject[]>;
}

/** The API server said no (or could not be reached): its HTTP status (0 when none) and message. */
export class AccessApiError extends Error {
  constructor(readonly status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AccessApiError';
  }
}

export function loadKubeConfig(target: KubeTarget): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (target.kubeconfig !== undefined) {
      readFileSync(target.kubeconfig); // a clear ENOENT naming the file, before client-node's own error
      kc.loadFromFile(target.kubeconfig);
    } else {
      kc.loadFromDefault();
    }
  } catch (e: unknown) {
    throw new InputError(`kubeconfig ${target.kubeconfig ?? '(KUBECONFIG or ~/.kube/config)'}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (target.context !== undefined) {
    if (kc.getContextObject(target.context) === null) throw new InputError(`--context: no context "${target.context}" in the kubeconfig (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
    kc.setCurrentContext(target.context);
  }
  if (kc.getCurrentCluster() === null) throw new InputError('kubeconfig: no cluster for the current context; give --kubeconfig or --context');
  return kc;
}

export function connectAccessRequests(kc: KubeConfig): AccessRequestApi {
  const api = kc.makeApiClient(CustomObjectsApi);
  const at = { group: GROUP, version: VERSION, plural: PLURAL };
  const server = kc.getCurrentCluster()?.server ?? '';
  const call = <T = AccessRequestObject>(request: Promise<unknown>): Promise<T> => request.then((v) => v as T, (e: unknown) => {
    throw apiError(e, server);
  });
  return {
    defaultNamespace: kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default',
    get: (namespace, name) => call(api.getNamespacedCustomObject({ ...at, namespace, name })),
    create: (object) => call(api.createNamespacedCustomObject({ ...at, namespace: object.metadata.namespace, body: object })),
    patchStatus: (namespace, name, patch) => call(api.patchNamespacedCustomObjectStatus({ ...at, namespace, name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))),
    async list(namespace) {
      const items: AccessRequestObject[] = [];
      let cont: string | undefined;
      do {
        const page = await call<{ items?: AccessRequestObject[]; metadata?: { continue?: string; _continue?: string } }>(namespace === undefined
          ? api.listClusterCustomObject({ ...at, limit: 500, _continue: cont })
          : api.listNamespacedCustomObject({ ...at, namespace, limit: 500, _continue: cont }));
        items.push(...(page.items ?? []));
        const next = page.metadata?.continue ?? page.metadata?._continue ?? '';
        cont = next === '' ? undefined : next;
      } while (cont !== undefined);
      return items;
    },
  };
}

/** The API server's Status message when there is one, else why it could not be reached. */
export function apiError(e: unknown, server: string): AccessApiError {
  if (e instanceof ApiException) {
    const status = e.code;
    const body: unknown = typeof e.body === 'string' ? parseJson(e.body) : e.body;
    const message = typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string' ? body.message : `HTTP ${status}`;
    return new AccessApiError(status, message, { cause: e });
  }
  // fetch says "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, a TLS error...).
  const cause = e instanceof Error ? e.cause : undefined;
  const why = cause instanceof Error ? ('code' in cause && typeof cause.code === 'string' ? `${cause.code}: ${cause.message}` : cause.message) : '';
  return new AccessApiError(0, `cannot reach the API server ${server}: ${e instanceof Error ? e.message : String(e)}${why === '' ? '' : ` (${why})`}`, { cause: e });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
