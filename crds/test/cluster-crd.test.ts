// The ClusterAgentPolicy CustomResourceDefinition: cluster-scoped, the printer
// columns DESIGN.md's guardrails call for, and AgentPolicy's rule schema without
// credentials. The API server's own verdict comes from e2e/test/cluster-policy.test.ts.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface Schema {
  type?: string;
  default?: unknown;
  enum?: string[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
}

interface Crd {
  metadata: { name: string };
  spec: {
    scope: string;
    names: { kind: string; plural: string };
    versions: { name: string; additionalPrinterColumns?: { name: string; jsonPath: string }[]; schema: { openAPIV3Schema: Schema } }[];
  };
}

function read(name: string): Crd {
  return parse(readFileSync(new URL(`../../../crds/${name}`, import.meta.url), 'utf8')) as Crd;
}

const cluster = read('clusteragentpolicy.yaml');
const namespaced = read('agentpolicy.yaml');
const specOf = (crd: Crd): Schema => crd.spec.versions[0]?.schema.openAPIV3Schema.properties?.['spec'] ?? {};

describe('the ClusterAgentPolicy CRD', () => {
  it('is cluster-scoped under agentwarden.io', () => {
    expect(cluster.metadata.name).toBe('clusteragentpolicies.agentwarden.io');
    expect(cluster.spec.scope).toBe('Cluster');
    expect(cluster.spec.names).toMatchObject({ kind: 'ClusterAgentPolicy', plural: 'clusteragentpolicies' });
  });

  it('prints MODE, RULES, CEILING, READY and AGE', () => {
    const columns = cluster.spec.versions[0]?.additionalPrinterColumns ?? [];
    expect(columns.map((c) => c.name.toUpperCase())).toEqual(['MODE', 'RULES', 'CEILING', 'READY', 'AGE']);
    expect(columns.find((c) => c.name === 'Ceiling')?.jsonPath).toBe('.spec.ceiling');
  });

  it('has namespaceSelector, podSelector, ceiling (default false), mode and rules, and no credentials', () => {
    const spec = specOf(cluster);
    expect(Object.keys(spec.properties ?? {}).sort()).toEqual(['ceiling', 'mode', 'namespaceSelector', 'podSelector', 'rules']);
    expect(spec.properties?.['ceiling']).toMatchObject({ type: 'boolean', default: false });
    expect(spec.required).toEqual(['rules']);
  });

  it('keeps AgentPolicy\'s rule schema, less the credential reference and the RequireApproval action', () => {
    const rule = (crd: Crd): Schema | undefined => specOf(crd).properties?.['rules']?.items;
    const { credential, action, ...namespacedRule } = rule(namespaced)?.properties ?? {};
    const { action: clusterAction, ...clusterRule } = rule(cluster)?.properties ?? {};
    expect(credential).toBeDefined();
    expect(action?.enum).toEqual(['Allow', 'Deny', 'RequireApproval']);
    expect(clusterAction?.enum).toEqual(['Allow', 'Deny']);
    expect(clusterRule).toEqual(namespacedRule);
    expect(rule(cluster)?.['x-kubernetes-validations']).toEqual(rule(namespaced)?.['x-kubernetes-validations']);
  });

  it('refuses a ceiling policy without an Allow rule', () => {
    expect(specOf(cluster)['x-kubernetes-validations']?.map((v) => v.rule)).toEqual([
      "!has(self.ceiling) || !self.ceiling || self.rules.exists(r, !has(r.action) || r.action == 'Allow')",
    ]);
  });
});
