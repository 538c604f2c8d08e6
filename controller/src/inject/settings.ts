// Per-pod injection settings read from the pod's annotations, and the decision
// whether a pod is injected at all. Pure.
import type { V1Pod } from '@kubernetes/client-node';
import { CAPTURE_ANNOTATION, INJECT_LABEL, TLS_ORIGINATION_ANNOTATION } from './names.js';

export type CaptureMode = 'iptables' | 'proxy-env';

export interface TlsOrigination {
  /** Lower-case DNS name: the Host the app sends and the SNI Envoy sends. */
  readonly host: string;
  /** Upstream TLS port. Default 443. */
  readonly port: number;
}

export interface PodSettings {
  readonly capture: CaptureMode;
  /** Sorted by host, then port; no duplicates. */
  readonly tlsOrigination: readonly TlsOrigination[];
}

/** A pod annotation the injector cannot honour; `field` is its path in the pod. */
export class InjectionError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'InjectionError';
  }
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const MAX_TLS_HOSTS = 64;

export function annotationField(name: string): string {
  return `metadata.annotations["${name}"]`;
}

/** Reads the capture mode and TLS-origination hosts; throws InjectionError on a bad annotation. */
export function readPodSettings(pod: V1Pod): PodSettings {
  const annotations = pod.metadata?.annotations ?? {};
  const captureText = (annotations[CAPTURE_ANNOTATION] ?? 'iptables').trim();
  if (captureText !== 'iptables' && captureText !== 'proxy-env') {
    throw new InjectionError(annotationField(CAPTURE_ANNOTATION), `"${captureText}" is not iptables or proxy-env`);
  }
  return { capture: captureText, tlsOrigination: readTlsOrigination(annotations[TLS_ORIGINATION_ANNOTATION]) };
}

function readTlsOrigination(text: string | undefined): TlsOrigination[] {
  if (text === undefined) return [];
  const field = annotationField(TLS_ORIGINATION_ANNOTATION);
  const entries = text.split(',').map((e) => e.trim().toLowerCase()).filter((e) => e !== '');
  if (entries.length > MAX_TLS_HOSTS) throw new InjectionError(field, `at most ${MAX_TLS_HOSTS} hosts, got ${entries.length}`);
  const seen = new Map<string, TlsOrigination>();
  for (const entry of entries) {
    const m = /^([^:]+)(?::([0-9]{1,5}))?$/.exec(entry);
    const host = m?.[1] ?? '';
    const port = m?.[2] === undefined ? 443 : Number(m[2]);
    if (m === null || !DNS_NAME.test(host)) throw new InjectionError(field, `"${entry}" is not a host name or host:port (no wildcards, no scheme)`);
    if (port < 1 || port > 65535) throw new InjectionError(field, `"${entry}": port must be between 1 and 65535`);
    seen.set(`${host}:${port}`, { host, port });
  }
  const hosts = [...seen.values()].sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
  const twice = hosts.find((h, i) => hosts.findIndex((o) => o.host === h.host) !== i);
  if (twice !== undefined) throw new InjectionError(field, `"${twice.host}" is listed with two ports; a host is originated to one port`);
  return hosts;
}

export type InjectDecision = { readonly inject: true; readonly reason: string } | { readonly inject: false; readonly reason: string };

/**
 * Whether a pod gets the proxy: a pod label agentwarden.io/inject=enabled, or
 * the namespace label, unless the pod opts out (label or annotation
 * agentwarden.io/inject=disabled). Never a hostNetwork pod: the capture rules
 * would land in the node's network namespace.
 */
export function injectionDecision(pod: V1Pod, namespaceLabels: Readonly<Record<string, string>> | undefined): InjectDecision {
  const podLabel = pod.metadata?.labels?.[INJECT_LABEL];
  const podAnnotation = pod.metadata?.annotations?.[INJECT_LABEL];
  if (podLabel === 'disabled' || podAnnotation === 'disabled') return { inject: false, reason: `the pod sets ${INJECT_LABEL}=disabled` };
  const wanted = podLabel === 'enabled' || podAnnotation === 'enabled' || namespaceLabels?.[INJECT_LABEL] === 'enabled';
  if (!wanted) return { inject: false, reason: `neither the pod nor its namespace sets ${INJECT_LABEL}=enabled` };
  if (pod.spec?.hostNetwork === true) return { inject: false, reason: 'the pod uses hostNetwork' };
  return { inject: true, reason: podLabel === 'enabled' || podAnnotation === 'enabled' ? `the pod sets ${INJECT_LABEL}=enabled` : `namespace label ${INJECT_LABEL}=enabled` };
}
