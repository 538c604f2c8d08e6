// /validate-pods, the pod guard (pure): an agent pod must not be able to slip
// past the traffic capture or reach agentwarden's own containers. Agent pods
// are those in a namespace labelled agentwarden.io/inject=enabled, and those
// labelled so themselves (before or after an update). Runs after every
// mutating webhook, so it sees the pod as it will be stored.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import {
  ALLOW_PROXY_ENV_LABEL, CAPTURE_ANNOTATION, INIT_CONTAINER, INJECT_LABEL, INJECTED_ANNOTATION, RESERVED_PREFIX, TLS_ORIGINATION_ANNOTATION,
  readInjectedRecord, type InjectedRecord,
} from '../inject/names.js';
import { jsonEqual, type JsonValue } from '../inject/json.js';
import { containerProblems, podLevelProblems } from './pod-profile.js';
import type { Operation } from './review.js';

export interface GuardInput {
  readonly operation: Operation;
  /** The request's namespace (a pod being created may not carry it yet). */
  readonly namespace: string;
  readonly pod: V1Pod;
  /** The stored pod, on UPDATE. */
  readonly oldPod: V1Pod | undefined;
  readonly namespaceLabels: Readonly<Record<string, string>> | undefined;
  /** UID of Envoy and the sidecar, exempt from capture. */
  readonly proxyUid: number;
  /** The chart's inject.allowProxyEnv: proxy-env capture allowed in every agent namespace. */
  readonly allowProxyEnv: boolean;
}

/** Set when the pod is created; an update may not change them. */
const FIXED_AT_CREATION: readonly { readonly kind: 'label' | 'annotation'; readonly key: string }[] = [
  { kind: 'label', key: INJECT_LABEL },
  { kind: 'annotation', key: INJECT_LABEL },
  { kind: 'annotation', key: CAPTURE_ANNOTATION },
  { kind: 'annotation', key: TLS_ORIGINATION_ANNOTATION },
  { kind: 'annotation', key: INJECTED_ANNOTATION },
];

/**
 * Why the pod is refused; empty when it may be admitted. On CREATE every
 * check applies; on UPDATE (pods and pods/ephemeralcontainers) what an update
 * can change, judged against the stored pod: new ephemeral containers, the
 * injected containers, and the labels and annotations that made it an agent
 * pod. A pod being deleted may still lose its finalizers and annotations, but
 * not change agentwarden's containers.
 */
export function guardPod(input: GuardInput): string[] {
  const { pod, oldPod } = input;
  const nsEnabled = input.namespaceLabels?.[INJECT_LABEL] === 'enabled';
  const judged = input.operation === 'UPDATE' && oldPod !== undefined ? [pod, oldPod] : [pod];
  if (!nsEnabled && !judged.some(optsIn)) return [];
  if (input.operation === 'UPDATE') return updateProblems(input, nsEnabled);
  if (input.operation !== 'CREATE') return [];
  const reasons: string[] = [];
  const where = nsEnabled ? `namespace ${input.namespace} has ${INJECT_LABEL}=enabled` : `the pod sets ${INJECT_LABEL}=enabled`;
  const optOut = pod.metadata?.labels?.[INJECT_LABEL] === 'disabled' ? 'label' : pod.metadata?.annotations?.[INJECT_LABEL] === 'disabled' ? 'annotation' : undefined;
  if (optOut !== undefined) reasons.push(`the pod opts out of injection (${optOut} ${INJECT_LABEL}=disabled) but ${where}: without the proxy its traffic would not be governed`);
  if (pod.spec?.hostNetwork === true) reasons.push(`spec.hostNetwork: true: the pod would use the node's network, where the capture does not apply and the agent's traffic would bypass agentwarden`);
  reasons.push(...captureProblems(input));
  const record = readInjectedRecord(pod.metadata?.annotations);
  reasons.push(...podLevelProblems(pod.spec, new Set(record?.volumes ?? [])));
  const injected = new Set([...(record?.containers ?? []), ...(record?.initContainers ?? [])]);
  const podContext = pod.spec?.securityContext;
  for (const [list, containers] of [['containers', pod.spec?.containers], ['initContainers', pod.spec?.initContainers], ['ephemeralContainers', pod.spec?.ephemeralContainers]] as const) {
    (containers ?? []).forEach((c, i) => {
      if (list !== 'ephemeralContainers' && injected.has(c.name)) return;
      const at = `spec.${list}[${i}] (${c.name})`;
      if (c.name.startsWith(RESERVED_PREFIX)) reasons.push(`${at}: the name prefix ${RESERVED_PREFIX} is agentwarden's: this container was not injected`);
      reasons.push(...containerProblems(at, c, podContext, input, record !== undefined));
    });
  }
  if (optOut === undefined && pod.spec?.hostNetwork !== true) reasons.push(...injectionProblems(pod, record));
  return reasons;
}

function optsIn(pod: V1Pod): boolean {
  return pod.metadata?.labels?.[INJECT_LABEL] === 'enabled' || pod.metadata?.annotations?.[INJECT_LABEL] === 'enabled';
}

/** proxy-env capture is cooperative: only where the platform allowed it (the chart, or a namespace label a tenant cannot set). */
function captureProblems(input: GuardInput): string[] {
  const capture = input.pod.metadata?.annotations?.[CAPTURE_ANNOTATION]?.trim();
  if (capture !== 'proxy-env') return [];
  if (input.allowProxyEnv || input.namespaceLabels?.[ALLOW_PROXY_ENV_LABEL] === 'true') return [];
  return [`${CAPTURE_ANNOTATION}=proxy-env is not allowed in namespace ${input.namespace}: it is cooperative (an agent that ignores HTTP_PROXY is not governed); the platform allows it with the namespace label ${ALLOW_PROXY_ENV_LABEL}=true or the chart's inject.allowProxyEnv`];
}

function updateProblems(input: GuardInput, nsEnabled: boolean): string[] {
  const { pod, oldPod } = input;
  const problems: string[] = [];
  const deleting = pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
  const existing = new Set((oldPod?.spec?.ephemeralContainers ?? []).map((c) => c.name));
  (pod.spec?.ephemeralContainers ?? []).forEach((c, i) => {
    if (!existing.has(c.name)) problems.push(...containerProblems(`spec.ephemeralContainers[${i}] (${c.name})`, c, pod.spec?.securityContext, input));
  });
  const record = readInjectedRecord(oldPod?.metadata?.annotations);
  if (oldPod !== undefined && record !== undefined) {
    const byName = (p: V1Pod): Map<string, V1Container> => new Map([...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].map((c) => [c.name, c]));
    const before = byName(oldPod);
    const after = byName(pod);
    for (const name of [...record.containers, ...record.initContainers]) {
      const a = before.get(name);
      const b = after.get(name);
      if (a !== undefined && (b === undefined || !jsonEqual(a as unknown as JsonValue, b as unknown as JsonValue))) problems.push(`container ${name} was injected by agentwarden and may not be changed`);
    }
  }
  if (oldPod !== undefined && !deleting) {
    for (const { kind, key } of FIXED_AT_CREATION) {
      const read = (p: V1Pod): string | undefined => (kind === 'label' ? p.metadata?.labels : p.metadata?.annotations)?.[key];
      if (read(pod) !== read(oldPod)) {
        problems.push(`${kind} ${key} is set when an agent pod is created and may not be changed${nsEnabled ? '' : ': it decides whether agentwarden guards the pod'} (recreate the pod instead)`);
      }
    }
  }
  return problems;
}

/** The injection must be present: the mutating webhook ran and its containers are there. */
function injectionProblems(pod: V1Pod, record: InjectedRecord | undefined): string[] {
  const names = [...(record?.containers ?? []), ...(record?.initContainers ?? [])];
  if (record === undefined || names.length === 0) return [`the pod was not injected (no ${INJECTED_ANNOTATION} record): is the agentwarden mutating webhook installed?`];
  const present = new Set([...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name));
  const missing = names.filter((n) => !present.has(n));
  if (missing.length > 0) return [`the injected container(s) ${missing.join(', ')} are missing: the pod would run without the proxy`];
  const capture = pod.metadata?.annotations?.[CAPTURE_ANNOTATION]?.trim() ?? 'iptables';
  if (capture !== 'proxy-env' && !record.initContainers.includes(INIT_CONTAINER)) return [`the pod has iptables capture but no ${INIT_CONTAINER} container: its traffic would not be captured`];
  return [];
}
