// Manifest validation: what the API server (schema + CEL validations) and the
// compiler refuse, each reported as a PolicyError naming the source file, the
// object and the field path.
import { checkPolicy, compileSnapshot, parseAgentPolicy, parsePod, PolicyError, type AgentPolicy } from '../src/index.js';
import { dedent, manifestObject, POD, yaml } from './helpers.js';
import { parse } from 'yaml';

const SOURCE = 'policies/support.yaml';
const OBJECT = 'AgentPolicy support/support-agent';

/** Reads a policy named support-agent with `spec`, and checks its conditions as the CLI and admission do. */
function read(spec: string): AgentPolicy {
  const p = parseAgentPolicy(manifestObject('support-agent', spec), SOURCE, 'support');
  checkPolicy(p);
  return p;
}

function rejection(action: () => unknown): PolicyError {
  try {
    action();
  } catch (e: unknown) {
    if (e instanceof PolicyError) return e;
    throw e;
  }
  throw new Error('expected a PolicyError, but nothing was thrown');
}

const VALID_RULE = '{name: ok, to: {hosts: [api.example.com]}}';

interface Invalid {
  readonly what: string;
  readonly spec: string;
  readonly field: string;
  readonly says: string;
}

const invalid: Invalid[] = [
  {
    what: 'a host that is not a host name',
    spec: `
      podSelector: {}
      rules:
        - ${VALID_RULE}
        - {name: bad-host, to: {hosts: ["api_example.com"]}}`,
    field: 'spec.rules[1].to.hosts[0]', says: '"api_example.com" is not a lower-case host name, "*.suffix", "*" or an IP address',
  },
  {
    what: 'a wildcard in the middle of a host',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com, "api.*.com"]}}]`,
    field: 'spec.rules[0].to.hosts[1]', says: 'is not a lower-case host name',
  },
  {
    what: 'a host with upper-case letters',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [API.example.com]}}]`,
    field: 'spec.rules[0].to.hosts[0]', says: '"API.example.com" is not a lower-case host name',
  },
  {
    what: 'duplicate rule names',
    spec: `
      podSelector: {}
      rules:
        - {name: read, to: {hosts: [a.example.com]}}
        - {name: read, to: {hosts: [b.example.com]}}`,
    field: 'spec.rules[1].name', says: 'duplicate rule name "read"',
  },
  {
    what: 'a credential reference to an undeclared credential',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, credential: zendesk}]
      credentials: [{name: crm, secretRef: {name: crm, key: token}}]`,
    field: 'spec.rules[0].credential', says: 'names credential "zendesk", which spec.credentials does not declare',
  },
  {
    what: 'a time zone that is not IANA',
    spec: `
      podSelector: {}
      rules:
        - name: r
          to: {hosts: [api.example.com]}
          schedule: {timezone: Europe/Bonn, windows: [{start: "08:00", end: "18:00"}]}`,
    field: 'spec.rules[0].schedule.timezone', says: '"Europe/Bonn" is not an IANA time zone',
  },
  {
    what: 'a window starting after it ends',
    spec: `
      podSelector: {}
      rules:
        - name: r
          to: {hosts: [api.example.com]}
          schedule: {timezone: UTC, windows: [{start: "18:00", end: "08:00"}]}`,
    field: 'spec.rules[0].schedule.windows[0]', says: 'start 18:00 must be before end 08:00',
  },
  {
    what: 'a window time that is not HH:MM',
    spec: `
      podSelector: {}
      rules:
        - name: r
          to: {hosts: [api.example.com]}
          schedule: {timezone: UTC, windows: [{start: "8am", end: "18:00"}]}`,
    field: 'spec.rules[0].schedule.windows[0].start', says: '"8am" is not a time HH:MM',
  },
  {
    what: 'a day that is not a weekday abbreviation',
    spec: `
      podSelector: {}
      rules:
        - name: r
          to: {hosts: [api.example.com]}
          schedule: {timezone: UTC, windows: [{days: [Mon, Thr], start: "08:00", end: "18:00"}]}`,
    field: 'spec.rules[0].schedule.windows[0].days[1]', says: 'got "Thr"',
  },
  {
    what: 'a rate limit period that is not a duration',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, rateLimit: {requests: 10, per: 1 minute}}]`,
    field: 'spec.rules[0].rateLimit.per', says: '"1 minute" is not a positive duration',
  },
  {
    what: 'a zero rate limit period',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, rateLimit: {requests: 10, per: 0s}}]`,
    field: 'spec.rules[0].rateLimit.per', says: '"0s" is not a positive duration',
  },
  {
    what: 'a rate limit of zero requests',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, rateLimit: {requests: 0, per: 1m}}]`,
    field: 'spec.rules[0].rateLimit.requests', says: 'must be between 1 and 1000000, got 0',
  },
  {
    what: 'a path template with ** before its end',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, http: {paths: ["/a/**/b"]}}]`,
    field: 'spec.rules[0].http.paths[0]', says: '"**" is only allowed as the last segment',
  },
  {
    what: 'a path template with an unbalanced parameter',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, http: {paths: ["/tickets", "/tickets/{id"]}}]`,
    field: 'spec.rules[0].http.paths[1]', says: 'segment "{id" is not a parameter of the form {name}',
  },
  {
    what: 'a path template naming a parameter twice',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, http: {paths: ["/{id}/x/{id}"]}}]`,
    field: 'spec.rules[0].http.paths[0]', says: 'parameter {id} appears twice',
  },
  {
    what: 'a path template with a percent-encoded segment',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, http: {paths: ["/a%2Fb"]}}]`,
    field: 'spec.rules[0].http.paths[0]', says: 'must be written decoded',
  },
  {
    what: 'a path template with a ".." segment',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, http: {paths: ["/a/../b"]}}]`,
    field: 'spec.rules[0].http.paths[0]', says: 'segment ".." can never match',
  },
  {
    what: 'a path template not starting with "/"',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, http: {paths: ["tickets"]}}]`,
    field: 'spec.rules[0].http.paths[0]', says: 'must start with "/"',
  },
  {
    what: 'an unknown field in a rule',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, hots: [x]}]`,
    field: 'spec.rules[0].hots', says: 'unknown field',
  },
  {
    what: 'an unknown field in the spec',
    spec: `
      podSelector: {}
      podselector: {}
      rules: [${VALID_RULE}]`,
    field: 'spec.podselector', says: 'unknown field',
  },
  {
    what: 'more than 256 rules',
    spec: `
      podSelector: {}
      rules: [${Array.from({ length: 257 }, (_, i) => `{name: r${i}, to: {hosts: [api.example.com]}}`).join(', ')}]`,
    field: 'spec.rules', says: 'must have at most 256 items, got 257',
  },
  {
    what: 'no rules',
    spec: `
      podSelector: {}
      rules: []`,
    field: 'spec.rules', says: 'must have at least 1 item(s)',
  },
  {
    what: 'a missing podSelector',
    spec: `
      rules: [${VALID_RULE}]`,
    field: 'spec.podSelector', says: 'required',
  },
  {
    what: 'an unknown mode',
    spec: `
      podSelector: {}
      mode: DryRun
      rules: [${VALID_RULE}]`,
    field: 'spec.mode', says: 'must be one of Enforce, Audit, got "DryRun"',
  },
  {
    what: 'an unknown action',
    spec: `
      podSelector: {}
      rules: [{name: r, action: Permit, to: {hosts: [api.example.com]}}]`,
    field: 'spec.rules[0].action', says: 'must be one of Allow, Deny, RequireApproval, got "Permit"',
  },
  {
    what: 'a rule name that is not a DNS label',
    spec: `
      podSelector: {}
      rules: [{name: Read_Tickets, to: {hosts: [api.example.com]}}]`,
    field: 'spec.rules[0].name', says: '"Read_Tickets" is not a DNS label',
  },
  {
    what: 'a port out of range',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com], ports: [443, 70000]}}]`,
    field: 'spec.rules[0].to.ports[1]', says: 'must be an integer port between 1 and 65535',
  },
  {
    what: 'an HTTP method that does not exist',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, http: {methods: [GET, FETCH]}}]`,
    field: 'spec.rules[0].http.methods[1]', says: 'got "FETCH"',
  },
  {
    what: 'a matchExpression In without values',
    spec: `
      podSelector: {matchExpressions: [{key: tier, operator: In}]}
      rules: [${VALID_RULE}]`,
    field: 'spec.podSelector.matchExpressions[0].values', says: 'must be non-empty for operator In',
  },
  {
    what: 'duplicate credential names',
    spec: `
      podSelector: {}
      rules: [${VALID_RULE}]
      credentials:
        - {name: api, secretRef: {name: a, key: token}}
        - {name: api, secretRef: {name: b, key: token}}`,
    field: 'spec.credentials[1].name', says: 'duplicate credential name "api"',
  },
  {
    what: 'a credential header that is not a header name',
    spec: `
      podSelector: {}
      rules: [${VALID_RULE}]
      credentials: [{name: api, secretRef: {name: a, key: token}, header: "X Api Key"}]`,
    field: 'spec.credentials[0].header', says: 'is not an HTTP header name',
  },
  {
    what: 'a condition that is not a bool',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, when: "request.path"}]`,
    field: 'spec.rules[0].when', says: 'rule "r": must evaluate to a bool, but evaluates to string',
  },
  {
    what: 'a condition with a syntax error',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, when: "request.path == "}]`,
    field: 'spec.rules[0].when', says: 'rule "r": syntax error',
  },
  {
    what: 'a condition reading a field request does not have',
    spec: `
      podSelector: {}
      rules: [{name: r, to: {hosts: [api.example.com]}, when: "request.url == '/x'"}]`,
    field: 'spec.rules[0].when', says: "undeclared reference to 'request.url'",
  },
];

describe('an invalid AgentPolicy', () => {
  it.each(invalid)('is rejected for $what, naming source, object and $field', ({ spec, field, says }) => {
    const e = rejection(() => read(spec));
    expect(e.source).toBe(SOURCE);
    expect(e.object).toBe(OBJECT);
    expect(e.problems.map((p) => p.field)).toContain(field);
    const line = e.message.split('\n').find((l) => l.startsWith(`${SOURCE}: ${OBJECT}: ${field}: `));
    expect(line).toBeDefined();
    expect(line).toContain(says);
  });

  it('is rejected for a typo in when, naming the field, the rule and the unknown name', () => {
    const e = rejection(() => read(`
      podSelector: {}
      rules:
        - name: read-tickets
          to: {hosts: [api.example.com]}
          when: "reqest.path == '/x'"
    `));
    expect(e.message).toContain(`${SOURCE}: ${OBJECT}: spec.rules[0].when: `);
    expect(e.message).toContain('rule "read-tickets"');
    expect(e.message).toContain('reqest');
  });

  it('is rejected by the compiler for a typo in when too, when it governs the pod', () => {
    const p = parseAgentPolicy(manifestObject('support-agent', `
      podSelector: {}
      rules:
        - {name: ok, to: {hosts: [api.example.com]}}
        - {name: read-tickets, to: {hosts: [api.example.com]}, when: "reqest.path == '/x'"}
    `), SOURCE, 'support');
    const e = rejection(() => compileSnapshot([p], POD));
    expect(e.message).toMatch(/^policies\/support\.yaml: AgentPolicy support\/support-agent: spec\.rules\[1\]\.when: rule "read-tickets": undeclared reference to 'reqest'/);
  });

  it('reports every problem of the manifest at once', () => {
    const e = rejection(() => read(`
      podSelector: {}
      mode: Sometimes
      rules:
        - {name: r, to: {hosts: ["bad host"]}, rateLimit: {requests: 1, per: soon}}
    `));
    expect(e.problems.map((p) => p.field).sort()).toEqual(['spec.mode', 'spec.rules[0].rateLimit.per', 'spec.rules[0].to.hosts[0]']);
    expect(e.message.split('\n')).toHaveLength(3);
  });

  it('is rejected for a wrong apiVersion and kind', () => {
    const e = rejection(() => parseAgentPolicy({ apiVersion: 'agentwarden.io/v1', kind: 'AgentPolicies', metadata: { name: 'x', namespace: 'support' }, spec: yaml(`
      podSelector: {}
      rules: [${VALID_RULE}]
    `) }, SOURCE, 'support'));
    expect(e.message).toContain(`${SOURCE}: AgentPolicy support/x: apiVersion: must be agentwarden.io/v1alpha1, got "agentwarden.io/v1"`);
    expect(e.message).toContain(`${SOURCE}: AgentPolicy support/x: kind: must be AgentPolicy`);
  });

  it('is rejected when it is not an object, naming the root', () => {
    const e = rejection(() => parseAgentPolicy(['a list'], SOURCE, 'support'));
    expect(e.message).toBe(`${SOURCE}: AgentPolicy <unnamed>: (root): must be an object`);
  });

  it('is rejected for a metadata.name that is not a DNS subdomain', () => {
    const e = rejection(() => parseAgentPolicy({ ...manifestObject('x', `
      podSelector: {}
      rules: [${VALID_RULE}]
    `), metadata: { name: 'Support Agent', namespace: 'support' } }, SOURCE, 'support'));
    expect(e.problems).toEqual([{ field: 'metadata.name', message: '"Support Agent" is not a DNS subdomain name' }]);
  });
});

describe('a valid AgentPolicy', () => {
  it('is read with the CRD defaults applied', () => {
    const p = read(`
      podSelector: {}
      rules:
        - name: r
          to: {hosts: [api.example.com]}
          mcp: {}
          schedule: {windows: [{start: "08:00", end: "18:00"}]}
      credentials: [{name: c, secretRef: {name: s, key: k}}]
    `);
    expect(p).toMatchObject({
      name: 'support-agent', namespace: 'support', generation: 0, source: SOURCE, mode: 'Enforce',
      podSelector: { matchLabels: {}, matchExpressions: [] },
      credentials: [{ name: 'c', secretRef: { name: 's', key: 'k' }, header: 'Authorization', prefix: 'Bearer ' }],
    });
    expect(p.rules[0]).toEqual({
      name: 'r', action: 'Allow', to: { hosts: ['api.example.com'], ports: [] },
      mcp: { methods: ['tools/call'], tools: [] },
      schedule: { timezone: 'UTC', windows: [{ days: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'], start: '08:00', end: '18:00' }] },
    });
  });

  it('accepts exactly 256 rules', () => {
    const rules = Array.from({ length: 256 }, (_, i) => `{name: r${i}, to: {hosts: [api.example.com]}}`).join(', ');
    expect(read(`
      podSelector: {}
      rules: [${rules}]
    `).rules).toHaveLength(256);
  });

  it('ignores its status', () => {
    const p = parseAgentPolicy({ ...manifestObject('support-agent', `
      podSelector: {}
      rules: [${VALID_RULE}]
    `), status: { rules: 1, version: 'sha256:x' } }, SOURCE, 'support');
    expect(p.rules).toHaveLength(1);
  });
});

describe('a Pod manifest', () => {
  it('is read into namespace, name, service account and labels', () => {
    const pod = parsePod(parse(dedent(`
      apiVersion: v1
      kind: Pod
      metadata: {name: agent-1, namespace: support, labels: {app: agent}}
      spec: {serviceAccountName: agent-sa}
    `)), 'pod.yaml');
    expect(pod).toEqual({ namespace: 'support', name: 'agent-1', serviceAccount: 'agent-sa', labels: { app: 'agent' } });
  });

  it('defaults to namespace default and service account default', () => {
    expect(parsePod({ kind: 'Pod', metadata: { name: 'p' } }, 'pod.yaml')).toEqual({ namespace: 'default', name: 'p', serviceAccount: 'default', labels: {} });
  });

  it('is rejected when it is not a Pod, naming the file and field', () => {
    const e = rejection(() => parsePod({ kind: 'Deployment', metadata: { name: 'p', labels: { app: 1 } } }, 'pod.yaml'));
    expect(e.message).toContain('pod.yaml: Pod p: kind: must be Pod');
    expect(e.message).toContain('pod.yaml: Pod p: metadata.labels.app: must be a string, got number 1');
  });
});
