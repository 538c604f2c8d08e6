// `agentwarden explain`'s pure parts: a decision span read from Jaeger's JSON,
// and the text it prints. (e2e/test/demo.test.ts runs it against the real Jaeger.)
import { decisionsOfJaegerTrace, spanCount } from '../src/explain/trace.js';
import { renderDecision } from '../src/explain/render.js';

const TRACE = '5d072b73bbe0e7098044ca0ffb8ec705';

/** A trace as Jaeger's /api/traces/<id> answers: the agent's span and one decision span. */
function jaegerTrace(tags: Record<string, unknown>): unknown {
  return {
    data: [{
      traceID: TRACE,
      spans: [
        { traceID: TRACE, spanID: 'aedfd5c062c9b195', operationName: 'agent call', startTime: 1765000000000000, tags: [] },
        {
          traceID: TRACE, spanID: 'aa887ad56ed37447', operationName: 'agentwarden.decision', startTime: 1765000000123000,
          references: [{ refType: 'CHILD_OF', traceID: TRACE, spanID: 'aedfd5c062c9b195' }],
          tags: Object.entries(tags).map(([key, value]) => ({ key, type: typeof value === 'number' ? 'int64' : 'string', value })),
        },
      ],
    }],
  };
}

const DENY = {
  'agentwarden.decision': 'deny', 'agentwarden.mode': 'Enforce', 'agentwarden.policy': 'support-agent', 'agentwarden.rule': 'mcp-no-deletes',
  'agentwarden.reason': 'denied by rule "mcp-no-deletes" of policy "support-agent"', 'agentwarden.policy_version': 'sha256:8ebf',
  'k8s.namespace.name': 'support', 'k8s.pod.name': 'agent-0', 'http.request.method': 'POST', 'server.address': 'mcp.support.internal', 'server.port': 80,
  'url.path': '/mcp', 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'delete_customer',
  'agentwarden.session.id': 'agent-0', 'agentwarden.session.taints': '["pii"]', 'agentwarden.session.taints.added': '["untrusted"]',
};

describe('decisionsOfJaegerTrace', () => {
  it('reads the decision span\'s attributes, its parent and time, and array attributes Jaeger carries as JSON text', () => {
    const [d, ...rest] = decisionsOfJaegerTrace(jaegerTrace(DENY));
    expect(rest).toEqual([]);
    expect(d).toMatchObject({
      traceId: TRACE, spanId: 'aa887ad56ed37447', parentSpanId: 'aedfd5c062c9b195', startMs: 1765000000123,
      decision: 'deny', policy: 'support-agent', rule: 'mcp-no-deletes', policyVersion: 'sha256:8ebf', namespace: 'support', pod: 'agent-0',
      port: '80', tool: 'delete_customer', sessionId: 'agent-0', taints: ['pii'], taintsAdded: ['untrusted'], grant: null, approvalRequest: null,
    });
  });

  it('finds no decision in a trace without one, and counts its spans', () => {
    const body = { data: [{ spans: [{ traceID: TRACE, spanID: '1', operationName: 'agent call', tags: [] }] }] };
    expect(decisionsOfJaegerTrace(body)).toEqual([]);
    expect(spanCount(body)).toBe(1);
    expect(decisionsOfJaegerTrace({ errors: [{ code: 404 }] })).toEqual([]);
  });
});

describe('renderDecision', () => {
  const [d] = decisionsOfJaegerTrace(jaegerTrace(DENY));
  if (d === undefined) throw new Error('no decision');

  it('prints the decision, request, policy, rule, reason, session and the rule as it reads now, name and action first', () => {
    const lines = renderDecision(d, { policy: { object: 'AgentPolicy support/support-agent', generation: 3, rules: [{ action: 'Deny', mcp: { tools: ['delete_customer'] }, name: 'mcp-no-deletes' }] }, requests: [] });
    expect(lines).toEqual([
      `decision ${TRACE}: DENY at 2025-12-06T05:46:40.123Z, pod support/agent-0`,
      '  span       aa887ad56ed37447, a child of the caller\'s span aedfd5c062c9b195',
      '  request    POST mcp.support.internal/mcp (MCP tools/call delete_customer)',
      '  policy     support-agent, mode Enforce, snapshot sha256:8ebf',
      '  rule       mcp-no-deletes',
      '  reason     denied by rule "mcp-no-deletes" of policy "support-agent"',
      '  session    agent-0; taints before: pii; added: untrusted',
      '  rule now   AgentPolicy support/support-agent, generation 3:',
      '    - name: mcp-no-deletes',
      '      action: Deny',
      '      mcp:',
      '        tools:',
      '          - delete_customer',
    ]);
  });

  it('says when the rule or the policy is gone, or the API server could not be asked', () => {
    expect(renderDecision(d, { policy: { object: 'AgentPolicy support/support-agent', generation: 4, rules: [{ name: 'other' }] } }).at(-1))
      .toBe('  rule now   AgentPolicy support/support-agent, generation 4 has no rule mcp-no-deletes any more (its rules: other)');
    expect(renderDecision(d, { policy: 'none' }).at(-1)).toBe('  rule now   no AgentPolicy support/support-agent nor ClusterAgentPolicy support-agent exists any more');
    expect(renderDecision(d, { policy: { error: 'cannot reach the API server' } }).at(-1)).toBe('  rule now   not read from the API server (cannot reach the API server)');
    expect(renderDecision(d, {}).some((l) => l.includes('rule now'))).toBe(false);
  });

  it('names a grant, the rule it overrode, and where the AgentAccessRequest stands now', () => {
    const [g] = decisionsOfJaegerTrace(jaegerTrace({ ...DENY, 'agentwarden.decision': 'allow', 'agentwarden.grant': 'agent-0-35523c84bc9a', 'agentwarden.grant.kind': 'approval', 'agentwarden.overridden.rule': 'support-agent/mcp-large-refunds' }));
    const lines = g === undefined ? [] : renderDecision(g, { requests: [['agent-0-35523c84bc9a', 'support/agent-0-35523c84bc9a is Approved (…) by alice until 2026-12-06T00:25:59Z']] });
    expect(lines).toContain('  grant      agent-0-35523c84bc9a (approval), over rule support-agent/mcp-large-refunds');
    expect(lines).toContain('  now        support/agent-0-35523c84bc9a is Approved (…) by alice until 2026-12-06T00:25:59Z');
  });

  it('names the decisions a span links to (the ones that added the taints it turned on)', () => {
    const body = jaegerTrace(DENY) as { data: { spans: { references?: unknown[] }[] }[] };
    const decisionSpan = body.data[0]?.spans[1];
    decisionSpan?.references?.push({ refType: 'FOLLOWS_FROM', traceID: '8dd3df51025ecc63ff804a0c5abf34da', spanID: '0a0b0c0d0e0f1011' });
    const [l] = decisionsOfJaegerTrace(body);
    expect(l?.parentSpanId).toBe('aedfd5c062c9b195');
    expect(l?.links).toEqual([{ traceId: '8dd3df51025ecc63ff804a0c5abf34da', spanId: '0a0b0c0d0e0f1011' }]);
    expect(l === undefined ? [] : renderDecision(l, {})).toContain('  linked     decision 8dd3df51025ecc63ff804a0c5abf34da (span 0a0b0c0d0e0f1011) added a taint this decision turned on: agentwarden explain 8dd3df51025ecc63ff804a0c5abf34da');
  });

  it('explains a built-in rule instead of looking for its text', () => {
    const [b] = decisionsOfJaegerTrace(jaegerTrace({ ...DENY, 'agentwarden.policy': '', 'agentwarden.rule': 'default-deny', 'agentwarden.reason': 'no rule allows POST mcp.support.internal/mcp' }));
    const lines = b === undefined ? [] : renderDecision(b, { policy: 'none' });
    expect(lines).toContain('  rule       default-deny (built in: no rule allowed the request, so it was denied (the default))');
    expect(lines.some((l) => l.includes('rule now'))).toBe(false);
  });
});
