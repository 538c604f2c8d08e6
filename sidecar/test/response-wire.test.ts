// The hand-written CheckResponse encoder (response-wire.ts) against the
// reference: protobuf-es building the message respond.ts defines. Same bytes
// for every decision, and the bytes decode to the same message.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { CheckResponseSchema } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import type { Decision } from '../../policy/src/index.js';
import { checkResponse } from '../src/authz/respond.js';
import { encodeCheckResponse } from '../src/authz/response-wire.js';

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ minLength: 120, maxLength: 400 }));

const decision: fc.Arbitrary<Decision> = fc.record({
  allowed: fc.boolean(),
  mode: fc.constantFrom('Enforce' as const, 'Audit' as const),
  policy: text,
  rule: text,
  reason: text,
  auditDecision: fc.option(fc.record({ allowed: fc.boolean(), policy: text, rule: text, reason: text }), { nil: null }),
  headers: fc.array(fc.tuple(text, fc.oneof(text, fc.string({ minLength: 200, maxLength: 20_000 }))), { maxLength: 4 }),
  request: fc.option(fc.record({
    method: text, host: text, port: fc.integer({ min: 1, max: 65535 }), path: text,
    mcpMethod: fc.oneof(fc.constant(''), text), mcpTool: text,
    mcpId: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant(undefined)),
  }), { nil: undefined }),
});

describe('encodeCheckResponse', () => {
  it('writes the bytes protobuf-es writes for the same decision', () => {
    fc.assert(fc.property(decision, fc.string({ maxLength: 40 }), (d, id) => {
      const mine = encodeCheckResponse(d, id);
      const reference = toBinary(CheckResponseSchema, checkResponse(d, id));
      expect(Buffer.from(mine).equals(Buffer.from(reference))).toBe(true);
    }), { numRuns: 2000 });
  });

  it('decodes to the allow and deny responses respond.ts defines', () => {
    const allow: Decision = {
      allowed: true, mode: 'Enforce', policy: 'support-agent', rule: 'gh-comment', reason: 'allowed by rule gh-comment',
      auditDecision: { allowed: false, policy: 'trial', rule: 'block', reason: 'r' }, headers: [['authorization', 'Bearer s3cr3t']], request: undefined,
    };
    const deny: Decision = {
      allowed: false, mode: 'Enforce', policy: 'support-agent', rule: 'block-billing', reason: 'denied by rule block-billing', auditDecision: null, headers: [],
      request: { method: 'POST', host: 'mcp.internal', port: 443, path: '/mcp', mcpMethod: 'tools/call', mcpTool: 'refund', mcpId: 7 },
    };
    for (const d of [allow, deny]) {
      expect(fromBinary(CheckResponseSchema, encodeCheckResponse(d, 'abc123'))).toEqual(checkResponse(d, 'abc123'));
    }
  });
});
