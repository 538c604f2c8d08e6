// Which tokens the broker fetches (pure): for every AgentPolicy that governs at
// least one existing pod, each (oauth2 credential, scope set) its rules name.
// Policies that select no pod cost no token requests.
import { effectiveScopes, governs } from '../../../policy/src/index.js';
import type { NamespaceLabelsLookup, PolicyEntry } from '../reconcile/snapshots.js';
import { isTerminated, podIdentity, type SlimPod } from '../kube/objects.js';
import type { TokenDemand } from './broker.js';

export function tokenDemand(entries: readonly PolicyEntry[], pods: readonly SlimPod[], namespaceLabels?: NamespaceLabelsLookup): TokenDemand[] {
  const out = new Map<string, TokenDemand>();
  const live = pods.filter((p) => !isTerminated(p) && !p.deleting);
  for (const entry of entries) {
    const policy = entry.parsed;
    if (policy === undefined || policy.cluster !== undefined || !policy.credentials.some((c) => c.oauth2 !== undefined)) continue;
    const selects = live.some((p) => p.metadata.namespace === policy.namespace && governs(policy, { ...podIdentity(p), namespaceLabels: namespaceLabels?.(p.metadata.namespace) ?? {} }));
    if (!selects) continue;
    for (const rule of policy.rules) {
      const spec = rule.credential === undefined ? undefined : policy.credentials.find((c) => c.name === rule.credential);
      if (spec?.oauth2 === undefined) continue;
      const scopes = effectiveScopes(rule.credentialScopes, spec);
      const key = `${policy.namespace}/${policy.name}/${spec.name}#${scopes.join(' ')}`;
      if (!out.has(key)) out.set(key, { namespace: policy.namespace, policy: policy.name, credential: spec.name, scopes, spec: spec.oauth2 });
    }
  }
  return [...out.values()];
}
