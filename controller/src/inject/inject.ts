// Pod injection (pure): adds Envoy, the sidecar, the token volume and the
// traffic capture, fills in the app containers' security defaults
// (agent-security.ts), and records what it added in the agentwarden.io/injected
// annotation and marks the pod with the agentwarden.io/injected=true label. Injecting strips an earlier injection first, so
// injectPod(injectPod(p)) deep-equals injectPod(p).
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { applyAgentSecurityDefaults } from './agent-security.js';
import { authzSocketVolume, envoyContainer, initContainer, proxyEnv, sidecarContainer, tokenVolume } from './containers.js';
import { INJECTED_ANNOTATION, INJECTED_LABEL, INJECTED_LABEL_VALUE, PROXY_ENV_NAMES, readInjectedRecord, type InjectedRecord } from './names.js';
import type { InjectOptions } from './options.js';
import { injectionDecision, readPodSettings, type InjectDecision } from './settings.js';

/**
 * Returns the pod with the proxy injected; the input is not modified.
 * Throws InjectionError when an agentwarden.io/ annotation cannot be honoured.
 */
export function injectPod(pod: V1Pod, options: InjectOptions): V1Pod {
  const out = stripInjection(pod);
  const settings = readPodSettings(out);
  const spec = out.spec ?? (out.spec = { containers: [] });
  const added: V1Container[] = [
    ...(settings.capture === 'iptables' ? [initContainer(options)] : []),
    sidecarContainer(options),
    envoyContainer(settings, options),
  ];
  const appInit = spec.initContainers ?? [];
  applyAgentSecurityDefaults(spec, [...spec.containers, ...appInit], options);
  spec.initContainers = [...added, ...appInit];
  spec.volumes = [...(spec.volumes ?? []), tokenVolume(options), authzSocketVolume()];
  const env = settings.capture === 'proxy-env' ? proxyEnv(options) : [];
  if (env.length > 0) {
    for (const c of [...spec.containers, ...spec.initContainers.slice(added.length)]) {
      // A fresh copy per container: no object is shared between two containers.
      c.env = [...(c.env ?? []).filter((e) => !(PROXY_ENV_NAMES as readonly string[]).includes(e.name)), ...proxyEnv(options)];
    }
  }
  const record: InjectedRecord = {
    containers: [],
    initContainers: added.map((c) => c.name),
    volumes: [tokenVolume(options).name, authzSocketVolume().name],
    env: env.map((e) => e.name),
  };
  const metadata = out.metadata ?? (out.metadata = {});
  metadata.annotations = { ...(metadata.annotations ?? {}), [INJECTED_ANNOTATION]: JSON.stringify(record) };
  // The controller selects injected pods by this label (kube/objects.ts).
  metadata.labels = { ...(metadata.labels ?? {}), [INJECTED_LABEL]: INJECTED_LABEL_VALUE };
  return out;
}

/** A copy of the pod without what its agentwarden.io/injected record says was injected. */
export function stripInjection(pod: V1Pod): V1Pod {
  const out = structuredClone(pod);
  const record = readInjectedRecord(out.metadata?.annotations);
  if (record === undefined) return out;
  const spec = out.spec;
  if (spec !== undefined) {
    spec.containers = spec.containers.filter((c) => !record.containers.includes(c.name));
    if (spec.initContainers !== undefined) spec.initContainers = spec.initContainers.filter((c) => !record.initContainers.includes(c.name));
    if (spec.volumes !== undefined) spec.volumes = spec.volumes.filter((v) => !record.volumes.includes(v.name));
    if (record.env.length > 0) {
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        if (c.env !== undefined) c.env = c.env.filter((e) => !record.env.includes(e.name));
      }
    }
  }
  if (out.metadata?.annotations !== undefined) {
    out.metadata.annotations = Object.fromEntries(Object.entries(out.metadata.annotations).filter(([k]) => k !== INJECTED_ANNOTATION));
  }
  if (out.metadata?.labels !== undefined) {
    out.metadata.labels = Object.fromEntries(Object.entries(out.metadata.labels).filter(([k]) => k !== INJECTED_LABEL));
  }
  return out;
}

export type MutationResult =
  | { readonly injected: true; readonly reason: string; readonly pod: V1Pod }
  | { readonly injected: false; readonly reason: string };

/** The mutating webhook's decision: inject when the pod or its namespace asks for it. */
export function mutatePod(pod: V1Pod, namespaceLabels: Readonly<Record<string, string>> | undefined, options: InjectOptions): MutationResult {
  const decision: InjectDecision = injectionDecision(pod, namespaceLabels);
  if (!decision.inject) return { injected: false, reason: decision.reason };
  return { injected: true, reason: decision.reason, pod: injectPod(pod, options) };
}
