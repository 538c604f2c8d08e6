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
import { decisionArbitrary } from './decision-arbitrary.js';

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ minLength: 120, maxLength: 400 }));

const decision = decisionArbitrary(text);

describe('encodeCheckResponse', () => {
  it('writes the bytes protobuf-es writes for the same decision', () => {
    fc.assert(fc.property(decision, fc.string({ maxLength: 40 }), text, (d, id, namespace) => {
      const mine = encodeCheckResponse(d, id, namespace);
      const reference = toBinary(CheckResponseSchema, checkResponse(d, id, namespace));
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

describe('both encoders', () => {
  const base: Decision = {
    allowed: false, mode: 'Enforce', policy: 'mcp', rule: 'no-deletes', reason: 'denied by rule "no-deletes"', auditDecision: null, headers: [],
    request: { method: 'POST', host: 'mcp.internal', port: 443, path: '/mcp', mcpMethod: 'tools/call', mcpTool: 'delete', mcpId: 7 },
  };
  const both = (d: Decision): ReturnType<typeof checkResponse>[] => [checkResponse(d, 'id1'), fromBinary(CheckResponseSchema, encodeCheckResponse(d, 'id1'))];

  it('deny a JSON-RPC request (it has an id) with HTTP 200, application/json, x-agentwarden-decision: deny and the JSON-RPC error', () => {
    for (const r of both(base)) {
      if (r.httpResponse.case !== 'deniedResponse') throw new Error('expected a deny');
      expect(r.status?.code).toBe(7);
      expect(r.httpResponse.value.status?.code).toBe(200);
      const headers = new Map(r.httpResponse.value.headers.map((h) => [h.header?.key, h.header?.value]));
      expect(headers.get('content-type')).toBe('application/json');
      expect(headers.get('x-agentwarden-decision')).toBe('deny');
      expect(JSON.parse(r.httpResponse.value.body)).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32001 } });
    }
  });

  it('deny an MCP notification (no id) and a non-MCP request with 403', () => {
    const notification: Decision = { ...base, request: { ...base.request!, mcpId: undefined } };
    const plain: Decision = { ...base, request: { ...base.request!, mcpMethod: '', mcpTool: '', mcpId: undefined } };
    for (const d of [notification, plain, { ...base, request: undefined }]) {
      for (const r of both(d)) {
        if (r.httpResponse.case !== 'deniedResponse') throw new Error('expected a deny');
        expect(r.httpResponse.value.status?.code).toBe(403);
      }
    }
  });

  it('remove upstream the x-agentwarden-* headers the agent sent, except those the allow sets itself', () => {
    const allow: Decision = {
      ...base, allowed: true, headers: [['x-agentwarden-cred', 'v']], auditDecision: { allowed: true, policy: 'p', rule: 'r', reason: 'x' },
      headersToRemove: ['x-agentwarden-rule', 'x-agentwarden-decision', 'x-agentwarden-audit-decision', 'x-agentwarden-cred', 'x-agentwarden-x'],
    };
    for (const r of both(allow)) {
      if (r.httpResponse.case !== 'okResponse') throw new Error('expected an allow');
      expect(r.httpResponse.value.headersToRemove).toEqual(['x-agentwarden-rule', 'x-agentwarden-x']);
    }
  });
});
