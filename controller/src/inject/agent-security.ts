// The app's side of the capture (pure): the capture exempts one UID, the
// proxy's, so every app container must run as another, non-root UID that
// cannot change identity or gain capabilities. The injector fills in what the
// pod leaves unset; the pod guard (admission/pod-profile.ts) refuses what the
// pod sets otherwise. Nothing the pod sets is overwritten.
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import type { InjectOptions } from './options.js';

/**
 * Pod level: runAsNonRoot true and runAsUser options.agentUid when unset, so
 * neither the image's USER (which could be the proxy UID, or root) nor the
 * defaults of an ephemeral container decide who the agent is. Per app
 * container: allowPrivilegeEscalation false when unset (and the container is
 * not privileged, which the guard refuses), and ALL added to
 * capabilities.drop when missing.
 */
export function applyAgentSecurityDefaults(spec: V1PodSpec, appContainers: readonly V1Container[], options: InjectOptions): void {
  const pod = spec.securityContext ?? (spec.securityContext = {});
  pod.runAsNonRoot ??= true;
  pod.runAsUser ??= options.agentUid;
  for (const c of appContainers) {
    const sc = c.securityContext ?? (c.securityContext = {});
    // privileged with allowPrivilegeEscalation false is invalid: leave it to the guard to say why it is refused.
    if (sc.privileged !== true) sc.allowPrivilegeEscalation ??= false;
    const caps = sc.capabilities ?? (sc.capabilities = {});
    const drop = caps.drop ?? [];
    if (!drop.some((cap) => cap.toUpperCase() === 'ALL')) caps.drop = [...drop, 'ALL'];
  }
}
