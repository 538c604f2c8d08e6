// DESIGN.md point 8: a Streamable HTTP session's own requests (GET for the
// server's stream, DELETE to end it) belong to the mcp rule that may open the
// session (its methods include initialize); no hand-written http rule needed.
import { agent, policy } from './helpers.js';

const mcp = agent([policy('mcp', `
  podSelector: {}
  rules:
    - name: session
      to: {hosts: [mcp.example.com]}
      http: {methods: [POST], paths: ["/mcp"]}
      mcp: {methods: [initialize, notifications/initialized, tools/list]}
    - name: search
      to: {hosts: [other.example.com]}
      http: {paths: ["/mcp"]}
      mcp: {tools: [search]}
`)]);

const URL = 'http://mcp.example.com/mcp';
const SESSION = { 'mcp-session-id': 'a1b2c3' };

describe('MCP session requests', () => {
  it.each(['GET', 'DELETE'])('allows the session\'s %s by the rule that allows initialize', (method) => {
    expect(mcp.check({ method, url: URL, headers: SESSION })).toMatchObject({ allowed: true, rule: 'session' });
  });

  it('denies a GET or DELETE without an mcp-session-id', () => {
    expect(mcp.check({ method: 'GET', url: URL })).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(mcp.check({ method: 'DELETE', url: URL })).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('denies session requests outside the rule\'s paths and hosts', () => {
    expect(mcp.check({ method: 'DELETE', url: 'http://mcp.example.com/admin', headers: SESSION })).toMatchObject({ allowed: false });
    expect(mcp.check({ method: 'DELETE', url: 'http://other.example.com/mcp', headers: SESSION })).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('denies a DELETE that carries a body (it is no session request)', () => {
    expect(mcp.check({ method: 'DELETE', url: URL, headers: SESSION, body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}' })).toMatchObject({ allowed: false });
  });

  it('keeps other methods to the rule\'s http methods', () => {
    expect(mcp.check({ method: 'PUT', url: URL, headers: SESSION })).toMatchObject({ allowed: false });
  });
});
