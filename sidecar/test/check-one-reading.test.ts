// DESIGN.md "Data plane" through the sidecar's Check server (real gRPC over a
// socket): x-agentwarden-* headers the agent sends are neither decided on nor
// forwarded; TLS that the agent opens itself (Envoy's network ext_authz) is
// decided on SNI and port; MCP denials come in the form MCP clients read.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { CheckRequestSchema, type CheckResponse } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { agentPolicy, denied, okHeaders, startTestSidecar, stopSidecars, type TestSidecar } from './helpers.js';

const POLICY = agentPolicy('edge', `
  podSelector: {matchLabels: {app: support-agent}}
  rules:
    - name: team-only
      to: {hosts: [status.internal]}
      when: "!('x-agentwarden-team' in request.headers) && request.headers['x-team'] == 'care'"
    - name: github-tls
      to: {hosts: [api.github.com], ports: [443]}
    - name: github-reads
      to: {hosts: [uploads.github.com]}
      http: {methods: [GET]}
    - name: no-gist-deletes
      action: Deny
      to: {hosts: [gist.github.com]}
      http: {methods: [DELETE]}
    - name: gist
      to: {hosts: [gist.github.com]}
    - name: mcp-no-deletes
      action: Deny
      to: {hosts: [mcp.support.internal]}
      mcp: {tools: [delete_customer]}
`);

let sidecar: TestSidecar;
beforeAll(async () => {
  sidecar = await startTestSidecar({ policies: { 'edge.yaml': POLICY } });
});
afterAll(stopSidecars);

/** A CheckRequest as Envoy's network ext_authz sends it for a TLS connection (include_tls_session: true). */
function tlsCheck(sni: string, port: number): Promise<CheckResponse> {
  return sidecar.check(create(CheckRequestSchema, {
    attributes: {
      source: { address: { address: { case: 'socketAddress', value: { address: '10.1.2.3', portSpecifier: { case: 'portValue', value: 40000 } } } } },
      destination: { address: { address: { case: 'socketAddress', value: { address: '140.82.112.6', portSpecifier: { case: 'portValue', value: port } } } }, service: sni },
      tlsSession: { sni },
    },
  }));
}

describe('x-agentwarden-* headers sent by the agent', () => {
  it('are not seen by conditions and are removed upstream on allow (headers_to_remove)', async () => {
    const response = await sidecar.checkShort({ url: 'https://status.internal/', headers: { 'x-team': 'care', 'x-agentwarden-team': 'admin', 'X-Agentwarden-Decision': 'allow', 'x-agentwarden-rule': 'edge/anything' } });
    expect(okHeaders(response).get('x-agentwarden-decision')).toBe('allow');
    if (response.httpResponse.case !== 'okResponse') throw new Error('expected an allow');
    // x-agentwarden-decision is overwritten by the allow itself, so it is not removed after it.
    expect([...response.httpResponse.value.headersToRemove].sort()).toEqual(['x-agentwarden-rule', 'x-agentwarden-team']);
  });

  it('remove nothing when the agent sent none', async () => {
    const response = await sidecar.checkShort({ url: 'https://status.internal/', headers: { 'x-team': 'care' } });
    if (response.httpResponse.case !== 'okResponse') throw new Error('expected an allow');
    expect(response.httpResponse.value.headersToRemove).toEqual([]);
  });
});

describe('TLS that the agent opens itself (network ext_authz)', () => {
  it('allows a connection whose SNI and destination port a host-level rule allows, with gRPC OK', async () => {
    const response = await tlsCheck('api.github.com', 443);
    expect(response.status?.code ?? 0).toBe(0);
    expect(response.httpResponse.case).toBe('okResponse');
  });

  it('denies it on another port with PERMISSION_DENIED', async () => {
    const response = await tlsCheck('api.github.com', 8443);
    expect(response.status?.code).toBe(7);
    expect(response.status?.message).toContain('no rule allows a TLS connection to api.github.com:8443');
  });

  it('does not let a rule with http constraints allow it, and says to use TLS origination', async () => {
    const response = await tlsCheck('uploads.github.com', 443);
    expect(response.status?.code).toBe(7);
    expect(denied(response).body).toMatchObject({ rule: 'default-deny' });
    expect(response.status?.message).toContain('use TLS origination (agentwarden.io/tls-origination) for operation-level rules');
  });

  it('lets a Deny rule with http constraints deny it, since the operation it forbids may be inside', async () => {
    const response = await tlsCheck('gist.github.com', 443);
    expect(denied(response).body).toMatchObject({ rule: 'no-gist-deletes' });
  });

  it('denies a connection without SNI as invalid-request', async () => {
    const response = await tlsCheck('', 443);
    expect(response.status?.code).toBe(7);
    expect(denied(response).body).toMatchObject({ rule: 'invalid-request' });
    expect(response.status?.message).toContain('TLS connection without SNI');
  });
});

describe('denied MCP notifications', () => {
  it('keep HTTP 403 (no id to answer)', async () => {
    const response = await sidecar.checkShort({ method: 'POST', url: 'https://mcp.support.internal/mcp', body: { jsonrpc: '2.0', method: 'tools/call', params: { name: 'delete_customer' } } });
    const d = denied(response);
    expect(d.httpStatus).toBe(403);
    expect(d.headers.get('x-agentwarden-decision')).toBe('deny');
  });
});
