// The pod guard's profile for what the pod author writes (pure): the app's
// containers (init and ephemeral ones too) and the pod-level fields that would
// let the agent leave the capture or reach agentwarden's own containers. Each
// problem names the field and says why it is refused. The README's pod-guard
// table lists these rules; e2e/test/pod-guard.test.ts tries each one.
import type { V1Container, V1EphemeralContainer, V1PodSecurityContext, V1PodSpec } from '@kubernetes/client-node';
import { RESERVED_PREFIX, TOKEN_AUDIENCE } from '../inject/names.js';

/** Capabilities an agent container may add after dropping ALL (the Pod Security `restricted` level's one). */
const ALLOWED_CAPABILITIES: readonly string[] = ['NET_BIND_SERVICE'];

const CAPABILITY_WHY: Readonly<Record<string, string>> = {
  NET_ADMIN: 'would let the agent change the traffic capture rules or send raw packets past them',
  NET_RAW: 'would let the agent change the traffic capture rules or send raw packets past them',
  ALL: 'would let the agent change the traffic capture rules or send raw packets past them',
  SETUID: "would let the agent switch to the proxy's UID, whose traffic the capture lets through",
  SETGID: "would let the agent switch groups and read agentwarden's files",
  SYS_PTRACE: "would let the agent attach to agentwarden's processes and read their memory (credentials included)",
  SYS_ADMIN: "would let the agent mount, enter namespaces and reach agentwarden's processes and files",
  DAC_OVERRIDE: "would let the agent read agentwarden's sockets and token regardless of permissions",
  DAC_READ_SEARCH: "would let the agent read agentwarden's sockets and token regardless of permissions",
};

const VOLUME_WHY: Readonly<Record<string, string>> = {
  'agentwarden-authz': "the sidecar's Check socket and Envoy's admin socket: the agent could ask for decisions itself and read the credential headers an allow carries",
  'agentwarden-token': "the sidecar's token: it fetches the policy snapshot, credential values included",
};

export interface ProfileOptions {
  /** UID of Envoy and the sidecar, exempt from capture. */
  readonly proxyUid: number;
}

/**
 * Everything wrong with one app container (containers, initContainers or
 * ephemeralContainers). `unsetIsProblem` false: only what the pod sets against
 * the profile counts, not what it leaves unset (a pod refused anyway because
 * it was not injected, where the injector's defaults never arrived).
 */
export function containerProblems(at: string, c: V1Container | V1EphemeralContainer, podContext: V1PodSecurityContext | undefined, options: ProfileOptions, unsetIsProblem = true): string[] {
  const problems: string[] = [];
  const sc = c.securityContext;
  if (sc?.privileged === true) problems.push(`${at}: privileged: a privileged container could change the traffic capture rules`);
  const added = (sc?.capabilities?.add ?? []).map((cap) => cap.toUpperCase().replace(/^CAP_/, ''));
  for (const cap of added.filter((a) => !ALLOWED_CAPABILITIES.includes(a))) {
    problems.push(`${at}: capability ${cap} ${CAPABILITY_WHY[cap] ?? `is not allowed (an agent container may add only ${ALLOWED_CAPABILITIES.join(', ')})`}`);
  }
  if (unsetIsProblem && !(sc?.capabilities?.drop ?? []).some((cap) => cap.toUpperCase() === 'ALL')) {
    problems.push(`${at}: capabilities.drop does not include ALL: kept capabilities (SETUID, NET_RAW...) would let the agent become the proxy's UID or send packets past the capture`);
  }
  if (sc?.allowPrivilegeEscalation === true || (unsetIsProblem && sc?.allowPrivilegeEscalation !== false)) {
    problems.push(`${at}: allowPrivilegeEscalation is not false: a setuid binary could give the agent root or the proxy's UID`);
  }
  const nonRoot = sc?.runAsNonRoot ?? podContext?.runAsNonRoot;
  if (nonRoot === false || (unsetIsProblem && nonRoot !== true)) problems.push(`${at}: runAsNonRoot is not true: as root the agent could become the proxy's UID, whose traffic the capture lets through`);
  const uid = sc?.runAsUser ?? podContext?.runAsUser;
  if (uid === undefined) {
    if (unsetIsProblem) problems.push(`${at}: no runAsUser (container or pod): the image's USER would decide, and could be the proxy's UID ${options.proxyUid}`);
  } else if (uid === 0) problems.push(`${at}: runs as UID 0 (root): root could become the proxy's UID, whose traffic the capture lets through`);
  else if (uid === options.proxyUid) problems.push(`${at}: runs as UID ${options.proxyUid}, the proxy's UID, whose traffic the capture lets through`);
  for (const m of [...(c.volumeMounts ?? []), ...(c.volumeDevices ?? [])]) {
    if (m.name.startsWith(RESERVED_PREFIX)) problems.push(`${at}: mounts volume ${m.name}, agentwarden's own: ${VOLUME_WHY[m.name] ?? 'only agentwarden\'s containers mount it'}`);
  }
  const target = 'targetContainerName' in c ? c.targetContainerName : undefined;
  if (target !== undefined && target.startsWith(RESERVED_PREFIX)) {
    problems.push(`${at}: targets container ${target}, agentwarden's own: in its process namespace the debugger could read its memory, files and sockets`);
  }
  return problems;
}

/** Pod-level fields that put agentwarden's containers, or the node, within the agent's reach. */
export function podLevelProblems(spec: V1PodSpec | undefined, injectedVolumes: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (spec?.hostPID === true) problems.push("spec.hostPID: true: the agent would see the node's processes, agentwarden's among them, and could signal or inspect them");
  if (spec?.hostIPC === true) problems.push("spec.hostIPC: true: the agent would share the node's IPC namespace with every pod's processes, agentwarden's among them");
  if (spec?.shareProcessNamespace === true) problems.push("spec.shareProcessNamespace: true: the agent would see Envoy's and the sidecar's processes and could read their files and sockets through /proc");
  (spec?.volumes ?? []).forEach((v, i) => {
    if (injectedVolumes.has(v.name)) return;
    const at = `spec.volumes[${i}] (${v.name})`;
    if (v.hostPath !== undefined) problems.push(`${at}: hostPath ${v.hostPath.path}: the node's files include every pod's volumes, agentwarden's sockets and tokens among them`);
    if ((v.projected?.sources ?? []).some((s) => s.serviceAccountToken?.audience === TOKEN_AUDIENCE)) {
      problems.push(`${at}: a ServiceAccount token with audience ${TOKEN_AUDIENCE} is the sidecar's identity: with it the agent could fetch the policy snapshot, credential values included`);
    }
  });
  return problems;
}
