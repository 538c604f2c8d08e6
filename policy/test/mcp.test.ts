// DESIGN.md decision semantics, point 8: MCP rules match one complete
// JSON-RPC 2.0 request object in the body.
import { agent, httpOf, policy } from './helpers.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';

const mcp = agent([policy('mcp', `
  podSelector: {}
  rules:
    - name: session
      to: {hosts: [mcp.example.com]}
      http: {methods: [POST], paths: ["/mcp"]}
      mcp: {methods: [initialize, tools/list]}
    - name: search
      to: {hosts: [mcp.example.com]}
      http: {methods: [POST], paths: ["/mcp"]}
      mcp: {tools: [search_knowledge_base]}
    - name: read-docs
      to: {hosts: [mcp.example.com]}
      mcp: {methods: [resources/read], tools: ["file:///docs/handbook.md"]}
    - name: prompts
      to: {hosts: [mcp.example.com]}
      mcp: {methods: [prompts/get], tools: [summarize]}
    - name: no-deletes
      action: Deny
      to: {hosts: [mcp.example.com]}
      mcp: {tools: [delete_customer]}
    - name: any-tool-on-sandbox
      to: {hosts: [sandbox.example.com]}
      mcp: {}
`)]);

const URL = 'https://mcp.example.com/mcp';

/** A POST to the MCP endpoint with a raw body. */
function withBody(body: string, extra: Partial<RequestShorthand> = {}): RequestShorthand {
  return { method: 'POST', url: URL, body, ...extra };
}

describe('MCP rules', () => {
  it('match tools/call by params.name', () => {
    expect(mcp.check({ url: URL, mcp: { tool: 'search_knowledge_base', arguments: { query: 'x' } } })).toMatchObject({ allowed: true, rule: 'search' });
    expect(mcp.check({ url: URL, mcp: { tool: 'run_shell' } })).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('match only tools/call when the rule names no methods', () => {
    expect(mcp.check({ url: URL, mcp: { method: 'prompts/get', tool: 'search_knowledge_base' } })).toMatchObject({ allowed: false });
  });

  it('match resources/read by params.uri', () => {
    expect(mcp.check({ url: URL, mcp: { method: 'resources/read', uri: 'file:///docs/handbook.md' } })).toMatchObject({ allowed: true, rule: 'read-docs' });
    expect(mcp.check({ url: URL, mcp: { method: 'resources/read', uri: 'file:///etc/shadow' } })).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(mcp.check({ url: URL, mcp: { method: 'resources/read', tool: 'file:///docs/handbook.md' } })).toMatchObject({ allowed: false });
  });

  it('match prompts/get by params.name', () => {
    expect(mcp.check({ url: URL, mcp: { method: 'prompts/get', tool: 'summarize' } })).toMatchObject({ allowed: true, rule: 'prompts' });
  });

  it('match methods without a tool, such as initialize and tools/list', () => {
    expect(mcp.check({ url: URL, mcp: { method: 'initialize' } })).toMatchObject({ allowed: true, rule: 'session' });
    expect(mcp.check({ url: URL, mcp: { method: 'tools/list' } })).toMatchObject({ allowed: true, rule: 'session' });
  });

  it('match any tool when the rule lists none', () => {
    expect(mcp.check({ url: 'https://sandbox.example.com/mcp', mcp: { tool: 'anything' } })).toMatchObject({ allowed: true, rule: 'any-tool-on-sandbox' });
  });

  it('deny with a Deny rule naming the tool', () => {
    expect(mcp.check({ url: URL, mcp: { tool: 'delete_customer', arguments: { id: 'C-1' } } })).toMatchObject({ allowed: false, rule: 'no-deletes' });
  });

  it('report the JSON-RPC method, tool and id in the decision', () => {
    expect(mcp.check({ url: URL, mcp: { tool: 'search_knowledge_base', id: 42 } }).request)
      .toMatchObject({ mcpMethod: 'tools/call', mcpTool: 'search_knowledge_base', mcpId: 42 });
    expect(mcp.check({ url: URL, mcp: { tool: 'delete_customer', id: 'req-7' } }).request).toMatchObject({ mcpId: 'req-7' });
  });

  it('report a null id as null and a notification without id as undefined', () => {
    expect(mcp.check(withBody('{"jsonrpc":"2.0","id":null,"method":"tools/list"}')).request?.mcpId).toBeNull();
    const notification = mcp.check(withBody('{"jsonrpc":"2.0","method":"tools/list"}'));
    expect(notification).toMatchObject({ allowed: true, rule: 'session' });
    expect(notification.request?.mcpId).toBeUndefined();
  });

  it('read raw_body bytes as they read body', () => {
    const check = checkRequestFrom({ method: 'POST', url: URL });
    httpOf(check).rawBody = new TextEncoder().encode(JSON.stringify({ jsonrpc: '2.0', id: 'raw-1', method: 'tools/call', params: { name: 'search_knowledge_base' } }));
    const d = mcp.checkRequest(check);
    expect(d).toMatchObject({ allowed: true, rule: 'search' });
    expect(d.request?.mcpId).toBe('raw-1');
  });

  it('do not read a raw_body that is not UTF-8', () => {
    const check = checkRequestFrom({ method: 'POST', url: URL });
    httpOf(check).rawBody = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]);
    const d = mcp.checkRequest(check);
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toContain('body is not valid UTF-8');
  });
});

// A body that cannot be read as one JSON-RPC request matches no MCP Allow rule, and the
// MCP Deny rule of the fixture (no-deletes) matches it: it may hide a forbidden call.
describe('no MCP Allow rule matches, and MCP Deny rules fail closed on', () => {
  const search = { tool: 'search_knowledge_base', arguments: { query: 'x' } };

  it('a partial body (x-envoy-auth-partial-body: true), and the reason says so', () => {
    const d = mcp.check({ url: URL, mcp: search, partialBody: true });
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toContain('body is partial (x-envoy-auth-partial-body: true)');
  });

  it('a partial body flagged with the header in another case', () => {
    expect(mcp.check({ url: URL, mcp: search, headers: { 'X-Envoy-Auth-Partial-Body': 'TRUE' } })).toMatchObject({ allowed: false });
  });

  it('a body that is not JSON', () => {
    const d = mcp.check(withBody('{"jsonrpc":"2.0","method":"tools/call",'));
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toContain('body is not JSON');
  });

  it('a batch array, even of allowed calls', () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search_knowledge_base' } };
    const d = mcp.check(withBody(JSON.stringify([call, call])));
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
    expect(d.reason).toContain('body is not one JSON-RPC 2.0 request');
  });

  it('a body with the wrong jsonrpc version', () => {
    for (const version of ['1.0', '2', 2, null]) {
      const body = JSON.stringify({ jsonrpc: version, id: 1, method: 'tools/call', params: { name: 'search_knowledge_base' } });
      expect(mcp.check(withBody(body))).toMatchObject({ allowed: false, rule: 'no-deletes' });
    }
  });

  it('a body without jsonrpc, without a method or with an object id', () => {
    for (const body of [
      { id: 1, method: 'tools/call', params: { name: 'search_knowledge_base' } },
      { jsonrpc: '2.0', id: 1, params: { name: 'search_knowledge_base' } },
      { jsonrpc: '2.0', id: { x: 1 }, method: 'tools/call', params: { name: 'search_knowledge_base' } },
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: 'search_knowledge_base' },
    ]) {
      expect(mcp.check(withBody(JSON.stringify(body)))).toMatchObject({ allowed: false, rule: 'no-deletes' });
    }
  });

  it('a request without a body', () => {
    const d = mcp.check({ method: 'POST', url: URL });
    expect(d).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(d.reason).toContain('request has no body');
  });

  it('and so a Deny MCP rule denies a body it cannot read, whatever call it hides', () => {
    const d = mcp.check({ url: URL, mcp: { tool: 'delete_customer' }, partialBody: true });
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes' });
  });
});
