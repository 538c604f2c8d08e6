// The slices of Kubernetes objects the controller keeps: pods slimmed to their
// identity, secrets to the keys policies read (kube/credentials.ts), namespaces
// to their labels, policies as they come (parsed on demand).
import type { KubernetesObject, V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { PodIdentity } from '../../../policy/src/index.js';
import { CAPTURE_ANNOTATION, INJECTED_LABEL, INJECTED_LABEL_VALUE } from '../inject/names.js';
import type { Refusal } from './budget.js';

export interface SlimPod extends KubernetesObject {
  readonly metadata: { name: string; namespace: string; uid: string; resourceVersion: string; labels: Record<string, string> };
  readonly serviceAccount: string;
  readonly phase: string;
  /** metadata.deletionTimestamp is set: the pod is going away, its sidecar's stream is closed. */
  readonly deleting: boolean;
  /** agentwarden.io/capture: proxy-env pods are governed only as far as the agent honours HTTP_PROXY. */
  readonly cooperativeCapture: boolean;
}

/** The pod label the injector sets (inject/names.ts): the pods informer selects on it. */
export { INJECTED_LABEL, INJECTED_LABEL_VALUE };
/** The label selector of the pods list and watch. */
export const POD_LABEL_SELECTOR = `${INJECTED_LABEL}=${INJECTED_LABEL_VALUE}`;

/**
 * The pods the controller lists and watches: injected (POD_LABEL_SELECTOR) and
 * running or about to (a pod that has terminated has no sidecar to serve and
 * selects nothing).
 */
export const POD_FIELD_SELECTOR = 'status.phase!=Succeeded,status.phase!=Failed';

/** Both selectors of the pods list and watch. */
export const POD_SELECTOR = { labelSelector: POD_LABEL_SELECTOR, fieldSelector: POD_FIELD_SELECTOR } as const;

/** Keeps what the controller needs of a pod; the informer stores these, not whole pods. */
export function slimPod(pod: V1Pod): SlimPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.metadata?.name ?? '',
      namespace: pod.metadata?.namespace ?? '',
      uid: pod.metadata?.uid ?? '',
      resourceVersion: pod.metadata?.resourceVersion ?? '',
      labels: { ...(pod.metadata?.labels ?? {}) },
    },
    serviceAccount: pod.spec?.serviceAccountName ?? 'default',
    phase: pod.status?.phase ?? '',
    deleting: pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
    cooperativeCapture: (pod.metadata?.annotations?.[CAPTURE_ANNOTATION] ?? '').trim() === 'proxy-env',
  };
}

export function podIdentity(pod: SlimPod): PodIdentity {
  return { namespace: pod.metadata.namespace, name: pod.metadata.name, serviceAccount: pod.serviceAccount, labels: pod.metadata.labels };
}

export function isTerminated(pod: SlimPod): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed';
}

/** A labelled credential Secret with only the keys policies read (kube/credentials.ts). */
export interface SlimSecret extends KubernetesObject {
  readonly metadata: { name: string; namespace: string; resourceVersion: string };
  readonly data: Readonly<Record<string, string>>;
  /** The whole Secret was refused (its namespace is over a limit): data is empty. */
  readonly refused?: Refusal;
  /** Keys policies read whose values were refused (too large), and why. */
  readonly refusedKeys?: Readonly<Record<string, Refusal>>;
}

/** An AgentPolicy as stored by the API server. */
export interface AgentPolicyObject extends KubernetesObject {
  readonly spec?: unknown;
  readonly status?: unknown;
  /** Refused by the controller's cache limits (kube/limits.ts): the spec is not kept. */
  readonly refused?: Refusal;
}

export interface SlimNamespace extends KubernetesObject {
  readonly metadata: { name: string; resourceVersion: string; labels: Record<string, string> };
  /** Being deleted (status.phase Terminating or a deletionTimestamp). */
  readonly terminating: boolean;
}

export function slimNamespace(ns: V1Namespace): SlimNamespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ns.metadata?.name ?? '', resourceVersion: ns.metadata?.resourceVersion ?? '', labels: { ...(ns.metadata?.labels ?? {}) } },
    terminating: ns.status?.phase === 'Terminating' || ns.metadata?.deletionTimestamp !== undefined,
  };
}
