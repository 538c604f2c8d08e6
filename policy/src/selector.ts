// Kubernetes label selectors (metav1.LabelSelector) and which policies govern a pod.
import type { AgentPolicy, LabelSelector, PodIdentity } from './model.js';

export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  for (const req of selector.matchExpressions) {
    const present = Object.hasOwn(labels, req.key);
    const value = present ? labels[req.key] : undefined;
    switch (req.operator) {
      case 'In': if (value === undefined || !req.values.includes(value)) return false; break;
      case 'NotIn': if (value !== undefined && req.values.includes(value)) return false; break;
      case 'Exists': if (!present) return false; break;
      case 'DoesNotExist': if (present) return false; break;
    }
  }
  return true;
}

/** The label every namespace carries (set by the API server since Kubernetes 1.21). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * The policies that govern `pod` (DESIGN.md semantics, point 1): those in its
 * namespace whose podSelector matches its labels, and the ClusterAgentPolicies
 * whose namespaceSelector matches its namespace's labels and podSelector its
 * labels. ClusterAgentPolicies first, each group sorted by name.
 */
export function governingPolicies(policies: readonly AgentPolicy[], pod: PodIdentity): AgentPolicy[] {
  const byName = (a: AgentPolicy, b: AgentPolicy): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const selected = policies.filter((p) => governs(p, pod));
  return [...selected.filter((p) => p.cluster !== undefined).sort(byName), ...selected.filter((p) => p.cluster === undefined).sort(byName)];
}

/** Whether `policy` governs `pod` (point 1; for a ClusterAgentPolicy, its namespaceSelector too). */
export function governs(policy: AgentPolicy, pod: PodIdentity): boolean {
  const inScope = policy.cluster === undefined
    ? policy.namespace === pod.namespace
    : selectorMatches(policy.cluster.namespaceSelector, { ...pod.namespaceLabels, [NAMESPACE_NAME_LABEL]: pod.namespace });
  return inScope && selectorMatches(policy.podSelector, pod.labels);
}
