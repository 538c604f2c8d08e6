// /mutate-pods (pure): injects the proxy into pods created in an enabled
// namespace (or labelled themselves) and answers with a JSON patch.
import type { V1Pod } from '@kubernetes/client-node';
import { mutatePod, patchFor, InjectionError, type InjectOptions } from '../inject/index.js';
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
  return { response: allow(request.uid, { patch: patchFor(pod, result.pod) }), summary: `injected: ${result.reason}` };
}

export function podName(request: AdmissionRequest, pod: V1Pod): string {
  const name = pod.metadata?.name ?? (request.name !== '' ? request.name : `${pod.metadata?.generateName ?? ''}<generated>`);
  return `${request.namespace}/${name}`;
}
