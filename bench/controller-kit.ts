// What the controller benches share (bench/propagation.ts, bench/controller-memory.ts):
// the fan-out policy, the injected pods with their bound ServiceAccount tokens,
// percentiles, polling and a process's resident memory from /proc.
import { readFileSync } from 'node:fs';
import type { CoreV1Api } from '@kubernetes/client-node';
import { INJECTED_LABEL, INJECTED_LABEL_VALUE } from '../controller/src/kube/objects.js';

/** The AgentPolicy every bench edits: one rule whose paths change with each edit. */
export function fanoutPolicy(namespace: string, paths: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'fanout', namespace },
    spec: { podSelector: { matchLabels: { app: 'agent' } }, rules: [{ name: 'read', to: { hosts: ['api.example.com'] }, http: { methods: ['GET'], paths } }] },
  };
}

export async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/**
 * Creates injected pods (labelled as the injector labels them) of ServiceAccount `agent`,
 * `batch` at a time; with `tokens`, a bound token (audience agentwarden) for each, keyed by pod name.
 */
export async function createAgentPods(core: CoreV1Api, namespace: string, names: readonly string[], batch: number, tokens?: Map<string, string>): Promise<void> {
  await inBatches(names, batch, async (name) => {
    const pod = await core.createNamespacedPod({ namespace, body: { metadata: { name, labels: { app: 'agent', [INJECTED_LABEL]: INJECTED_LABEL_VALUE } }, spec: { serviceAccountName: 'agent', containers: [{ name: 'agent', image: 'example.com/agent:1' }] } } });
    if (tokens === undefined) return;
    const tr = await core.createNamespacedServiceAccountToken({ name: 'agent', namespace, body: { spec: { audiences: ['agentwarden'], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name, uid: pod.metadata?.uid ?? '' } } } });
    tokens.set(name, tr.status?.token ?? '');
  });
}

/** Current and peak (VmHWM) resident memory of a process, MB; 0 once it is gone. */
export function rss(pid: number): { readonly now: number; readonly peak: number } {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { now: 0, peak: 0 };
  }
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

export function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] ?? 0;
}

/** Polls every `everyMs` until `ok`; throws naming `what` after `timeoutMs`. */
export async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 2): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
