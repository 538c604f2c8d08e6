// The AgentPolicy CustomResourceDefinition is public API: these tests hold it to the
// contract in DESIGN.md ("AgentPolicy") and to what kube-apiserver accepts for a
// structural schema. The apiserver's own verdict (CEL cost budget, defaults) comes from
// the e2e suite against a real API server; here we check the file itself.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

interface JSONSchemaProps {
  type?: string;
  description?: string;
  format?: string;
  properties?: Record<string, JSONSchemaProps>;
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  minimum?: number;
  maximum?: number;
  $ref?: string;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: ValidationRule[];
}

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
}

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  subresources?: { status?: Record<string, never> };
  additionalPrinterColumns?: PrinterColumn[];
  schema: { openAPIV3Schema: JSONSchemaProps };
}

interface CustomResourceDefinition {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: CrdVersion[];
  };
}

const crdUrl = new URL('../../../crds/agentpolicy.yaml', import.meta.url);
const crd = parse(readFileSync(crdUrl, 'utf8')) as CustomResourceDefinition;

function onlyVersion(): CrdVersion {
  const [version] = crd.spec.versions;
  if (version === undefined) throw new Error(`${crdUrl.pathname}: spec.versions is empty`);
  return version;
}

const root = onlyVersion().schema.openAPIV3Schema;

/** Every schema node under `schema`, with a path like `spec.rules[].to.hosts[]`. */
function* walk(schema: JSONSchemaProps, path: string): Generator<[string, JSONSchemaProps]> {
  yield [path, schema];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    yield* walk(child, path === '' ? name : `${path}.${name}`);
  }
  if (schema.items !== undefined) yield* walk(schema.items, `${path}[]`);
  if (typeof schema.additionalProperties === 'object') {
    yield* walk(schema.additionalProperties, `${path}{}`);
  }
}

/** The schema at a path such as `spec.rules[].to.hosts`; throws naming the missing step. */
function at(path: string): JSONSchemaProps {
  let node = root;
  for (const step of path.split('.')) {
    const isList = step.endsWith('[]');
    const name = isList ? step.slice(0, -2) : step;
    const child = node.properties?.[name];
    if (child === undefined) throw new Error(`schema has no field "${name}" in "${path}"`);
    node = child;
    if (isList) {
      if (node.items === undefined) throw new Error(`"${name}" in "${path}" is not a list`);
      node = node.items;
    }
  }
  return node;
}

function matches(pattern: string | undefined, value: string): boolean {
  if (pattern === undefined) throw new Error('no pattern');
  return new RegExp(pattern).test(value);
}

// Every field the DESIGN.md contract names, in the path notation of at().
const contractFields = [
  'spec.podSelector',
  'spec.podSelector.matchLabels',
  'spec.podSelector.matchExpressions[].key',
  'spec.podSelector.matchExpressions[].operator',
  'spec.podSelector.matchExpressions[].values',
  'spec.mode',
  'spec.rules',
  'spec.rules[].name',
  'spec.rules[].action',
  'spec.rules[].to.hosts',
  'spec.rules[].to.ports',
  'spec.rules[].http.methods',
  'spec.rules[].http.paths',
  'spec.rules[].mcp.methods',
  'spec.rules[].mcp.tools',
  'spec.rules[].when',
  'spec.rules[].schedule.timezone',
  'spec.rules[].schedule.windows[].days',
  'spec.rules[].schedule.windows[].start',
  'spec.rules[].schedule.windows[].end',
  'spec.rules[].rateLimit.requests',
  'spec.rules[].rateLimit.per',
  'spec.rules[].credential',
  'spec.credentials',
  'spec.credentials[].name',
  'spec.credentials[].secretRef.name',
  'spec.credentials[].secretRef.key',
  'spec.credentials[].header',
  'spec.credentials[].prefix',
  'status.observedGeneration',
  'status.conditions[].type',
  'status.conditions[].status',
  'status.conditions[].lastTransitionTime',
  'status.rules',
  'status.pods.selected',
  'status.pods.synced',
  'status.version',
];

describe('AgentPolicy CustomResourceDefinition', () => {
  it('defines agentpolicies.agentwarden.io, namespaced, kind AgentPolicy, short name apol, category agentwarden', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.kind).toBe('CustomResourceDefinition');
    expect(crd.metadata.name).toBe('agentpolicies.agentwarden.io');
    expect(crd.spec.group).toBe('agentwarden.io');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({
      kind: 'AgentPolicy',
      plural: 'agentpolicies',
      singular: 'agentpolicy',
      shortNames: ['apol'],
      categories: ['agentwarden'],
    });
  });

  it('serves and stores exactly one version, v1alpha1', () => {
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, true]]);
  });

  it('enables the status subresource, so spec edits cannot overwrite what the controller reports', () => {
    expect(onlyVersion().subresources?.status).toEqual({});
  });

  it('prints exactly the columns Mode, Rules, Ready, Synced and Age in kubectl get', () => {
    const columns = onlyVersion().additionalPrinterColumns ?? [];
    expect(columns.map((c) => [c.name, c.type, c.jsonPath])).toEqual([
      ['Mode', 'string', '.spec.mode'],
      ['Rules', 'integer', '.status.rules'],
      ['Ready', 'string', '.status.conditions[?(@.type=="Ready")].status'],
      ['Synced', 'string', '.status.conditions[?(@.type=="Synced")].status'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ]);
  });

  it('describes every field at every depth, so kubectl explain teaches the policy language', () => {
    // The API server forbids anything but `type` on the root metadata; kubectl explain
    // shows ObjectMeta's own documentation there.
    const undescribed = [...walk(root, '')]
      .filter(([path, node]) => path !== 'metadata' && (node.description ?? '').trim() === '')
      .map(([path]) => path || '<root>');
    expect(undescribed).toEqual([]);
  });

  it.each(contractFields)('declares %s from the DESIGN.md contract', (path) => {
    // rules[].credential is a name or {name, scopes} (DESIGN.md "Brokered OAuth credentials"): untyped.
    if (path === 'spec.rules[].credential') expect(at(path)['x-kubernetes-preserve-unknown-fields']).toBe(true);
    else expect(at(path).type).toEqual(expect.any(String));
  });

  it('keys rules and credentials by name, so a name is unique within a policy', () => {
    for (const path of ['spec.rules', 'spec.credentials']) {
      expect([path, at(path)['x-kubernetes-list-type'], at(path)['x-kubernetes-list-map-keys']]).toEqual([
        path,
        'map',
        ['name'],
      ]);
    }
  });

  it('accepts 1 to 256 rules per policy', () => {
    expect([at('spec.rules').minItems, at('spec.rules').maxItems]).toEqual([1, 256]);
  });

  it('keys status.conditions by type, as metav1.Condition lists are', () => {
    expect(at('status.conditions')['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(at('status.conditions[].status').enum).toEqual(['True', 'False', 'Unknown']);
  });

  it('rejects duplicate hosts, ports, methods, paths, tools and days', () => {
    const sets = [
      'spec.rules[].to.hosts',
      'spec.rules[].to.ports',
      'spec.rules[].http.methods',
      'spec.rules[].http.paths',
      'spec.rules[].mcp.methods',
      'spec.rules[].mcp.tools',
      'spec.rules[].schedule.windows[].days',
    ];
    expect(sets.filter((path) => at(path)['x-kubernetes-list-type'] !== 'set')).toEqual([]);
  });

  it('requires podSelector and rules, and a name and to.hosts in every rule', () => {
    expect(at('spec').required).toEqual(expect.arrayContaining(['podSelector', 'rules']));
    expect(at('spec.rules[]').required).toEqual(expect.arrayContaining(['name', 'to']));
    expect(at('spec.rules[].to').required).toEqual(['hosts']);
    expect([at('spec.rules[].to.hosts').minItems, at('spec.rules[].to.hosts').maxItems]).toEqual([1, 64]);
  });

  it('defaults mode to Enforce, action to Allow, mcp.methods to [tools/call], header to Authorization, prefix to "Bearer "', () => {
    expect(at('spec.mode').default).toBe('Enforce');
    expect(at('spec.rules[].action').default).toBe('Allow');
    expect(at('spec.rules[].mcp.methods').default).toEqual(['tools/call']);
    expect(at('spec.credentials[].header').default).toBe('Authorization');
    expect(at('spec.credentials[].prefix').default).toBe('Bearer ');
    expect(at('spec.rules[].schedule.timezone').default).toBe('UTC');
  });

  it('limits mode, action, HTTP methods and days to their enumerations', () => {
    expect(at('spec.mode').enum).toEqual(['Enforce', 'Audit']);
    expect(at('spec.rules[].action').enum).toEqual(['Allow', 'Deny', 'RequireApproval']);
    expect(at('spec.rules[].http.methods[]').enum).toEqual([
      'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE',
    ]);
    expect(at('spec.rules[].schedule.windows[].days[]').enum).toEqual(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']);
  });

  it('bounds every string, list and map, so CEL rules stay within the API server cost budget', () => {
    const unbounded = [...walk(root, '')]
      .filter(([path]) => path !== 'metadata')
      .filter(([, node]) =>
        (node.type === 'string' && node.maxLength === undefined && node.enum === undefined) ||
        (node.type === 'array' && node.maxItems === undefined) ||
        (typeof node.additionalProperties === 'object' && node.maxProperties === undefined))
      .map(([path]) => path);
    expect(unbounded).toEqual([]);
  });

  it('uses only structural-schema features: no $ref, no preserve-unknown-fields (but for the two-form rules[].credential), no additionalProperties beside properties', () => {
    const offending = [...walk(root, '')]
      .filter(([path, node]) =>
        node.$ref !== undefined ||
        (node['x-kubernetes-preserve-unknown-fields'] !== undefined && path !== 'spec.rules[].credential') ||
        (node.additionalProperties !== undefined && node.properties !== undefined))
      .map(([path]) => path);
    expect(offending).toEqual([]);
  });

  it('accepts rule and credential names only as DNS labels', () => {
    // rules[].credential (a name or {name, scopes}) is checked by the validating webhook: policy/test/oauth2.test.ts.
    for (const path of ['spec.rules[].name', 'spec.credentials[].name']) {
      const { pattern, maxLength } = at(path);
      expect([path, maxLength]).toEqual([path, 63]);
      expect(['read-tickets', 'a', 'zendesk2'].filter((v) => !matches(pattern, v))).toEqual([]);
      expect(['Read', '-a', 'a-', 'a_b', 'a.b', ''].filter((v) => matches(pattern, v))).toEqual([]);
    }
  });

  it('accepts exact hosts, "*.suffix" and "*" as host patterns, and nothing else', () => {
    const { pattern, maxLength } = at('spec.rules[].to.hosts[]');
    expect(maxLength).toBe(253);
    const good = ['api.zendesk.com', '*.crm.internal', '*', 'localhost', '10.0.0.1'];
    const bad = ['*.', 'a.*.com', '**.a.com', 'API.com', 'a.com:443', 'https://a.com', '.a.com', ''];
    expect(good.filter((v) => !matches(pattern, v))).toEqual([]);
    expect(bad.filter((v) => matches(pattern, v))).toEqual([]);
  });

  it('accepts path templates that start with "/" and carry no query', () => {
    const { pattern, maxLength } = at('spec.rules[].http.paths[]');
    expect(maxLength).toBe(1024);
    expect(['/', '/api/v2/tickets/{id}', '/api/v2/search/**'].filter((v) => !matches(pattern, v))).toEqual([]);
    expect(['api/v2', '/x?y=1', '/x#frag'].filter((v) => matches(pattern, v))).toEqual([]);
  });

  it('reads window times as HH:MM on a 24-hour clock, with 24:00 as the end of the day', () => {
    for (const path of ['spec.rules[].schedule.windows[].start', 'spec.rules[].schedule.windows[].end']) {
      const { pattern } = at(path);
      expect(['00:00', '08:00', '23:59', '24:00'].filter((v) => !matches(pattern, v))).toEqual([]);
      expect(['8:00', '24:01', '25:00', '12:60', '12:00:00'].filter((v) => matches(pattern, v))).toEqual([]);
    }
  });

  it('reads rateLimit.per as a duration in ms, s, m or h and allows 1 to 1000000 requests', () => {
    const { pattern } = at('spec.rules[].rateLimit.per');
    expect(['500ms', '1s', '1m', '1h30m'].filter((v) => !matches(pattern, v))).toEqual([]);
    expect(['1d', '1', 'm', '-1m', '1.5h'].filter((v) => matches(pattern, v))).toEqual([]);
    const requests = at('spec.rules[].rateLimit.requests');
    expect([requests.minimum, requests.maximum]).toEqual([1, 1000000]);
  });

  it('checks with CEL that a credential is either a Secret value or an https oauth2 token endpoint', () => {
    expect(at('spec.credentials[]')['x-kubernetes-validations']?.map((r) => r.rule)).toEqual(['has(self.secretRef) != has(self.oauth2)']);
    expect(at('spec.credentials[].oauth2.tokenUrl')['x-kubernetes-validations']?.map((r) => r.rule)).toEqual(["self.startsWith('https://')"]);
    expect(at('spec.credentials[].oauth2').required).toEqual(['tokenUrl', 'clientSecretRef']);
  });

  it('checks with CEL that a window starts before it ends and that per is a positive duration', () => {
    expect(at('spec.rules[].schedule.windows[]')['x-kubernetes-validations']?.map((r) => r.rule)).toEqual([
      'self.start < self.end',
    ]);
    expect(at('spec.rules[].rateLimit.per')['x-kubernetes-validations']?.[0]?.rule).toContain(
      "duration(self) > duration('0s')",
    );
  });
});
