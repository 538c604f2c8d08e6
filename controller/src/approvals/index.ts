// Approvals and break-glass in the controller (DESIGN.md "Approvals and
// break-glass", contract-15): the AgentAccessRequest cache (with the cache
// limits), the active grants of each pod for its snapshot, ApprovalNeeded and
// GrantUsed from the sidecars, the timers that end grants and pending
// requests, Events on pods and the notification webhook.
import type { AccessRequest } from '../../../policy/src/index.js';
import { Informer } from '../kube/informer.js';
import type { CrdWiring } from '../kube/crd-wiring.js';
import type { CacheLimits } from '../kube/limits.js';
import { podIdentity, type SlimPod } from '../kube/objects.js';
import type { NamespaceBudget } from '../kube/budget.js';
import type { ApprovalApi } from './api.js';
import { GrantBook, grantsOf } from './grants.js';
import { GrantLifecycle } from './lifecycle.js';
import { accessRequestBudget, limitAccessRequest } from './limits.js';
import { ApprovalMetrics } from './metrics.js';
import { WebhookNotifier, type Notification } from './notify.js';
import { ACCESS_REQUEST_PLURAL, type AccessRequestObject } from './objects.js';
import type { ApprovalOptions } from './options.js';
import { ApprovalRequests } from './requests.js';

export { connectApprovalApi, type ApprovalApi, type PodEvent } from './api.js';
export { DEFAULT_APPROVAL_OPTIONS, formatDuration, type ApprovalOptions } from './options.js';
export { ACCESS_REQUEST_PLURAL, type AccessRequestObject } from './objects.js';
export { ApprovalMetrics } from './metrics.js';

export interface ApprovalWiring extends CrdWiring {
  readonly options: ApprovalOptions;
  readonly limits: CacheLimits;
  readonly api: ApprovalApi;
}

export interface Approvals {
  readonly informer: Informer<AccessRequestObject>;
  readonly budget: NamespaceBudget<AccessRequestObject>;
  readonly metrics: ApprovalMetrics;
  readonly requests: ApprovalRequests;
  readonly lifecycle: GrantLifecycle;
  readonly notifier: WebhookNotifier | undefined;
  /** The pod's active grants now (for its snapshot). */
  grantsFor(pod: SlimPod): readonly AccessRequest[];
  start(): void;
  stop(): Promise<void>;
}

export function approvals(w: ApprovalWiring): Approvals {
  const metrics = new ApprovalMetrics();
  const budget = accessRequestBudget(w.limits);
  const keep = (o: AccessRequestObject): AccessRequestObject => limitAccessRequest(o, w.limits.maxAccessRequestBytes);
  const informer: Informer<AccessRequestObject> = new Informer<AccessRequestObject>({
    name: ACCESS_REQUEST_PLURAL, path: `${w.apiPath}/${ACCESS_REQUEST_PLURAL}`, list: () => w.api.listAccessRequests(keep), watch: w.watch,
    onChange: () => { w.onChange(); lifecycle.changed(); }, log: w.informerLog,
    transform: (o) => keep(o as AccessRequestObject), budget,
  });
  const book = new GrantBook((msg, fields) => { w.log('warn', msg, fields); });
  const secret = w.options.notifyWebhookSecret;
  const notifier = secret === undefined ? undefined : new WebhookNotifier({
    url: () => w.api.readSecretKey(secret.namespace, secret.name, 'url'), metrics, log: (l, m, f) => { w.log(l, m, f); },
  });
  // `anyReplica`: written by whichever replica made the change (ApprovalRequired follows the one create that succeeded).
  const event = (pod: SlimPod, reason: 'ApprovalRequired' | 'GrantApproved' | 'GrantExpired', message: string, anyReplica = false): void => {
    if (!anyReplica && !w.mayWrite()) return;
    w.api.createEvent({ namespace: pod.metadata.namespace, pod: pod.metadata.name, podUid: pod.metadata.uid, reason, message, type: reason === 'ApprovalRequired' ? 'Warning' : 'Normal' }).then(
      () => { ApprovalMetrics.inc(metrics.events, 'created'); },
      (e: unknown) => { ApprovalMetrics.inc(metrics.events, 'failed'); w.log('warn', 'cannot write an Event on the pod', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, reason, error: e instanceof Error ? e.message : String(e) }); },
    );
  };
  const log = (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void => { w.log(level, msg, fields); };
  // Every replica serves sidecars (issue 20), so ApprovalNeeded and GrantUsed arrive at any
  // replica, and any replica acts on them: a request's name is derived from its pod and
  // operation, so the API server's create lets exactly one replica make it (the others get
  // 409 and count a duplicate; only the creator writes the Event and notifies), and a grant's
  // uses are written with the resourceVersion read (a concurrent writer fails, not both win).
  const requests = new ApprovalRequests({
    api: w.api, requests: informer, pods: w.pods, snapshotFor: w.snapshotFor, options: w.options, metrics,
    notify: (n: Notification) => { notifier?.notify(n); }, event: (pod, reason, message) => { event(pod, reason, message, true); }, mayWrite: () => true, log,
  });
  const lifecycle: GrantLifecycle = new GrantLifecycle({
    api: w.api, requests: informer, pods: w.pods, options: w.options, metrics, mayWrite: w.mayWrite,
    grantsChanged: w.onChange, event, log,
  });
  return {
    informer, budget, metrics, requests, lifecycle, notifier,
    grantsFor: (pod) => grantsOf(book.approved(informer.list()), podIdentity(pod), Date.now()),
    start: () => { informer.start(); },
    stop: async () => {
      lifecycle.stop();
      notifier?.stop();
      await informer.stop();
    },
  };
}
