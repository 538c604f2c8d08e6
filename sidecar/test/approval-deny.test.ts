// A RequireApproval deny (DESIGN.md "Approvals and break-glass", contract of
// issue 15): the agent learns which AgentAccessRequest to have approved and how
// to retry. HTTP: 403 with the JSON body; MCP: the JSON-RPC error the official
// SDK client raises as McpError, with the same fields in `data`. Both encoders
// (respond.ts and response-wire.ts) write it alike.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { CheckResponseSchema, type CheckResponse } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import type { Decision } from '../../policy/src/index.js';
import { checkResponse } from '../src/authz/respond.js';
import { encodeCheckResponse } from '../src/authz/response-wire.js';
import { denied } from './helpers.js';

const NAMESPACE = 'support';
const NAME = 'support-agent-7d9f8-3f2a9c1b0e4d';
const DECISION_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const REASON = 'approval required: rule "refunds" of policy "support" needs a human approval';
const RETRY = `a human approves with: agentwarden approve ${NAMESPACE}/${NAME}; then send the same request again`;

const MCP_REFUND: Decision = {
  allowed: false, mode: 'Enforce', policy: 'support', rule: 'refunds', reason: REASON, auditDecision: null, headers: [],
  request: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', mcpMethod: 'tools/call', mcpTool: 'issue_refund', mcpId: 3 },
  approval: {
    name: NAME,
    operation: { method: 'POST', host: 'mcp.support.internal', port: 80, path: '/mcp', query: '', mcp: { method: 'tools/call', tool: 'issue_refund', arguments: { amount: 120 } } },
  },
};
const HTTP_DELETE: Decision = {
  ...MCP_REFUND,
  request: { method: 'DELETE', host: 'api.zendesk.com', port: 443, path: '/api/v2/users/7', mcpMethod: '', mcpTool: '', mcpId: undefined },
  approval: { name: NAME, operation: { method: 'DELETE', host: 'api.zendesk.com', port: 443, path: '/api/v2/users/7', query: '' } },
};

/** The response from each encoder: protobuf-es (respond.ts) and the hand-written bytes (response-wire.ts). */
function both(d: Decision): CheckResponse[] {
  return [checkResponse(d, DECISION_ID, NAMESPACE), fromBinary(CheckResponseSchema, encodeCheckResponse(d, DECISION_ID, NAMESPACE))];
}

describe('a RequireApproval deny', () => {
  it('answers an HTTP request 403 with the request to approve, its namespace and how to retry', () => {
    for (const r of both(HTTP_DELETE)) {
      const d = denied(r);
      expect(d.httpStatus).toBe(403);
      expect(d.grpcCode).toBe(7);
      expect(d.headers.get('x-agentwarden-decision')).toBe('deny');
      expect(d.body).toEqual({
        error: 'approval required', policy: 'support', rule: 'refunds', reason: REASON, decisionId: DECISION_ID,
        approvalRequest: NAME, namespace: NAMESPACE, retry: RETRY,
      });
    }
  });

  it('answers an MCP call with the JSON-RPC error of other MCP denies, the same fields in data', () => {
    for (const r of both(MCP_REFUND)) {
      const d = denied(r);
      expect(d.httpStatus).toBe(200);
      expect(d.body).toEqual({
        jsonrpc: '2.0', id: 3,
        error: {
          code: -32001, message: `denied by agentwarden: ${REASON}`,
          data: { error: 'approval required', policy: 'support', rule: 'refunds', reason: REASON, decisionId: DECISION_ID, approvalRequest: NAME, namespace: NAMESPACE, retry: RETRY },
        },
      });
    }
  });

  it('writes the same bytes with both encoders', () => {
    for (const d of [MCP_REFUND, HTTP_DELETE]) {
      expect(Buffer.from(encodeCheckResponse(d, DECISION_ID, NAMESPACE))).toEqual(Buffer.from(toBinary(CheckResponseSchema, checkResponse(d, DECISION_ID, NAMESPACE))));
    }
  });

  it('leaves the body of an ordinary deny as it was', () => {
    const plain = withoutApproval(HTTP_DELETE);
    const [r] = both(plain);
    expect(denied(r!).body).toEqual({ error: 'denied by agentwarden', policy: 'support', rule: 'refunds', reason: REASON, decisionId: DECISION_ID });
  });
});

/**
 * What Envoy puts in front of an MCP server: initialize and the initialized
 * notification pass, tools/call gets the sidecar's deny for MCP_REFUND, with
 * the JSON-RPC id of the call (as the sidecar reads it from the body).
 */
function envoyWithDeny(): Promise<Server> {
  const server = createServer((req, res) => {
    void readBody(req).then((text) => {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      const message = JSON.parse(text) as { id?: number; method: string };
      if (message.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'refunds', version: '1' } } }));
        return;
      }
      if (message.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const deny = denied(checkResponse({ ...MCP_REFUND, request: { ...MCP_REFUND.request!, mcpId: message.id } }, DECISION_ID, NAMESPACE));
      res.writeHead(deny.httpStatus, Object.fromEntries(deny.headers));
      res.end(JSON.stringify(deny.body));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => { resolve(server); }));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { resolve(Buffer.concat(chunks).toString('utf8')); });
    req.on('error', reject);
  });
}

describe('the official MCP SDK client', () => {
  let server: Server;
  beforeAll(async () => { server = await envoyWithDeny(); });
  afterAll(async () => { await new Promise((resolve) => server.close(resolve)); });

  it('raises McpError with the reason, and the request to approve in its data', async () => {
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`)));
    try {
      const error = await client.callTool({ name: 'issue_refund', arguments: { amount: 120 } }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(McpError);
      const e = error as McpError;
      expect(e.code).toBe(-32001);
      expect(e.message).toContain(REASON);
      expect(e.data).toMatchObject({ approvalRequest: NAME, namespace: NAMESPACE, retry: RETRY, decisionId: DECISION_ID });
    } finally {
      await client.close();
    }
  });
});

/** The same decision as an ordinary deny (no RequireApproval rule made it). */
function withoutApproval(d: Decision): Decision {
  const copy = { ...d };
  Reflect.deleteProperty(copy, 'approval');
  return copy;
}
