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

/**
 * The policies that govern `pod` (DESIGN.md semantics, point 1): those in its
 * namespace whose podSelector matches its labels, sorted by name.
 */
export function governingPolicies(policies: readonly AgentPolicy[], pod: PodIdentity): AgentPolicy[] {
  return policies
    .filter((p) => p.namespace === pod.namespace && selectorMatches(p.podSelector, pod.labels))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
