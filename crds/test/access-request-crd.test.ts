// The AgentAccessRequest CustomResourceDefinition: namespaced with a status
// subresource, the printer columns of issue 15, AgentPolicy's rule and
// selector schemas for break-glass, and the CEL rules the API server enforces
// (their verdicts on the real API server: e2e/test/approvals-controller.test.ts).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface Schema {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: string[];
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
}

interface Crd {
  metadata: { name: string };
  spec: {
    scope: string;
    names: { kind: string; plural: string; shortNames?: string[] };
    versions: { name: string; subresources?: Record<string, unknown>; additionalPrinterColumns?: { name: string; jsonPath: string }[]; schema: { openAPIV3Schema: Schema } }[];
  };
}

function read(name: string): Crd {
  return parse(readFileSync(new URL(`../../../crds/${name}`, import.meta.url), 'utf8')) as Crd;
}

const crd = read('agentaccessrequest.yaml');
const policy = read('agentpolicy.yaml');
const version = crd.spec.versions[0];
const spec = version?.schema.openAPIV3Schema.properties?.['spec'] ?? {};
const policySpec = policy.spec.versions[0]?.schema.openAPIV3Schema.properties?.['spec'] ?? {};

describe('the AgentAccessRequest CRD', () => {
  it('is namespaced under agentwarden.io with a status subresource', () => {
    expect(crd.metadata.name).toBe('agentaccessrequests.agentwarden.io');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind: 'AgentAccessRequest', plural: 'agentaccessrequests' });
    expect(version?.subresources).toEqual({ status: {} });
  });

  it('prints AGENT, OPERATION, STATE, EXPIRES, APPROVED-BY and AGE', () => {
    expect(version?.additionalPrinterColumns?.map((c) => [c.name, c.jsonPath])).toEqual([
      ['Agent', '.spec.pod'], ['Operation', '.status.summary'], ['State', '.status.state'],
      ['Expires', '.status.expiresAt'], ['Approved-By', '.status.approvedBy'], ['Age', '.metadata.creationTimestamp'],
    ]);
  });

  it('takes break-glass rules in AgentPolicy\'s rule schema, and pods by AgentPolicy\'s selector schema', () => {
    expect(spec.properties?.['rules']?.items).toEqual(policySpec.properties?.['rules']?.items);
    expect(spec.properties?.['podSelector']?.properties).toEqual(policySpec.properties?.['podSelector']?.properties);
  });

  it('states the contract\'s rules in CEL: immutable spec, one of pod and podSelector, operation or rules, justification for break-glass, Allow rules only, a positive duration', () => {
    const rules = (spec['x-kubernetes-validations'] ?? []).map((v) => v.rule);
    expect(rules).toEqual(expect.arrayContaining([
      'self == oldSelf', 'has(self.pod) != has(self.podSelector)',
      '(has(self.rules) && size(self.rules) > 0) || has(self.operation)',
      '!has(self.rules) || size(self.rules) == 0 || (has(self.justification) && size(self.justification.trim()) > 0)',
    ]));
    expect(spec.properties?.['rules']?.['x-kubernetes-validations']?.[0]?.rule).toBe("self.all(r, !has(r.action) || r.action == 'Allow')");
    expect(spec.properties?.['duration']?.['x-kubernetes-validations']?.[0]?.rule).toBe("duration(self) > duration('0s')");
    expect(spec.required).toEqual(['serviceAccount', 'duration']);
  });

  it('lists every state of the contract', () => {
    expect(version?.schema.openAPIV3Schema.properties?.['status']?.properties?.['state']?.enum).toEqual(['Pending', 'Approved', 'Denied', 'Expired', 'ReviewRequired', 'Reviewed']);
  });
});
