// The audit span of a decision that a grant made or that asks for approval
// (DESIGN.md "The wire"): agentwarden.grant, agentwarden.grant.kind,
// agentwarden.overridden.rule, agentwarden.approval.request, and a break-glass
// decision in full detail (agentwarden.detail.query_keys,
// gen_ai.tool.call.arguments). What the sidecar's OTLP encoding of such a span
// carries is what the SDK's serializer writes for it.
import { describe, expect, it } from '@jest/globals';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Decision } from '../../policy/src/index.js';
import { decisionAttributes } from '../src/telemetry/attributes.js';
import { DecisionSpan } from '../src/telemetry/decision-span.js';
import { traceProtoSerializer } from '../src/telemetry/otlp-trace-proto.js';

const POD = { namespace: 'support', name: 'support-agent-0' };
const REQUEST = { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', mcpMethod: 'tools/call', mcpTool: 'delete_customer', mcpId: 1 };

const BREAK_GLASS: Decision = {
  allowed: true, mode: 'Enforce', policy: 'grant:incident-4711', rule: 'delete-spam', reason: 'allowed by break-glass grant incident-4711', auditDecision: null, headers: [],
  request: REQUEST,
  grant: { name: 'incident-4711', kind: 'break-glass', overriddenRule: 'support/mcp-no-deletes' },
  detail: { queryKeys: ['dry_run', 'page'], mcpArguments: '{"customer":"c-17","token":"[redacted]"}' },
};

const APPROVAL_GRANT: Decision = {
  ...BREAK_GLASS, policy: 'support', rule: 'refunds',
  grant: { name: 'support-agent-0-3f2a9c1b0e4d', kind: 'approval', overriddenRule: 'support/refunds' },
  detail: undefined,
};

const NEEDS_APPROVAL: Decision = {
  allowed: false, mode: 'Enforce', policy: 'support', rule: 'refunds', reason: 'approval required', auditDecision: null, headers: [], request: REQUEST,
  approval: { name: 'support-agent-0-3f2a9c1b0e4d', operation: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: '' } },
};

describe('decision span attributes', () => {
  it('name the break-glass grant, its kind, the rule it overrode, the query keys and the redacted MCP arguments', () => {
    expect(decisionAttributes(BREAK_GLASS, 'v1', POD)).toMatchObject({
      'agentwarden.decision': 'allow',
      'agentwarden.grant': 'incident-4711',
      'agentwarden.grant.kind': 'break-glass',
      'agentwarden.overridden.rule': 'support/mcp-no-deletes',
      'agentwarden.detail.query_keys': ['dry_run', 'page'],
      'gen_ai.tool.call.arguments': '{"customer":"c-17","token":"[redacted]"}',
    });
  });

  it('name an approval grant without detail', () => {
    const attrs = decisionAttributes(APPROVAL_GRANT, 'v1', POD);
    expect(attrs).toMatchObject({ 'agentwarden.grant': 'support-agent-0-3f2a9c1b0e4d', 'agentwarden.grant.kind': 'approval', 'agentwarden.overridden.rule': 'support/refunds' });
    expect(Object.keys(attrs)).not.toContain('agentwarden.detail.query_keys');
    expect(Object.keys(attrs)).not.toContain('gen_ai.tool.call.arguments');
  });

  it('leave out the overridden rule when the grant overrode none', () => {
    const attrs = decisionAttributes({ ...BREAK_GLASS, grant: { ...BREAK_GLASS.grant!, overriddenRule: null } }, 'v1', POD);
    expect(Object.keys(attrs)).not.toContain('agentwarden.overridden.rule');
  });

  it('name the AgentAccessRequest a RequireApproval deny asks for', () => {
    expect(decisionAttributes(NEEDS_APPROVAL, 'v1', POD)).toMatchObject({ 'agentwarden.decision': 'deny', 'agentwarden.approval.request': 'support-agent-0-3f2a9c1b0e4d' });
  });

  it('add nothing to an ordinary decision', () => {
    const plain = withoutApproval(NEEDS_APPROVAL);
    expect(Object.keys(decisionAttributes(plain, 'v1', POD)).filter((k) => k.includes('grant') || k.includes('approval') || k.includes('detail') || k === 'gen_ai.tool.call.arguments')).toEqual([]);
  });

  it('are encoded by the sidecar as the SDK serializer encodes them, and read back the same', () => {
    const resource = resourceFromAttributes({ 'service.name': 'agentwarden-sidecar' });
    const spans = [BREAK_GLASS, APPROVAL_GRANT, NEEDS_APPROVAL].map((d, i) => new DecisionSpan({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: `00f067aa0ba902b${i}`, parentSpanId: undefined, traceState: undefined,
      startMs: 1.8e12, endMs: 1.8e12 + 0.05, attributes: decisionAttributes(d, 'v1', POD), resource,
    }));
    expect(Buffer.from(traceProtoSerializer.serializeRequest(spans)!)).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!));
    expect(spans[0]!.attributes['agentwarden.detail.query_keys']).toEqual(['dry_run', 'page']);
  });
});

/** The same decision as an ordinary deny (no RequireApproval rule made it). */
function withoutApproval(d: Decision): Decision {
  const copy = { ...d };
  Reflect.deleteProperty(copy, 'approval');
  return copy;
}
