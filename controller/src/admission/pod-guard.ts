// /validate-pods, the pod guard (pure): an agent pod must not be able to slip
// past the traffic capture. Agent pods are those in a namespace labelled
// agentwarden.io/inject=enabled, and those labelled so themselves. Runs after
// every mutating webhook, so it sees the pod as it will be stored.
import type { V1Container, V1EphemeralContainer, V1Pod, V1PodSecurityContext } from '@kubernetes/client-node';
import { INJECT_LABEL, INJECTED_ANNOTATION, readInjectedRecord, type InjectedRecord } from '../inject/names.js';
import { jsonEqual, type JsonValue } from '../inject/json.js';
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
}

/**
 * Why the pod is refused; empty when it may be admitted. On CREATE every
 * check applies; on UPDATE only what an update can change: new ephemeral
 * containers (kubectl debug) and the injected containers. Updates of a pod
 * being deleted always pass (finalizers must come off).
 */
export function guardPod(input: GuardInput): string[] {
  const { pod } = input;
  const nsEnabled = input.namespaceLabels?.[INJECT_LABEL] === 'enabled';
  const podEnabled = pod.metadata?.labels?.[INJECT_LABEL] === 'enabled' || pod.metadata?.annotations?.[INJECT_LABEL] === 'enabled';
  if (!nsEnabled && !podEnabled) return [];
  if (input.operation === 'UPDATE') return pod.metadata?.deletionTimestamp !== undefined ? [] : updateProblems(input);
  if (input.operation !== 'CREATE') return [];
  const reasons: string[] = [];
  const where = nsEnabled ? `namespace ${input.namespace} has ${INJECT_LABEL}=enabled` : `the pod sets ${INJECT_LABEL}=enabled`;
  const optOut = pod.metadata?.labels?.[INJECT_LABEL] === 'disabled' ? 'label' : pod.metadata?.annotations?.[INJECT_LABEL] === 'disabled' ? 'annotation' : undefined;
  if (optOut !== undefined) reasons.push(`the pod opts out of injection (${optOut} ${INJECT_LABEL}=disabled) but ${where}: without the proxy its traffic would not be governed`);
  if (pod.spec?.hostNetwork === true) reasons.push(`spec.hostNetwork: true: the pod would use the node's network, where the capture does not apply and the agent's traffic would bypass agentwarden`);
  const record = readInjectedRecord(pod.metadata?.annotations);
  const injected = new Set([...(record?.containers ?? []), ...(record?.initContainers ?? [])]);
  const podContext = pod.spec?.securityContext;
  for (const [list, containers] of [['containers', pod.spec?.containers], ['initContainers', pod.spec?.initContainers], ['ephemeralContainers', pod.spec?.ephemeralContainers]] as const) {
    (containers ?? []).forEach((c: V1Container | V1EphemeralContainer, i) => {
      if (list !== 'ephemeralContainers' && injected.has(c.name)) return;
      reasons.push(...containerProblems(`spec.${list}[${i}] (${c.name})`, c, podContext, input.proxyUid));
    });
  }
  if (optOut === undefined && pod.spec?.hostNetwork !== true) reasons.push(...injectionProblems(pod, record));
  return reasons;
}

function updateProblems(input: GuardInput): string[] {
  const { pod, oldPod } = input;
  const problems: string[] = [];
  const existing = new Set((oldPod?.spec?.ephemeralContainers ?? []).map((c) => c.name));
  (pod.spec?.ephemeralContainers ?? []).forEach((c, i) => {
    if (!existing.has(c.name)) problems.push(...containerProblems(`spec.ephemeralContainers[${i}] (${c.name})`, c, pod.spec?.securityContext, input.proxyUid));
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
    if (pod.metadata?.annotations?.[INJECTED_ANNOTATION] !== oldPod.metadata?.annotations?.[INJECTED_ANNOTATION]) problems.push(`annotation ${INJECTED_ANNOTATION} is written by agentwarden and may not be changed`);
  }
  return problems;
}

function containerProblems(at: string, c: V1Container | V1EphemeralContainer, podContext: V1PodSecurityContext | undefined, proxyUid: number): string[] {
  const problems: string[] = [];
  const sc = c.securityContext;
  if (sc?.privileged === true) problems.push(`${at}: privileged: a privileged container could change the traffic capture rules`);
  const added = (sc?.capabilities?.add ?? []).map((cap) => cap.toUpperCase().replace(/^CAP_/, ''));
  for (const cap of ['NET_ADMIN', 'NET_RAW', 'ALL']) {
    if (added.includes(cap)) problems.push(`${at}: capability ${cap} would let the agent change the traffic capture rules or send raw packets past them`);
  }
  const uid = sc?.runAsUser ?? podContext?.runAsUser;
  if (uid === proxyUid) problems.push(`${at}: runs as UID ${proxyUid}, the proxy's UID, whose traffic the capture lets through`);
  return problems;
}

/** The injection must be present: the mutating webhook ran and its containers are there. */
function injectionProblems(pod: V1Pod, record: InjectedRecord | undefined): string[] {
  const names = [...(record?.containers ?? []), ...(record?.initContainers ?? [])];
  if (record === undefined || names.length === 0) return [`the pod was not injected (no ${INJECTED_ANNOTATION} record): is the agentwarden mutating webhook installed?`];
  const present = new Set([...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name));
  const missing = names.filter((n) => !present.has(n));
  return missing.length > 0 ? [`the injected container(s) ${missing.join(', ')} are missing: the pod would run without the proxy`] : [];
}
