// The AgentPolicy CRD on a real API server: it installs and becomes
// Established, every example applies, invalid policies are rejected by the API
// server itself with a message naming the field, and kubectl shows the printer
// columns and teaches the language through `kubectl explain`.
import { join } from 'node:path';
import { ROOT, kubectl, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';

const CRD = join(ROOT, 'crds/agentpolicy.yaml');

function policy(namespace: string, name: string, spec: string): string {
  return `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec.replace(/^\n/, '').split('\n').map((l) => `  ${l}`).join('\n')}
`;
}

const VALID_RULE = '{name: ok, to: {hosts: [api.example.com]}}';

/** [what is wrong, spec, a fragment the API server's message must contain]. */
const INVALID: readonly [string, string, string][] = [
  ['no podSelector', `rules: [${VALID_RULE}]`, 'spec.podSelector'],
  ['no rules', 'podSelector: {}\nrules: []', 'spec.rules'],
  ['an unknown mode', `podSelector: {}\nmode: Permissive\nrules: [${VALID_RULE}]`, 'spec.mode'],
  ['an unknown action', 'podSelector: {}\nrules: [{name: r, action: Maybe, to: {hosts: [a.example.com]}}]', 'spec.rules[0].action'],
  ['a rule name that is not a DNS label', 'podSelector: {}\nrules: [{name: Read_Tickets, to: {hosts: [a.example.com]}}]', 'spec.rules[0].name'],
  ['two rules with the same name', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}}, {name: r, to: {hosts: [b.example.com]}}]', 'spec.rules[1]'],
  ['a rule without hosts', 'podSelector: {}\nrules: [{name: r, to: {hosts: []}}]', 'spec.rules[0].to.hosts'],
  ['a host with a scheme', 'podSelector: {}\nrules: [{name: r, to: {hosts: ["https://a.example.com"]}}]', 'spec.rules[0].to.hosts[0]'],
  ['a port out of range', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com], ports: [70000]}}]', 'spec.rules[0].to.ports[0]'],
  ['an unknown HTTP method', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}, http: {methods: [FETCH]}}]', 'spec.rules[0].http.methods[0]'],
  ['a path without a leading slash', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}, http: {paths: ["tickets"]}}]', 'spec.rules[0].http.paths[0]'],
  // A credential reference to nothing: rules[].credential is a name or {name, scopes}, untyped in the
  // schema; the validating webhook refuses it (e2e/test/admission.test.ts, policy/test/oauth2.test.ts).
  ['a credential without secretRef or oauth2', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}}]\ncredentials: [{name: c}]', 'exactly one of secretRef'],
  ['an oauth2 token endpoint over plain http', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}}]\ncredentials: [{name: c, oauth2: {tokenUrl: "http://auth.example.com/token", clientSecretRef: {name: s}}}]', 'tokenUrl must be an https URL'],
  ['a schedule window that ends before it starts', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}, schedule: {timezone: UTC, windows: [{days: [Mon], start: "18:00", end: "08:00"}]}}]', 'spec.rules[0].schedule.windows[0]'],
  ['a schedule time that is not HH:MM', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}, schedule: {timezone: UTC, windows: [{days: [Mon], start: "8am", end: "18:00"}]}}]', 'spec.rules[0].schedule.windows[0].start'],
  ['a rate limit per a non-duration', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}, rateLimit: {requests: 10, per: "a minute"}}]', 'spec.rules[0].rateLimit.per'],
  ['a rate limit of zero requests', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}, rateLimit: {requests: 0, per: 1m}}]', 'spec.rules[0].rateLimit.requests'],
  ['an unknown weekday', 'podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}, schedule: {timezone: UTC, windows: [{days: [Funday], start: "08:00", end: "18:00"}]}}]', 'spec.rules[0].schedule.windows[0].days[0]'],
];

describe('the AgentPolicy CRD on a real API server', () => {
  const ns = uniqueNamespace('crd');

  beforeAll(async () => {
    await kubectlOk(['apply', '-f', CRD]);
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io']);
    await kubectlOk(['create', 'namespace', ns]);
    await kubectlOk(['create', 'namespace', 'support']).catch(() => undefined);
  });

  it('installs and becomes Established with its short name', async () => {
    const out = await kubectlOk(['get', 'crd', 'agentpolicies.agentwarden.io', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status} {.spec.names.shortNames[0]}']);
    expect(out).toBe('True apol');
  });

  it('accepts every example policy', async () => {
    const out = await kubectlOk(['apply', '-f', join(ROOT, 'examples/support-agent/policies')]);
    expect(out).toMatch(/agentpolicy.agentwarden.io\/support-agent (created|configured|unchanged)/);
    expect(out).toMatch(/agentpolicy.agentwarden.io\/support-agent-trial (created|configured|unchanged)/);
  });

  it('fills in the documented defaults', async () => {
    await kubectlOk(['apply', '-f', '-'], policy(ns, 'defaults', `podSelector: {}\nrules: [{name: r, to: {hosts: [a.example.com]}, mcp: {}}]`));
    const out = await kubectlOk(['get', 'agentpolicy', '-n', ns, 'defaults', '-o', 'jsonpath={.spec.mode} {.spec.rules[0].action} {.spec.rules[0].mcp.methods[0]}']);
    expect(out).toBe('Enforce Allow tools/call');
  });

  it.each(INVALID)('rejects a policy with %s, naming the field', async (_what, spec, fragment) => {
    const r = await kubectl(['apply', '-f', '-'], policy(ns, 'invalid', spec));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('is invalid');
    expect(r.stderr).toContain(fragment);
  });

  it('shows Mode, Rules, Ready, Synced and Age in kubectl get', async () => {
    const out = await kubectlOk(['get', 'agentpolicies', '-n', 'support']);
    const header = out.split('\n')[0] ?? '';
    expect(header.split(/\s+/).filter(Boolean)).toEqual(['NAME', 'MODE', 'RULES', 'READY', 'SYNCED', 'AGE']);
    expect(out).toMatch(/support-agent\s+Enforce/);
    expect(out).toMatch(/support-agent-trial\s+Audit/);
  });

  it('teaches the language through kubectl explain', async () => {
    const out = await waitFor('kubectl explain to know the CRD', async () => {
      const r = await kubectl(['explain', 'agentpolicy.spec.rules']);
      return r.code === 0 ? r.stdout : undefined;
    });
    for (const field of ['name', 'action', 'to', 'http', 'mcp', 'when', 'schedule', 'rateLimit', 'credential']) {
      expect(out).toMatch(new RegExp(`^\\s+${field}\\s`, 'm'));
    }
    const when = await kubectlOk(['explain', 'agentpolicy.spec.rules.when']);
    expect(when).toMatch(/CEL/);
  });
});
