// The policies a reviewed policy's taint tests may be served by (admission
// warnings, DESIGN.md point 12), read from the controller's caches: for an
// AgentPolicy, those of its namespace and the ClusterAgentPolicies; for a
// ClusterAgentPolicy ("" namespace), all. Objects that do not parse add nothing.
import { parseAnyPolicy, PolicyError, type AgentPolicy } from '../../../policy/src/index.js';
import type { PoliciesInScope } from './validate-policy.js';

/** `list`: the cached AgentPolicy and ClusterAgentPolicy manifests. */
export function policiesInScopeOf(list: () => readonly unknown[]): PoliciesInScope {
  return (namespace) => {
    const out: AgentPolicy[] = [];
    for (const object of list()) {
      let policy: AgentPolicy;
      try {
        policy = parseAnyPolicy(object, 'cache', 'default');
      } catch (e: unknown) {
        if (e instanceof PolicyError) continue;
        throw e;
      }
      if (namespace === '' || policy.cluster !== undefined || policy.namespace === namespace) out.push(policy);
    }
    return out;
  };
}
