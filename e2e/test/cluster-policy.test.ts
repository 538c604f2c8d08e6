// ClusterAgentPolicy against the real API server (issue 14 item 5): the
// platform applies a ceiling; a tenant with the built-in admin role in their
// namespace (impersonated) can neither create nor change ClusterAgentPolicies,
// and their policy allowing every host does not let an exfiltration host through
// a sidecar that the controller feeds: the decision is rule cluster-ceiling.
import { join } from 'node:path';
import { ROOT, kubectl, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { boundToken, controllerOn, createPod, freePort, sidecarFor, type ControlledSidecar } from './controller-env.js';
import type { RunningController } from '../../controller/src/main.js';

const ns = uniqueNamespace('cap');
// The ClusterAgentPolicy selects this run's namespace only: other suites share the cluster.
const SCOPE_LABEL = 'e2e.agentwarden.io/platform-ceiling';
const PLATFORM = `platform-egress-${ns}`;
const TENANT = `tenant-${ns}`;
const TENANT_GROUP = `tenants-${ns}`;
let controller: RunningController | undefined;
let sidecar: ControlledSidecar | undefined;

const platformPolicy = (extraRule = ''): string => `apiVersion: agentwarden.io/v1alpha1
kind: ClusterAgentPolicy
metadata: {name: ${PLATFORM}}
spec:
  namespaceSelector: {matchLabels: {${SCOPE_LABEL}: "${ns}"}}
  podSelector: {}
  ceiling: true
  rules:
    - {name: no-paste-sites, action: Deny, to: {hosts: ["pastebin.com", "*.paste.ee"]}}
    - {name: corp-apis, to: {hosts: ["*.internal", "api.zendesk.com"]}}
${extraRule}`;

const tenantPolicy = `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: anything-goes, namespace: ${ns}}
spec:
  podSelector: {}
  rules:
    - {name: everything, to: {hosts: ["*"]}}
`;

/** kubectl as the tenant: a user in a group, with the built-in admin role in their namespace only. */
const asTenant = (args: readonly string[], stdin?: string): ReturnType<typeof kubectl> => kubectl([`--as=${TENANT}`, `--as-group=${TENANT_GROUP}`, ...args], stdin);

beforeAll(async () => {
  for (const crd of ['agentpolicy.yaml', 'clusteragentpolicy.yaml']) await kubectlOk(['apply', '-f', join(ROOT, 'crds', crd)]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io', 'crd/clusteragentpolicies.agentwarden.io']);
  await kubectlOk(['create', 'namespace', ns]);
  await kubectlOk(['label', 'namespace', ns, `${SCOPE_LABEL}=${ns}`]);
  await kubectlOk(['create', 'rolebinding', 'tenant-admin', '-n', ns, '--clusterrole=admin', `--user=${TENANT}`]);
  // The built-in admin role is filled by kube-controller-manager's aggregation controller,
  // which the local control plane does not run: bind what it aggregates (the ClusterRoles
  // labelled aggregate-to-admin, edit and view), as admin holds them on a full cluster.
  for (const role of await aggregatedIntoAdmin()) {
    await kubectlOk(['create', 'rolebinding', `tenant-${role.replaceAll(':', '-')}`, '-n', ns, `--clusterrole=${role}`, `--user=${TENANT}`]);
  }
  // The built-in admin role has no agentwarden.io resources: the tenant may write AgentPolicies through a Role here.
  await kubectlOk(['create', 'role', 'agentpolicy-author', '-n', ns, '--verb=get,list,watch,create,update,patch,delete', '--resource=agentpolicies.agentwarden.io']);
  await kubectlOk(['create', 'rolebinding', 'agentpolicy-author', '-n', ns, '--role=agentpolicy-author', `--user=${TENANT}`]);
  await kubectlOk(['create', 'serviceaccount', 'agent', '-n', ns]);
  await kubectlOk(['apply', '-f', '-'], platformPolicy());
  const uid = await createPod(ns, 'agent-0', 'agent', { app: 'agent' });
  const port = await freePort();
  controller = await controllerOn(port, ns);
  sidecar = await sidecarFor(port, ns, 'agent-0', await boundToken(ns, 'agent', 'agent-0', uid));
});

afterAll(async () => {
  await sidecar?.stop();
  await controller?.stop();
  await kubectl(['delete', 'clusteragentpolicy', PLATFORM, '--ignore-not-found', '--wait=false']);
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

function agent(): ControlledSidecar {
  if (sidecar === undefined) throw new Error('sidecar not started');
  return sidecar;
}

describe('a tenant namespace admin and ClusterAgentPolicies', () => {
  it('finds them in no ClusterRole aggregated into the built-in admin, edit or view roles', async () => {
    for (const label of ['aggregate-to-admin', 'aggregate-to-edit', 'aggregate-to-view']) {
      const list = JSON.parse(await kubectlOk(['get', 'clusterroles', '-l', `rbac.authorization.k8s.io/${label}=true`, '-o', 'json'])) as ClusterRoleList;
      expect(list.items.length).toBeGreaterThan(0);
      const granting = list.items.filter((r) => (r.rules ?? []).some((rule) => (rule.resources ?? []).some((res) => res === '*' || res.startsWith('clusteragentpolicies'))));
      expect({ label, granting: granting.map((r) => r.metadata.name) }).toEqual({ label, granting: [] });
    }
  });

  it('may not create, change or delete them (RBAC), though admin of their namespace', async () => {
    expect((await asTenant(['auth', 'can-i', 'create', 'pods', '-n', ns])).stdout.trim()).toBe('yes');
    for (const verb of ['create', 'update', 'patch', 'delete']) {
      expect({ verb, answer: (await asTenant(['auth', 'can-i', verb, 'clusteragentpolicies.agentwarden.io'])).stdout.trim() }).toEqual({ verb, answer: 'no' });
    }
    const created = await asTenant(['apply', '-f', '-'], platformPolicy().replace(`name: ${PLATFORM}`, `name: ${TENANT}-own`));
    expect(created.code).not.toBe(0);
    expect(created.stderr).toContain('forbidden');
    const changed = await asTenant(['patch', 'clusteragentpolicy', PLATFORM, '--type=merge', '-p', '{"spec":{"ceiling":false}}']);
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain('forbidden');
    const deleted = await asTenant(['delete', 'clusteragentpolicy', PLATFORM]);
    expect(deleted.stderr).toContain('forbidden');
  });

  it('cannot lift the ceiling with a policy that allows every host: an exfiltration host is denied with rule cluster-ceiling', async () => {
    await asTenantOk(['apply', '-f', '-'], tenantPolicy);
    // The tenant's policy is in force once the pod's sidecar acknowledged a version with it.
    await waitFor('the tenant policy synced to the pod', async () => {
      const out = await kubectlOk(['get', 'agentpolicy', 'anything-goes', '-n', ns, '-o', 'jsonpath={.status.pods.synced}']);
      return out.trim() === '1' ? true : undefined;
    }, 120_000, 100);
    expect(await agent().decide({ url: 'https://tickets.internal/v1/tickets' })).toMatchObject({ allowed: true });
    expect(await agent().decide({ method: 'POST', url: 'https://exfil.attacker.example/upload' })).toEqual({ allowed: false, rule: 'cluster-ceiling' });
    // A platform Deny rule wins over the tenant's Allow rule for the same host.
    expect(await agent().decide({ url: 'https://pastebin.com/raw/abc' })).toEqual({ allowed: false, rule: 'no-paste-sites' });
  });
});

describe('the ClusterAgentPolicy object', () => {
  it('reports Compiled with the rule count and the pods it selects in status, shown in MODE RULES CEILING READY AGE', async () => {
    const status = await waitFor('status with the selected pod', async () => {
      const out = await kubectlOk(['get', 'clusteragentpolicy', PLATFORM, '-o', 'json']);
      const s = (JSON.parse(out) as { status?: { rules?: number; pods?: { selected: number; synced: number }; conditions?: { type: string; status: string }[] } }).status;
      return s?.pods?.selected === 1 && s.pods.synced === 1 ? s : undefined;
    }, 120_000, 100);
    expect(status.rules).toBe(2);
    expect(Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c.status]))).toEqual({ Compiled: 'True', Synced: 'True', Ready: 'True' });
    const table = await kubectlOk(['get', 'clusteragentpolicy', PLATFORM]);
    const [header, row] = table.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'MODE', 'RULES', 'CEILING', 'READY', 'AGE']);
    expect(row?.split(/\s+/).slice(0, 5)).toEqual([PLATFORM, 'Enforce', '2', 'true', 'True']);
  });

  it('is refused by the API server as a ceiling without an Allow rule, and with a namespace-only field', async () => {
    const noAllow = `apiVersion: agentwarden.io/v1alpha1
kind: ClusterAgentPolicy
metadata: {name: ${PLATFORM}-deny-only}
spec:
  ceiling: true
  rules: [{name: no-paste, action: Deny, to: {hosts: [pastebin.com]}}]
`;
    const r = await kubectl(['apply', '-f', '-'], noAllow);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('a ceiling policy needs at least one Allow rule');
    const withCredentials = await kubectl(['apply', '--validate=strict', '-f', '-'], platformPolicy().replace('  ceiling: true', '  ceiling: true\n  credentials: [{name: c, secretRef: {name: s, key: k}}]'));
    expect(withCredentials.code).not.toBe(0);
    expect(withCredentials.stderr).toContain('unknown field "spec.credentials"');
  });
});

interface ClusterRole {
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly rules?: { readonly resources?: string[] }[];
  readonly aggregationRule?: { readonly clusterRoleSelectors?: { readonly matchLabels?: Record<string, string> }[] };
}
interface ClusterRoleList { readonly items: ClusterRole[] }

/**
 * The ClusterRoles whose rules the built-in admin role holds once aggregated (admin
 * aggregates edit, which aggregates view, ...): the leaves of its aggregation tree.
 */
async function aggregatedIntoAdmin(): Promise<string[]> {
  const all = (JSON.parse(await kubectlOk(['get', 'clusterroles', '-o', 'json'])) as ClusterRoleList).items;
  const leaves = new Set<string>();
  const visit = (role: ClusterRole, seen: Set<string>): void => {
    if (seen.has(role.metadata.name)) return;
    seen.add(role.metadata.name);
    const selectors = role.aggregationRule?.clusterRoleSelectors;
    if (selectors === undefined) { leaves.add(role.metadata.name); return; }
    for (const selector of selectors) {
      const wanted = Object.entries(selector.matchLabels ?? {});
      for (const r of all) if (wanted.every(([k, v]) => r.metadata.labels?.[k] === v)) visit(r, seen);
    }
  };
  const admin = all.find((r) => r.metadata.name === 'admin');
  if (admin === undefined) throw new Error('no built-in admin ClusterRole');
  visit(admin, new Set());
  return [...leaves];
}

async function asTenantOk(args: readonly string[], stdin?: string): Promise<string> {
  const r = await asTenant(args, stdin);
  if (r.code !== 0) throw new Error(`kubectl as ${TENANT} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
