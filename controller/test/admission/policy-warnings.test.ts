// policyWarnings on policies the parser can produce and on ones it cannot
// (a schedule without windows), so the check holds whatever validation allows.
import { parseAgentPolicy, type AgentPolicy, type Rule } from '../../../policy/src/index.js';
import { policyWarnings } from '../../src/admission/index.js';

function policyWith(rule: Partial<Rule>, mode: 'Enforce' | 'Audit' = 'Enforce'): AgentPolicy {
  return {
    name: 'p', namespace: 'support', generation: 1, source: 'test', mode, credentials: [],
    podSelector: { matchLabels: {}, matchExpressions: [] },
    rules: [{ name: 'r', action: 'Allow', to: { hosts: ['a.example.com'], ports: [] }, ...rule }],
  };
}

describe('policy warnings', () => {
  it('are none for a narrow Enforce policy', () => {
    expect(policyWarnings(policyWith({ http: { methods: ['GET'], paths: ['/a'] } }))).toEqual([]);
  });

  it('flag a schedule without any window as never matching', () => {
    expect(policyWarnings(policyWith({ schedule: { timezone: 'UTC', windows: [] } }))).toEqual(['spec.rules[0] (rule "r"): can never match: its schedule has no window, and outside every window a rule does not match']);
    expect(policyWarnings(policyWith({ schedule: { timezone: 'UTC', windows: [{ days: [], start: '08:00', end: '18:00' }] } }))).toHaveLength(1);
  });

  it('flag http paths on a rule that only matches CONNECT', () => {
    expect(policyWarnings(policyWith({ http: { methods: ['CONNECT'], paths: ['/a'] } }))[0]).toContain('can never match: CONNECT requests have no path');
  });

  it('do not flag an mcp rule whose methods include POST, nor a Deny rule to "*"', () => {
    expect(policyWarnings(policyWith({ http: { methods: ['POST'], paths: [] }, mcp: { methods: ['tools/call'], tools: [] } }))).toEqual([]);
    expect(policyWarnings(policyWith({ action: 'Deny', to: { hosts: ['*'], ports: [] } }))).toEqual([]);
  });

  it('say how far an Allow to "*" is narrowed', () => {
    expect(policyWarnings(policyWith({ to: { hosts: ['*'], ports: [] }, mcp: { methods: ['tools/call'], tools: ['search'] } }))).toEqual(['spec.rules[0] (rule "r"): allows host "*": the agent may reach any host that its http, mcp and when conditions accept']);
  });
});

describe('taint warnings (session-aware rules)', () => {
  const reader = parseAgentPolicy({
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'reader', namespace: 'support' },
    spec: { podSelector: {}, rules: [{ name: 'no-exfil', action: 'Deny', to: { hosts: ['hooks.slack.com'] }, when: "'pii' in session.taints && \"untrusted\" in session.taints" }] },
  }, 'inline', 'support');
  const tainter = parseAgentPolicy({
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'tainter', namespace: 'support' },
    spec: { podSelector: {}, rules: [{ name: 'crm', to: { hosts: ['crm.internal'] }, taints: ['pii'] }] },
  }, 'inline', 'support');

  it('warns of a when that tests a taint no rule of the policies in scope adds', () => {
    expect(policyWarnings(reader, [tainter])).toEqual([
      'spec.rules[0] (rule "no-exfil"): when tests taint "untrusted", which no rule of the policies in namespace support and the ClusterAgentPolicies adds: session.taints never holds it',
    ]);
    expect(policyWarnings(reader)).toHaveLength(2);
  });

  it('warns that a session key the request carries lets the agent pick a clean session', () => {
    const byHeader = { ...reader, session: { key: 'header:mcp-session-id', ttl: '1h' } };
    expect(policyWarnings(byHeader, [tainter]).filter((w) => w.includes('chosen by whoever writes the request'))).toEqual([
      'spec.rules[0] (rule "no-exfil"): when reads session.taints, but spec.session.key header:mcp-session-id is chosen by whoever writes the request: a request with another value of the mcp-session-id header, or none, starts a session with no taints, so a Deny on a taint (or an Allow on its absence) can be walked around; use key pod to hold every request of the pod to its taints',
    ]);
    const byTrace = { ...reader, session: { key: 'trace', ttl: '1h' } };
    expect(policyWarnings(byTrace, [tainter]).some((w) => w.includes('another value of traceparent'))).toBe(true);
    expect(policyWarnings({ ...reader, session: { key: 'pod', ttl: '1h' } }, [tainter]).some((w) => w.includes('chosen by whoever'))).toBe(false);
  });

  it('does not warn when a rule in scope adds every tested taint', () => {
    const both = { ...tainter, rules: [...tainter.rules, { ...tainter.rules[0], name: 'web', taints: ['untrusted'] } as Rule] };
    expect(policyWarnings(reader, [both])).toEqual([]);
  });
});

describe('anomaly warnings (behaviour baselines)', () => {
  const withAnomaly = (name: string, anomaly: NonNullable<AgentPolicy['anomaly']>, mode: 'Enforce' | 'Audit' = 'Enforce'): AgentPolicy => ({ ...policyWith({}, mode), name, anomaly });
  it('say that an Audit policy only records anomalies', () => {
    expect(policyWarnings(withAnomaly('p', { learnFor: '24h', novelOperation: 'Deny' }, 'Audit'))).toContain('spec.anomaly: the policy is in Audit mode: anomalies are recorded only, never denied, and no pod is quarantined');
  });
  it('flag a short learning window before novel operations are denied, and not one that only alerts', () => {
    expect(policyWarnings(withAnomaly('p', { learnFor: '10m', novelOperation: 'Deny' }))).toEqual(['spec.anomaly.learnFor: 10m is short for novelOperation Deny: every operation the agent does not use within it is denied afterwards']);
    expect(policyWarnings(withAnomaly('p', { learnFor: '10m', novelOperation: 'Alert' }))).toEqual([]);
  });
  it('name the policy whose spec.anomaly applies when several in the namespace have one', () => {
    const other = withAnomaly('a-first', { learnFor: '24h', novelOperation: 'Alert' });
    expect(policyWarnings(withAnomaly('p', { learnFor: '24h', novelOperation: 'Alert' }), [other])).toEqual(['spec.anomaly: AgentPolicy "a-first" in namespace support also has spec.anomaly; where several govern a pod, the first by name applies ("a-first")']);
  });
});
