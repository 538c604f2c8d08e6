// The Kubernetes calls of approvals: the AgentAccessRequest list (the
// informer's), creating, deleting and ending requests, Events on pods, the
// notification webhook's Secret, and the fresh pod read of the webhook. The
// chart's ClusterRole grants exactly these.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ListResult } from '../kube/informer.js';
import { ACCESS_REQUEST_PLURAL, type AccessRequestObject } from './objects.js';

export interface ApprovalApi {
  listAccessRequests(keep: (o: AccessRequestObject) => AccessRequestObject): Promise<ListResult<AccessRequestObject>>;
  createAccessRequest(namespace: string, body: AccessRequestObject): Promise<AccessRequestObject>;
  /** Deletes the request of this uid only (a recreated one of the same name is another). */
  deleteAccessRequest(namespace: string, name: string, uid: string): Promise<void>;
  /** Replaces status, only when the object is still at `resourceVersion` (a human may have decided meanwhile). */
  writeStatus(namespace: string, name: string, resourceVersion: string, status: unknown): Promise<void>;
  createEvent(event: PodEvent): Promise<void>;
  /** The Secret's key, decoded; undefined when the Secret or key is missing. */
  readSecretKey(namespace: string, name: string, key: string): Promise<string | undefined>;
  /** The pod's ServiceAccount; undefined when it does not exist. */
  readPod(namespace: string, name: string): Promise<{ readonly serviceAccount: string } | undefined>;
}

export interface PodEvent {
  readonly namespace: string;
  readonly pod: string;
  readonly podUid: string;
  readonly reason: 'ApprovalRequired' | 'GrantApproved' | 'GrantExpired' | 'AnomalyDetected' | 'Quarantined' | 'QuarantineReleased';
  readonly message: string;
  readonly type: 'Normal' | 'Warning';
}

export function isStatus(e: unknown, code: number): boolean {
  return typeof e === 'object' && e !== null && 'code' in e && e.code === code;
}

/** The clients are made on first use, so that a controller on a fake Kube (tests) starts without a cluster. */
export function connectApprovalApi(kc: KubeConfig, group: string, version: string, listPageSize: number): ApprovalApi {
  let clients: { readonly custom: CustomObjectsApi; readonly core: CoreV1Api } | undefined;
  const api = (): { readonly custom: CustomObjectsApi; readonly core: CoreV1Api } => (clients ??= { custom: kc.makeApiClient(CustomObjectsApi), core: kc.makeApiClient(CoreV1Api) });
  const plural = ACCESS_REQUEST_PLURAL;
  return {
    async listAccessRequests(keep) {
      const items: AccessRequestObject[] = [];
      let cont: string | undefined;
      let resourceVersion = '';
      do {
        let page: { items?: AccessRequestObject[]; metadata?: { resourceVersion?: string; continue?: string; _continue?: string } };
        try {
          page = (await api().custom.listClusterCustomObject({ group, version, plural, limit: listPageSize, _continue: cont })) as typeof page;
        } catch (e: unknown) {
          // The CRD is not installed (an older chart): there are none; the watch retries until it is.
          if (isStatus(e, 404)) return { items: [], resourceVersion: '' };
          throw e;
        }
        for (const o of page.items ?? []) items.push(keep(o));
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        const next = page.metadata?._continue ?? page.metadata?.continue ?? '';
        cont = next === '' ? undefined : next;
      } while (cont !== undefined);
      return { items, resourceVersion };
    },
    async createAccessRequest(namespace, body) {
      return (await api().custom.createNamespacedCustomObject({ group, version, namespace, plural, body })) as AccessRequestObject;
    },
    async deleteAccessRequest(namespace, name, uid) {
      try {
        await api().custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name, body: { preconditions: { uid } } });
      } catch (e: unknown) {
        if (!isStatus(e, 404)) throw e;
      }
    },
    async writeStatus(namespace, name, resourceVersion, status) {
      await api().custom.patchNamespacedCustomObjectStatus({
        group, version, namespace, plural, name,
        body: [{ op: 'test', path: '/metadata/resourceVersion', value: resourceVersion }, { op: 'add', path: '/status', value: status }],
      });
    },
    async createEvent(e) {
      const now = new Date();
      await api().core.createNamespacedEvent({
        namespace: e.namespace,
        body: {
          metadata: { generateName: `${e.pod}.`, namespace: e.namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Pod', name: e.pod, namespace: e.namespace, uid: e.podUid },
          reason: e.reason, message: e.message.slice(0, 1024), type: e.type,
          source: { component: 'agentwarden-controller' },
          firstTimestamp: now, lastTimestamp: now, count: 1,
        },
      });
    },
    async readSecretKey(namespace, name, key) {
      try {
        const s = await api().core.readNamespacedSecret({ namespace, name });
        const v = s.data?.[key];
        return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8').trim();
      } catch (e: unknown) {
        if (isStatus(e, 404)) return undefined;
        throw e;
      }
    },
    async readPod(namespace, name) {
      try {
        const p = await api().core.readNamespacedPod({ namespace, name });
        return { serviceAccount: p.spec?.serviceAccountName ?? 'default' };
      } catch (e: unknown) {
        if (isStatus(e, 404)) return undefined;
        throw e;
      }
    },
  };
}
