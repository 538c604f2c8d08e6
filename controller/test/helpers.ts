// Test helpers for the controller: polling with a generous deadline (tests
// never sleep to synchronise) and builders for the slim objects the caches keep.
import type { AgentPolicyObject, SlimPod, SlimSecret } from '../src/kube/objects.js';

export const NAMESPACE = 'support';
export const SERVICE_ACCOUNT = 'support-agent';

/** Polls `probe` until it returns something other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves true once `condition` holds, for use as `await until(...)`. */
export async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  await eventually(what, () => (condition() ? true : undefined), timeoutMs);
}

export interface PodOptions {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly serviceAccount?: string;
  readonly labels?: Record<string, string>;
  readonly phase?: string;
  readonly resourceVersion?: string;
  readonly cooperativeCapture?: boolean;
  readonly deleting?: boolean;
}

/** A pod as the pod informer keeps it. */
export function slimPod(options: PodOptions = {}): SlimPod {
  const name = options.name ?? 'support-agent-0';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: options.namespace ?? NAMESPACE,
      uid: options.uid ?? `uid-${name}`,
      resourceVersion: options.resourceVersion ?? '1',
      labels: options.labels ?? { app: 'support-agent' },
    },
    serviceAccount: options.serviceAccount ?? SERVICE_ACCOUNT,
    phase: options.phase ?? 'Running',
    deleting: options.deleting ?? false,
    cooperativeCapture: options.cooperativeCapture ?? false,
  };
}

/** A Secret as the secret informer keeps it; `data` values are given in clear and stored base64. */
export function slimSecret(name: string, data: Record<string, string>, resourceVersion: string, namespace = NAMESPACE): SlimSecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, resourceVersion },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
  };
}

export interface PolicyOptions {
  readonly namespace?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly status?: unknown;
}

/** An AgentPolicy object as the API server returns it. */
export function policyObject(name: string, spec: unknown, options: PolicyOptions = {}): AgentPolicyObject {
  return {
    apiVersion: 'agentwarden.io/v1alpha1',
    kind: 'AgentPolicy',
    metadata: { name, namespace: options.namespace ?? NAMESPACE, resourceVersion: options.resourceVersion ?? '1', generation: options.generation ?? 1 },
    spec,
    ...(options.status === undefined ? {} : { status: options.status }),
  };
}

/** A minimal valid spec: one Allow rule for `host`, selecting pods with `selector` labels. */
export function allowSpec(host: string, selector: Record<string, string> = { app: 'support-agent' }, extra: Record<string, unknown> = {}): unknown {
  return { podSelector: { matchLabels: selector }, rules: [{ name: 'allow-host', to: { hosts: [host] }, ...extra }] };
}

/**
 * A JWT-shaped token named `id` expiring in `expiresInSeconds` (the controller
 * reads, never trusts, its exp: TokenReview is what validates it).
 */
export function jwtLike(id: string, expiresInSeconds = 3600): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k1' })}.${part({ exp: Math.floor(Date.now() / 1000) + expiresInSeconds, jti: id })}.${Buffer.from(`signature-${id}`).toString('base64url')}`;
}
