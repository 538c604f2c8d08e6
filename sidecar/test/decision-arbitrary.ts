// Generated decisions for the property tests of the hand-written encoders
// (response-wire.test.ts, decision-attributes-wire.test.ts): every field a
// Decision can carry, the optional ones present or not, strings from `text`.
import fc from 'fast-check';
import type { Decision } from '../../policy/src/index.js';

export function decisionArbitrary(text: fc.Arbitrary<string>): fc.Arbitrary<Decision> {
  const texts = fc.array(text, { maxLength: 4 });
  return fc.record({
    allowed: fc.boolean(),
    mode: fc.constantFrom('Enforce' as const, 'Audit' as const),
    policy: text,
    rule: text,
    reason: text,
    auditDecision: fc.option(fc.record({ allowed: fc.boolean(), policy: text, rule: text, reason: text }), { nil: null }),
    headers: fc.array(fc.tuple(text, fc.oneof(text, fc.string({ minLength: 200, maxLength: 20_000 }))), { maxLength: 4 }),
    request: fc.option(fc.record({
      method: text, host: text, port: fc.integer({ min: 0, max: 65535 }), path: text,
      mcpMethod: fc.oneof(fc.constant(''), text), mcpTool: text,
      mcpId: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant(undefined)),
    }), { nil: undefined }),
    approval: fc.record({ name: text, operation: fc.constant({ method: 'POST', host: 'mcp.internal', port: 443, path: '/mcp', query: '' }) }),
    headersToRemove: fc.array(fc.oneof(fc.constantFrom('x-agentwarden-decision', 'x-agentwarden-audit-decision', 'x-agentwarden-rule', 'authorization'), text), { maxLength: 4 }),
    grant: fc.record({ name: text, kind: fc.constantFrom('approval' as const, 'break-glass' as const), overriddenRule: fc.option(text, { nil: null }) }),
    detail: fc.record({ queryKeys: texts, mcpArguments: text }),
    session: fc.record({ id: text, taints: texts, added: texts, links: fc.constant([]) }),
    anomaly: fc.record({
      kind: fc.constantFrom('novel-operation' as const, 'rate-spike' as const), operation: text,
      action: fc.constantFrom('Alert' as const, 'Deny' as const, 'RequireApproval' as const), quarantined: fc.boolean(),
    }),
  }, { requiredKeys: ['allowed', 'mode', 'policy', 'rule', 'reason', 'auditDecision', 'headers', 'request'] });
}
