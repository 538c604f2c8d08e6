// The wire (DESIGN.md, "The wire"): Envoy's ext_authz Check over real gRPC, on
// TCP and on a Unix socket, with every field of CheckRequest Envoy may send.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { HeaderMapSchema, HeaderValueOption_HeaderAppendAction } from '../../proto/gen/envoy/config/core/v3/base_pb.js';
import type { CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { agentPolicy, denied, okHeaders, outcome, startTestSidecar, stopSidecars, type TestSidecar } from './helpers.js';

const CREDENTIAL = 'zd-CRED-MARKER-0001';

const SUPPORT = agentPolicy('support', `
  podSelector: {matchLabels: {app: support-agent}}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com], ports: [443]}
      http: {methods: [GET], paths: ["/api/v2/tickets/{id}"]}
      credential: zendesk
    - name: team-status
      to: {hosts: [status.internal]}
      http: {methods: [GET]}
      when: "request.headers['x-team'] == 'care'"
    - name: block-billing
      action: Deny
      to: {hosts: [billing.internal]}
    - name: mcp-search-kb
      to: {hosts: [mcp.support.internal]}
      http: {methods: [POST], paths: ["/mcp"]}
      mcp: {tools: [search_knowledge_base]}
    - name: mcp-no-deletes
      action: Deny
      to: {hosts: [mcp.support.internal]}
      mcp: {tools: [delete_customer]}
  credentials:
    - name: zendesk
      secretRef: {name: zendesk-api, key: token}
`);

function start(listen: string): Promise<TestSidecar> {
  return startTestSidecar({ policies: { 'support.yaml': SUPPORT }, secrets: { 'zendesk-api/token': CREDENTIAL }, listen });
}

const MCP = 'https://mcp.support.internal/mcp';

/** Moves the body into raw_body, as Envoy does with `pack_as_bytes: true`. */
function asRawBody(r: CheckRequest): void {
  const http = r.attributes!.request!.http!;
  http.rawBody = new TextEncoder().encode(http.body);
  http.body = '';
}

/** Moves the headers into header_map with raw values, as Envoy does with `encode_raw_headers: true`. */
function asHeaderMap(r: CheckRequest): void {
  const http = r.attributes!.request!.http!;
  http.headerMap = create(HeaderMapSchema, {
    headers: Object.entries(http.headers).map(([key, value]) => ({ key, rawValue: new TextEncoder().encode(value) })),
  });
  http.headers = {};
}

describe.each([
  ['TCP', '127.0.0.1:0'],
  ['a Unix socket', 'unix'],
])('Check over %s', (_transport, listen) => {
  let sidecar: TestSidecar;
  beforeAll(async () => {
    sidecar = await start(listen);
  });
  afterAll(stopSidecars);

  it('reports the address it is bound to', () => {
    if (listen === 'unix') {
      expect(sidecar.running.authz.address).toBe(`unix:${sidecar.dir}/authz.sock`);
    } else {
      expect(sidecar.running.authz.address).toMatch(/^127\.0\.0\.1:[1-9][0-9]*$/);
    }
    expect(sidecar.running.admin.address).toMatch(/^127\.0\.0\.1:[1-9][0-9]*$/);
  });

  it('allows with an OkHttpResponse carrying the decision header and the credential from the secrets folder', async () => {
    const response = await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/4711' });
    expect(response.status?.code ?? 0).toBe(0);
    const headers = okHeaders(response);
    expect(headers.get('x-agentwarden-decision')).toBe('allow');
    expect(headers.get('authorization')).toBe(`Bearer ${CREDENTIAL}`);
  });

  it('overwrites any Authorization header the agent sent with the credential', async () => {
    const response = await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/4711', headers: { authorization: 'Bearer agent-made-up' } });
    if (response.httpResponse.case !== 'okResponse') throw new Error('expected an allow');
    const credential = response.httpResponse.value.headers.find((h) => h.header?.key.toLowerCase() === 'authorization');
    expect(credential?.appendAction).toBe(HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD);
  });

  it('denies with a DeniedHttpResponse 403, gRPC PERMISSION_DENIED and a JSON body naming policy, rule, reason and decision id', async () => {
    const d = denied(await sidecar.checkShort({ url: 'https://billing.internal/v1/invoices' }));
    expect(d.httpStatus).toBe(403);
    expect(d.grpcCode).toBe(7);
    expect(d.headers.get('content-type')).toBe('application/json');
    expect(d.headers.get('x-agentwarden-decision')).toBe('deny');
    expect(d.body).toEqual({
      error: expect.any(String),
      policy: 'support',
      rule: 'block-billing',
      reason: expect.stringContaining('block-billing'),
      decisionId: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(d.body['decisionId']).not.toBe('0'.repeat(32));
    expect(d.headers.get('x-agentwarden-decision-id')).toBe(d.body['decisionId']);
  });

  it('denies what no rule allows with rule default-deny and an empty policy', async () => {
    const d = denied(await sidecar.checkShort({ method: 'DELETE', url: 'https://api.zendesk.com/api/v2/tickets/4711' }));
    expect(d.body).toMatchObject({ policy: '', rule: 'default-deny' });
  });

  it('answers a denied MCP call with HTTP 200 and a JSON-RPC error carrying the request id, so MCP clients raise it as a protocol error', async () => {
    const d = denied(await sidecar.checkShort({ url: MCP, mcp: { tool: 'delete_customer', arguments: { id: 'C-1' }, id: 'req-42' } }));
    expect(d.httpStatus).toBe(200);
    expect(d.headers.get('x-agentwarden-decision')).toBe('deny');
    expect(d.grpcCode).toBe(7);
    expect(d.body).toEqual({
      jsonrpc: '2.0',
      id: 'req-42',
      error: {
        code: expect.any(Number),
        message: expect.any(String),
        data: { policy: 'support', rule: 'mcp-no-deletes', decisionId: expect.stringMatching(/^[0-9a-f]{32}$/) },
      },
    });
  });
});

describe('Check with the request fields Envoy may send', () => {
  let sidecar: TestSidecar;
  beforeAll(async () => {
    sidecar = await start('127.0.0.1:0');
  });
  afterAll(stopSidecars);

  it('keeps a numeric JSON-RPC id numeric in the error', async () => {
    const d = denied(await sidecar.checkShort({ url: MCP, mcp: { tool: 'delete_customer', id: 7 } }));
    expect(d.body['id']).toBe(7);
  });

  it('allows an MCP tool call whose body comes as raw_body bytes', async () => {
    const response = await sidecar.checkShort({ url: MCP, mcp: { tool: 'search_knowledge_base', arguments: { q: 'refund' } } }, asRawBody);
    expect(okHeaders(response).get('x-agentwarden-decision')).toBe('allow');
  });

  it('denies an MCP call in raw_body by its rule and answers with its id', async () => {
    const d = denied(await sidecar.checkShort({ url: MCP, mcp: { tool: 'delete_customer', id: 'raw-1' } }, asRawBody));
    expect(d.body).toMatchObject({ id: 'raw-1', error: { data: { rule: 'mcp-no-deletes' } } });
  });

  it('reads headers sent as header_map with raw values (encode_raw_headers)', async () => {
    const care = await sidecar.checkShort({ url: 'https://status.internal/health', headers: { 'x-team': 'care' } }, asHeaderMap);
    expect(outcome(care)).toEqual({ decision: 'allow', rule: '' });
    const other = await sidecar.checkShort({ url: 'https://status.internal/health', headers: { 'x-team': 'sales' } }, asHeaderMap);
    expect(outcome(other)).toEqual({ decision: 'deny', rule: 'default-deny' });
  });

  it('matches no MCP Allow rule when Envoy marks the body as partial, and the MCP Deny rule fails closed', async () => {
    // A truncated body may hide any call: the allowed tool is not allowed, and the Deny rule matches.
    const search = denied(await sidecar.checkShort({ url: MCP, mcp: { tool: 'search_knowledge_base' }, partialBody: true }));
    expect(search.body).toMatchObject({ rule: 'mcp-no-deletes', reason: expect.stringContaining('partial') });
    const del = denied(await sidecar.checkShort({ url: MCP, mcp: { tool: 'delete_customer' }, partialBody: true }));
    expect(del.body).toMatchObject({ rule: 'mcp-no-deletes' });
  });

  it('honours x-envoy-auth-partial-body sent in header_map', async () => {
    const response = await sidecar.checkShort({ url: MCP, mcp: { tool: 'search_knowledge_base' }, partialBody: true }, asHeaderMap);
    expect(outcome(response)).toEqual({ decision: 'deny', rule: 'mcp-no-deletes' });
  });

  it('decides the same with context_extensions present', async () => {
    const response = await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/4711' }, (r) => {
      r.attributes!.contextExtensions = { virtual_host: 'outbound|443||api.zendesk.com', 'agentwarden.io/route': 'zendesk' };
    });
    expect(okHeaders(response).get('authorization')).toBe(`Bearer ${CREDENTIAL}`);
  });

  it('denies a path with an encoded slash as invalid-request before matching rules', async () => {
    const d = denied(await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1%2F..%2Fbilling' }));
    expect(d.body).toMatchObject({ policy: '', rule: 'invalid-request' });
  });

  it('denies a CheckRequest that is not protobuf as invalid-request, without a gRPC error', async () => {
    const d = denied(await sidecar.client.checkBytes(new Uint8Array([0x0a, 0xff])));
    expect(d.grpcCode).toBe(7);
    expect(d.body).toMatchObject({ rule: 'invalid-request' });
  });
});

describe('a sidecar listening on IPv6 loopback', () => {
  afterAll(stopSidecars);

  it('reports addresses that carry the bound port and can be dialled as they are', async () => {
    const sidecar = await startTestSidecar({ policies: { 'support.yaml': SUPPORT }, secrets: { 'zendesk-api/token': CREDENTIAL }, listen: '[::1]:0', config: { adminListen: '[::1]:0' } });
    expect(sidecar.running.authz.address).toMatch(/^\[::1\]:[1-9][0-9]*$/);
    expect(sidecar.running.admin.address).toMatch(/^\[::1\]:[1-9][0-9]*$/);
    expect(outcome(await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1' }))).toEqual({ decision: 'allow', rule: '' });
    expect((await sidecar.admin('/healthz')).status).toBe(200);
  });
});

describe('Check with a request size limit', () => {
  afterAll(stopSidecars);

  it('denies a CheckRequest larger than maxRequestBytes as invalid-request', async () => {
    const sidecar = await startTestSidecar({ policies: { 'support.yaml': SUPPORT }, secrets: { 'zendesk-api/token': CREDENTIAL }, config: { maxRequestBytes: 64 * 1024 } });
    const d = denied(await sidecar.checkShort({ method: 'POST', url: 'https://api.zendesk.com/api/v2/tickets', body: 'x'.repeat(100 * 1024) }));
    expect(d.body).toMatchObject({ rule: 'invalid-request', reason: expect.stringContaining('exceeds the limit') });
    expect(outcome(await sidecar.checkShort({ url: 'https://api.zendesk.com/api/v2/tickets/1' }))).toEqual({ decision: 'allow', rule: '' });
  });
});
