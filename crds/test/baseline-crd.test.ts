// The AgentBaseline CRD and AgentPolicy's spec.anomaly are public API (DESIGN.md
// "Behaviour: baselines and anomalies"); the API server's own verdict on them is in
// e2e/test/baselines.test.ts.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface Schema {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: string[];
  default?: unknown;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

interface Crd {
  metadata: { name: string };
  spec: {
    scope: string;
    names: { kind: string; plural: string; shortNames?: string[] };
    versions: { name: string; subresources?: Record<string, unknown>; additionalPrinterColumns?: { name: string; type: string; jsonPath: string }[]; schema: { openAPIV3Schema: Schema } }[];
  };
}

function read(name: string): Crd {
  return parse(readFileSync(new URL(`../../../crds/${name}`, import.meta.url), 'utf8')) as Crd;
}

const crd = read('agentbaseline.yaml');
const version = crd.spec.versions[0];
const anomaly = read('agentpolicy.yaml').spec.versions[0]?.schema.openAPIV3Schema.properties?.['spec']?.properties?.['anomaly'];

describe('the AgentBaseline CRD', () => {
  it('is namespaced under agentwarden.io with a status subresource the controller writes', () => {
    expect({ name: crd.metadata.name, scope: crd.spec.scope, kind: crd.spec.names.kind, plural: crd.spec.names.plural, subresources: version?.subresources }).toEqual({
      name: 'agentbaselines.agentwarden.io', scope: 'Namespaced', kind: 'AgentBaseline', plural: 'agentbaselines', subresources: { status: {} },
    });
  });

  it('prints AGENT, OPERATIONS, LEARNING-UNTIL, ANOMALIES and QUARANTINED', () => {
    expect(version?.additionalPrinterColumns?.map((c) => [c.name.toUpperCase(), c.jsonPath])).toEqual([
      ['AGENT', '.spec.serviceAccount'], ['OPERATIONS', '.status.operationCount'], ['LEARNING-UNTIL', '.status.learningUntil'],
      ['ANOMALIES', '.status.anomalies'], ['QUARANTINED', '.status.quarantinedCount'],
    ]);
  });

  it('lets operators accept operations and release pods in spec, bounded', () => {
    const spec = version?.schema.openAPIV3Schema.properties?.['spec'];
    expect(spec?.required).toEqual(['serviceAccount']);
    expect(Object.keys(spec?.properties ?? {})).toEqual(['serviceAccount', 'accepted', 'releases']);
    expect(spec?.properties?.['releases']?.items?.required).toEqual(['pod', 'at']);
  });
});

describe('AgentPolicy spec.anomaly', () => {
  it('has the contract\'s fields, defaults and actions (Off quoted: YAML 1.1 would read it as false)', () => {
    expect(Object.keys(anomaly?.properties ?? {})).toEqual(['learnFor', 'novelOperation', 'rateSpike', 'quarantineAfter']);
    expect(anomaly?.properties?.['learnFor']?.default).toBe('24h');
    expect(anomaly?.properties?.['novelOperation']).toMatchObject({ default: 'Alert', enum: ['Off', 'Alert', 'Deny', 'RequireApproval'] });
    expect(anomaly?.properties?.['rateSpike']?.properties?.['action']?.enum).toEqual(['Off', 'Alert', 'Deny']);
    expect(anomaly?.properties?.['rateSpike']?.required).toEqual(['factor']);
    expect(anomaly?.properties?.['quarantineAfter']?.required).toEqual(['anomalies']);
  });

  it('checks its durations with CEL', () => {
    const rules = (field: Schema | undefined): string[] => (field?.['x-kubernetes-validations'] ?? []).map((v) => v.rule);
    expect(rules(anomaly?.properties?.['learnFor'])[0]).toContain("duration(self) > duration('0s')");
    expect(rules(anomaly?.properties?.['rateSpike']?.properties?.['over'])[0]).toContain("duration(self) >= duration('1s')");
    expect(rules(anomaly?.properties?.['quarantineAfter']?.properties?.['within'])[0]).toContain("duration(self) > duration('0s')");
  });
});
