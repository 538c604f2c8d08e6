// A tenant's namespace admin on the local control plane, for the suites that
// try the pod guard as one (pod-guard, pod-security-belt): the built-in `admin`
// ClusterRole's aggregated rules bound in the tenant's namespaces, kubectl
// impersonating that user, and the chart rendered with helm template.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { BIN, KUBECONFIG, ROOT, kubectl, kubectlOk, type Run } from './cluster.js';

export const CHART = join(ROOT, 'helm/agentwarden');
export const TENANT = { user: 'tenant-admin', group: 'tenant-admins' } as const;
/** The agent container's image: never pulled (nothing runs pods here). */
export const AGENT_IMAGE = 'registry.example/agent:1';

/** What a test changes in the ordinary agent pod. */
export interface PodParts {
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  /** Merged into the pod's spec. */
  readonly spec?: object;
  /** Merged into the agent container. */
  readonly agent?: object;
}

/** An agent pod (label app=agent, one container `agent`), as its author writes it. */
export function agentPod(namespace: string, name: string, parts: PodParts = {}): V1Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'agent', ...parts.labels }, ...(parts.annotations === undefined ? {} : { annotations: parts.annotations }) },
    spec: { containers: [{ name: 'agent', image: AGENT_IMAGE, ...parts.agent }], ...parts.spec },
  };
}

export async function getPod(namespace: string, name: string): Promise<V1Pod> {
  return JSON.parse(await kubectlOk(['get', 'pod', '-n', namespace, name, '-o', 'json'])) as V1Pod;
}

export function helm(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(join(BIN, 'helm'), ['--kubeconfig', KUBECONFIG, ...args], { maxBuffer: 16 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

/** One template of the chart, rendered with helm template for this release. */
export async function renderChart(release: string, template: string, args: readonly string[]): Promise<string> {
  const r = await helm(['template', release, CHART, '--show-only', template, ...args]);
  if (r.code !== 0) throw new Error(`helm template ${template} failed: ${r.stderr}`);
  return r.stdout;
}

/** kubectl as the tenant's namespace admin. */
export function asTenant(args: readonly string[], stdin?: string): Promise<Run> {
  return kubectl([`--as=${TENANT.user}`, `--as-group=${TENANT.group}`, ...args], stdin);
}

interface ClusterRole { readonly rules?: readonly object[]; readonly aggregationRule?: { readonly clusterRoleSelectors?: readonly { readonly matchLabels?: Record<string, string> }[] } }

/**
 * The rules of a built-in ClusterRole as the aggregation controller fills them in
 * (kube-controller-manager does not run here, so `admin` itself has none).
 */
async function aggregatedRules(name: string): Promise<object[]> {
  const role = JSON.parse(await kubectlOk(['get', 'clusterrole', name, '-o', 'json'])) as ClusterRole;
  if (role.aggregationRule === undefined) return [...(role.rules ?? [])];
  const rules: object[] = [];
  for (const selector of role.aggregationRule.clusterRoleSelectors ?? []) {
    const labels = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    const names = (await kubectlOk(['get', 'clusterrole', '-l', labels, '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter((n) => n !== '');
    for (const n of names) rules.push(...await aggregatedRules(n));
  }
  return rules;
}

/** Creates the ClusterRole `name` with the built-in `admin` role's aggregated rules: what a namespace admin holds on a real cluster. */
export async function createNamespaceAdminRole(name: string): Promise<void> {
  const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules: await aggregatedRules('admin') };
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(role));
}

/**
 * Makes the tenant admin of an existing namespace: the `default` ServiceAccount
 * (no controller creates it here), the admin role, and pods/ephemeralcontainers
 * (`admin` does not include kubectl debug; a platform that lets tenants debug their pods grants it).
 */
export async function admitTenant(namespace: string, adminRole: string): Promise<void> {
  await kubectlOk(['create', 'serviceaccount', 'default', '-n', namespace]);
  await kubectlOk(['create', 'rolebinding', 'tenant-admin', `--clusterrole=${adminRole}`, `--user=${TENANT.user}`, '-n', namespace]);
  await kubectlOk(['create', 'role', 'debug', '--verb=get,patch,update', '--resource=pods/ephemeralcontainers', '-n', namespace]);
  await kubectlOk(['create', 'rolebinding', 'tenant-debug', '--role=debug', `--user=${TENANT.user}`, '-n', namespace]);
}

/** Creates a namespace with these labels (`k=v`) and makes the tenant its admin. */
export async function tenantNamespace(name: string, labels: readonly string[], adminRole: string): Promise<void> {
  await kubectlOk(['create', 'namespace', name]);
  if (labels.length > 0) await kubectlOk(['label', 'namespace', name, ...labels]);
  await admitTenant(name, adminRole);
}
