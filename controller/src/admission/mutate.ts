// /mutate-pods (pure): injects the proxy into pods created in an enabled
// namespace (or labelled themselves) and answers with a JSON patch.
import type { V1Pod } from '@kubernetes/client-node';
import { mutatePod, patchFor, readPodSettings, InjectionError, type InjectOptions } from '../inject/index.js';
import { allow, deny, type AdmissionRequest, type AdmissionResponse } from './review.js';

export interface MutationOutcome {
  readonly response: AdmissionResponse;
  /** For the log: what was decided and why. */
  readonly summary: string;
}

export function reviewPodMutation(request: AdmissionRequest, namespaceLabels: Readonly<Record<string, string>> | undefined, options: InjectOptions): MutationOutcome {
  if (request.kind.kind !== 'Pod' || request.subResource !== '' || request.operation !== 'CREATE') {
    return { response: allow(request.uid), summary: `skipped: ${request.operation} ${request.kind.kind}${request.subResource === '' ? '' : `/${request.subResource}`} is not a pod creation` };
  }
  if (request.object === undefined) return { response: deny(request.uid, 400, 'BadRequest', 'agentwarden: request.object: a pod creation carries the pod'), summary: 'denied: no object' };
  const pod = request.object as V1Pod;
  let result;
  try {
    result = mutatePod(pod, namespaceLabels, options);
  } catch (e: unknown) {
    if (e instanceof InjectionError) {
      return { response: deny(request.uid, 422, 'Invalid', `agentwarden: cannot inject pod ${podName(request, pod)}: ${e.message}`), summary: `denied: ${e.message}` };
    }
    throw e;
  }
  if (!result.injected) return { response: allow(request.uid), summary: `not injected: ${result.reason}` };
  const warnings = readPodSettings(result.pod).capture === 'proxy-env' ? [proxyEnvWarning(podName(request, pod))] : [];
  return { response: allow(request.uid, { patch: patchFor(pod, result.pod), warnings }), summary: `injected: ${result.reason}` };
}

export function podName(request: AdmissionRequest, pod: V1Pod): string {
  const name = pod.metadata?.name ?? (request.name !== '' ? request.name : `${pod.metadata?.generateName ?? ''}<generated>`);
  return `${request.namespace}/${name}`;
}

/** DESIGN.md "Data plane": proxy-env capture is cooperative, and the one who creates such a pod is told so. */
export function proxyEnvWarning(name: string): string {
  return `pod ${name}: agentwarden.io/capture=proxy-env is cooperative: an agent that ignores HTTP_PROXY/HTTPS_PROXY is not governed; iptables capture (the default) governs every connection`;
}
