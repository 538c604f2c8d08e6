// What the CA root publisher decides, as pure functions over plain data: which
// namespaces need the ConfigMap, which of them still have to be checked, what
// to write into one given what is there, and whether a CA file may be published.
import { X509Certificate } from 'node:crypto';
import type { V1ConfigMap } from '@kubernetes/client-node';

/** The label of namespaces and pods that opt into injection. */
export const INJECT_LABEL = 'agentwarden.io/inject';
/** Key of the CA bundle in the ConfigMap (what the injected pods mount). */
export const CA_KEY = 'ca.crt';
/** The label that marks the ConfigMaps this controller writes; others are never touched. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'agentwarden';
/** Larger CA files are refused (a ConfigMap holds 1 MiB; a CA bundle is a few KiB). */
export const MAX_CA_BYTES = 256 * 1024;

export interface NamespaceView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Being deleted: the API server refuses new objects in it. */
  readonly terminating: boolean;
}

export interface PodView {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Where injection can happen: the webhooks' namespace scope. */
export interface CaRootScope {
  /** Namespaces must carry all of these labels. */
  readonly namespaceLabels: Readonly<Record<string, string>>;
  readonly excludeNamespaces: readonly string[];
}

/**
 * Namespaces whose injected pods need the CA, sorted: those labelled agentwarden.io/inject=enabled
 * and those holding a pod so labelled; within the scope, and not being deleted.
 */
export function caRootTargets(namespaces: readonly NamespaceView[], pods: readonly PodView[], scope: CaRootScope): string[] {
  const withEnabledPods = new Set<string>();
  for (const pod of pods) if (pod.labels[INJECT_LABEL] === 'enabled') withEnabledPods.add(pod.namespace);
  const excluded = new Set(scope.excludeNamespaces);
  const scopeLabels = Object.entries(scope.namespaceLabels);
  return namespaces
    .filter((ns) => !ns.terminating && !excluded.has(ns.name) && scopeLabels.every(([k, v]) => ns.labels[k] === v))
    .filter((ns) => ns.labels[INJECT_LABEL] === 'enabled' || withEnabledPods.has(ns.name))
    .map((ns) => ns.name)
    .sort();
}

export interface PendingInput {
  readonly targets: readonly string[];
  /** Namespace → CA digest it was last confirmed to hold (written, found equal, or found foreign). */
  readonly confirmed: ReadonlyMap<string, string>;
  /** Digest of the CA to publish. */
  readonly digest: string;
  /** Namespace → time before which a failed namespace is not tried again, ms. */
  readonly retryAt: ReadonlyMap<string, number>;
  readonly nowMs: number;
  /** At most this many namespaces per pass. */
  readonly limit: number;
}

export interface PendingPlan {
  /** Namespaces to check (and write when needed) now, at most `limit`. */
  readonly check: readonly string[];
  /** Namespaces that need a check but exceeded the limit: the next pass takes them. */
  readonly deferred: number;
  /** Earliest time a namespace waiting after a failure may be tried, ms. */
  readonly nextRetryAtMs: number | undefined;
}

/** Which targets to check now: those not confirmed to hold this CA and not waiting after a failure. */
export function pendingNamespaces(input: PendingInput): PendingPlan {
  const due: string[] = [];
  let nextRetryAtMs: number | undefined;
  for (const ns of input.targets) {
    if (input.confirmed.get(ns) === input.digest) continue;
    const retryAt = input.retryAt.get(ns);
    if (retryAt !== undefined && retryAt > input.nowMs) {
      nextRetryAtMs = nextRetryAtMs === undefined ? retryAt : Math.min(nextRetryAtMs, retryAt);
      continue;
    }
    due.push(ns);
  }
  return { check: due.slice(0, input.limit), deferred: Math.max(0, due.length - input.limit), nextRetryAtMs };
}

export type ConfigMapWrite =
  | { readonly kind: 'none' }
  | { readonly kind: 'create'; readonly body: V1ConfigMap }
  | { readonly kind: 'replace'; readonly body: V1ConfigMap }
  /** A ConfigMap of that name that this controller did not create: left alone. */
  | { readonly kind: 'foreign' };

/**
 * The write that makes `existing` (undefined: absent) hold `pem` under ca.crt. An update
 * changes only ca.crt and keeps the read resourceVersion, so that a concurrent change makes
 * it fail instead of being overwritten.
 */
export function configMapWrite(existing: V1ConfigMap | undefined, namespace: string, name: string, pem: string): ConfigMapWrite {
  if (existing === undefined) {
    return { kind: 'create', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } }, data: { [CA_KEY]: pem } } };
  }
  if (existing.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) return { kind: 'foreign' };
  if (existing.data?.[CA_KEY] === pem) return { kind: 'none' };
  return { kind: 'replace', body: { ...existing, data: { ...existing.data, [CA_KEY]: pem } } };
}

/** Delay before the `failures`-th retry of a namespace: doubling from initialMs up to maxMs, ±20 % jitter. */
export function retryDelayMs(failures: number, backoff: { readonly initialMs: number; readonly maxMs: number }, random: number): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(base * (1 + 0.2 * (2 * random - 1)));
}

export type CaBundle = { readonly ok: true; readonly pem: string; readonly certificates: number } | { readonly ok: false; readonly error: string };

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * A CA file's content checked before it is published to every namespace: one or more PEM
 * certificates, nothing but comments around them (a half-written file or a private key given
 * by mistake is refused, naming the file). The PEM published is the certificates alone.
 */
export function parseCaBundle(content: string, file: string): CaBundle {
  if (Buffer.byteLength(content) > MAX_CA_BYTES) return { ok: false, error: `--ca-root-file ${file}: larger than ${MAX_CA_BYTES} bytes` };
  const blocks = [...content.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) return { ok: false, error: `--ca-root-file ${file}: no PEM certificate` };
  // Comments between blocks are dropped; a lone BEGIN or END is a block cut short.
  if (/-----(BEGIN|END) /.test(content.replace(PEM_BLOCK, ''))) return { ok: false, error: `--ca-root-file ${file}: an incomplete PEM block (a file still being written?)` };
  for (const [i, block] of blocks.entries()) {
    if (block[1] !== 'CERTIFICATE') return { ok: false, error: `--ca-root-file ${file}: block ${i + 1} is a ${block[1] ?? ''}, not a CERTIFICATE; refusing to publish it` };
    try {
      new X509Certificate(block[0]);
    } catch (e: unknown) {
      return { ok: false, error: `--ca-root-file ${file}: certificate ${i + 1} does not parse: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  return { ok: true, pem: `${blocks.map((b) => b[0]).join('\n')}\n`, certificates: blocks.length };
}
