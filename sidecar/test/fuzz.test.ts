// Malformed and hostile CheckRequests over the real socket (fast-check). Every
// one is answered with a normal CheckResponse (never a gRPC error), none is an
// allow, and the sidecar still answers a known-good request afterwards.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { create, toBinary } from '@bufbuild/protobuf';
import { HeaderMapSchema } from '../../proto/gen/envoy/config/core/v3/base_pb.js';
import { CheckRequestSchema, type CheckRequest, type CheckResponse } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { MAX_PARSED_BODY_BYTES } from '../../policy/src/body.js';
import { MAX_JSON_DEPTH } from '../../policy/src/json-one-reading.js';
import { agentPolicy, checkRequest, denied, okHeaders, startTestSidecar, stopSidecars, type TestSidecar } from './helpers.js';

// The only thing ever allowed is GET https://api.example.com/ok. The Deny rule
// makes the sidecar read headers and parse bodies (as JSON-RPC) on every request.
const POLICY = agentPolicy('fuzz', `
  podSelector: {}
  rules:
    - name: ok
      to: {hosts: [api.example.com], ports: [443]}
      http: {methods: [GET], paths: ["/ok"]}
    - name: mcp-guard
      action: Deny
      to: {hosts: ["*"]}
      mcp: {tools: [dangerous]}
      when: "has(mcp.arguments.x) && request.headers['x-a'] == 'b'"
`);

const KNOWN_GOOD = { url: 'https://api.example.com/ok' };
const MCP_URL = 'https://mcp.example.com/mcp';

let sidecar: TestSidecar;
beforeAll(async () => {
  sidecar = await startTestSidecar({ policies: { 'fuzz.yaml': POLICY } });
});
afterAll(stopSidecars);

/** A normal deny: DeniedHttpResponse 403, PERMISSION_DENIED, a JSON body. */
function expectDeny(response: CheckResponse): void {
  const d = denied(response);
  expect(d.httpStatus).toBe(403);
  expect(d.grpcCode).toBe(7);
}

/**
 * A deny by `rule` whose reason is `reason` exactly (a string) or matches it:
 * a 403 with a JSON body, or for an MCP call that was read, a JSON-RPC error
 * (HTTP 200) whose message is "denied by agentwarden: " and the reason.
 */
function expectDeniedBy(response: CheckResponse, rule: string, reason: string | RegExp): void {
  const d = denied(response);
  expect(d.grpcCode).toBe(7);
  const error = d.body['error'];
  const rpc = error !== null && typeof error === 'object' ? error as { message?: unknown; data?: { rule?: unknown } } : undefined;
  expect(d.httpStatus).toBe(rpc === undefined ? 403 : 200);
  expect(rpc === undefined ? d.body['rule'] : rpc.data?.rule).toBe(rule);
  const said = rpc === undefined ? d.body['reason'] : String(rpc.message).replace(/^denied by agentwarden: /, '');
  if (typeof reason === 'string') expect(said).toBe(reason);
  else expect(said).toMatch(reason);
}

const MCP_GUARD = 'denied by rule "mcp-guard" of policy "fuzz"';

async function expectStillServing(): Promise<void> {
  expect(okHeaders(await sidecar.checkShort(KNOWN_GOOD)).get('x-agentwarden-decision')).toBe('allow');
}

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * Whether the parts name GET https://api.example.com/ok up to the documented
 * normalisation (upper-cased method, lower-cased host, trailing dot, default
 * port, percent-decoded segments): the one request that may be allowed.
 */
function isTheAllowedRequest(method: string, scheme: string, host: string, path: string): boolean {
  if (method.toUpperCase() !== 'GET') return false;
  let authority = host.toLowerCase();
  let port = scheme.toLowerCase() === 'https' ? 443 : 80;
  const colon = authority.lastIndexOf(':');
  if (colon >= 0) {
    port = Number(authority.slice(colon + 1));
    authority = authority.slice(0, colon);
  }
  if (authority.endsWith('.')) authority = authority.slice(0, -1);
  const bare = path.split('?')[0] ?? '';
  return authority === 'api.example.com' && port === 443 && bare.startsWith('/') && !bare.slice(1).includes('/') && decodeSegment(bare.slice(1)) === 'ok';
}

const long = (unit: string, min: number, max: number): fc.Arbitrary<string> => fc.integer({ min, max }).map((n) => unit.repeat(n));

const nearMethods = fc.constantFrom('GET', 'get', 'Get', 'POST', 'HEAD', '', ' GET', 'GET ', 'GET\0', 'G\u0130T', 'GET\r\nX: y', 'ＧＥＴ');
const methods = fc.oneof(
  nearMethods,
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

const nearHosts = fc.constantFrom(
  'api.example.com', 'API.Example.COM.', 'api.example.com:443', 'api.example.com.evil.com', 'evil.com', 'api.example.com:8443', 'api.example.com:80', 'api.example.com:0', 'api.example.com:99999',
  'api.example.com@evil.com', 'evil.com#api.example.com', 'api.example.com/', 'api.example.com\0', 'api.example.com\0.evil',
  'api.example.com..', 'xapi.example.com', 'api-example.com', 'api.exa%6dple.com', ' api.example.com', 'api.example.com ',
  'аpi.example.com', 'api.example.com\u200b', 'api.example.com:', '[::1]', '[::1', '[api.example.com]:443', '*', '*.example.com',
);
const hosts = fc.oneof(
  nearHosts,
  fc.domain(),
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  long('a', 250, 70_000),
  long('a.', 100, 5_000),
);

const nearPaths = fc.constantFrom(
  '/ok', '/%6fk', '/ok?x=1', '/ok/', '/ok/..', '/ok/.', '/./ok', '/../ok', '/x/../ok', '//ok', '/ok//', '/OK', '/Ok', '/ok;x', '/ok#x', 'ok', '', '/',
  '/ok%2F', '/ok%2f..', '/%2e%2e/ok', '/%2E/ok', '/ok%00', '/ok\0', '/ok\\', '/ok%5C', '/%6fk/', '/o%k', '/ok%', '/ok%zz',
  '/\u006f\u006b\u0301', '/ｏｋ', '/ok\u200b', '/ok/%2e%2e', '/ok/..%2f', '*', 'http://api.example.com/ok',
);
const paths = fc.oneof(
  nearPaths,
  fc.webPath(),
  fc.string({ maxLength: 64 }).map((s) => `/${s}`),
  fc.string({ unit: 'binary', maxLength: 64 }).map((s) => `/${s}`),
  long('/a', 1, 10_000),
  long('/..', 1, 1_000),
  long('x', 1, 200_000).map((s) => `/${s}`),
);

const queries = fc.oneof(fc.constant(''), fc.webQueryParameters(), fc.string({ unit: 'binary', maxLength: 64 }), long('a=%2F&', 1, 20_000));

const headerNames = fc.string({ minLength: 1, maxLength: 24 }).filter((k) => !['host', ':authority'].includes(k.toLowerCase()));
const headers = fc.dictionary(headerNames, fc.oneof(fc.string({ maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 64 }), long('v', 1, 50_000)), { maxKeys: 8 });

describe('the ext_authz server under malformed CheckRequests', () => {
  it('answers random bytes as the whole message with a deny', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
      expectDeny(await sidecar.client.checkBytes(bytes));
    }), { numRuns: 300 });
    await expectStillServing();
  });

  it('never allows a request with other methods, hosts, paths or queries', async () => {
    const parts = fc.record({
      method: methods, host: hosts, path: paths, query: queries, headers,
      scheme: fc.constantFrom('https', 'http', '', 'HTTPS', 'ftp'),
      queryInPath: fc.boolean(),
      asHeaderMap: fc.boolean(),
    });
    await fc.assert(fc.asyncProperty(parts, async (p) => {
      const fullPath = p.queryInPath && p.query !== '' ? `${p.path}?${p.query}` : p.path;
      fc.pre(!isTheAllowedRequest(p.method, p.scheme, p.host, fullPath));
      const request = checkRequest({
        attributes: {
          request: {
            http: {
              method: p.method, host: p.host, scheme: p.scheme, path: fullPath, query: p.queryInPath ? '' : p.query,
              headers: p.asHeaderMap ? {} : p.headers,
              headerMap: p.asHeaderMap ? create(HeaderMapSchema, { headers: Object.entries(p.headers).map(([key, value]) => ({ key, rawValue: new TextEncoder().encode(value) })) }) : undefined,
            },
          },
        },
      });
      expectDeny(await sidecar.check(request));
    }), { numRuns: 300 });
    await expectStillServing();
  });

  it('allows nothing but the allowed request among near misses of it', async () => {
    const near = fc.record({ method: nearMethods, host: nearHosts, path: nearPaths, scheme: fc.constantFrom('https', 'http', 'HTTPS') });
    await fc.assert(fc.asyncProperty(near, async (p) => {
      const response = await sidecar.check(checkRequest({ attributes: { request: { http: { method: p.method, host: p.host, scheme: p.scheme, path: p.path } } } }));
      if (isTheAllowedRequest(p.method, p.scheme, p.host, p.path)) expect(okHeaders(response).get('x-agentwarden-decision')).toBe('allow');
      else expectDeny(response);
    }), { numRuns: 300 });
    await expectStillServing();
  });

  it('denies an MCP call whose raw_body is not valid UTF-8', async () => {
    const invalid = fc.tuple(fc.uint8Array({ maxLength: 256 }), fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]), fc.uint8Array({ maxLength: 256 }))
      .map(([a, bad, b]) => new Uint8Array([...new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"'), ...a, ...bad, ...b]));
    await fc.assert(fc.asyncProperty(invalid, async (body) => {
      expectDeny(await sidecar.checkShort({ method: 'POST', url: MCP_URL }, (r) => {
        r.attributes!.request!.http!.rawBody = body;
      }));
    }), { numRuns: 100 });
    await expectStillServing();
  });

  it('answers an MCP call whose body string field carries invalid UTF-8 on the wire', async () => {
    const bytes = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.constantFrom(0xff, 0xc3, 0xed, 0xf4, 0x80))
      .map(([random, bad]) => new Uint8Array([bad, ...random]));
    await fc.assert(fc.asyncProperty(bytes, async (body) => {
      // Encode with a placeholder body of the same length, then put the bytes in its place.
      const placeholder = '\u0001'.repeat(body.length);
      const request = checkRequestFrom({ method: 'POST', url: MCP_URL, body: placeholder });
      const wire = toBinary(CheckRequestSchema, request);
      const at = Buffer.from(wire).indexOf(Buffer.from(placeholder));
      expect(at).toBeGreaterThan(0);
      wire.set(body, at);
      expectDeny(await sidecar.client.checkBytes(wire));
    }), { numRuns: 100 });
    await expectStillServing();
  });

  it('leaves a 10 MB body unparsed (body size limit): the MCP Deny rule fails closed and names the limit, as a string and as raw_body', async () => {
    const big = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"dangerous","arguments":{"x":"${'x'.repeat(10 * 1024 * 1024)}"}}}`;
    const limit = `${MCP_GUARD}; body larger than ${MAX_PARSED_BODY_BYTES} bytes`;
    expectDeniedBy(await sidecar.checkShort({ method: 'POST', url: MCP_URL, body: big }), 'mcp-guard', limit);
    expectDeniedBy(await sidecar.checkShort({ method: 'POST', url: MCP_URL }, (r) => {
      r.attributes!.request!.http!.rawBody = new TextEncoder().encode(big);
    }), 'mcp-guard', limit);
    await expectStillServing();
  });

  it('decides a request with 5,000 headers on all of them, as headers and as header_map', async () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) many[`x-h-${i}`] = `v${i}`;
    const asHeaderMap = (r: CheckRequest): void => {
      const http = r.attributes!.request!.http!;
      http.headerMap = create(HeaderMapSchema, { headers: Object.entries(http.headers).map(([key, value]) => ({ key, rawValue: new TextEncoder().encode(value) })) });
      http.headers = {};
    };
    const call = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"dangerous","arguments":{"x":1}}}`;
    for (const edit of [undefined, asHeaderMap]) {
      // The headers change nothing for rules that do not read them.
      expect(okHeaders(await sidecar.checkShort({ url: 'https://api.example.com/ok', headers: many }, edit)).get('x-agentwarden-decision')).toBe('allow');
      expectDeniedBy(await sidecar.checkShort({ url: 'https://api.example.com/other', headers: many }, edit), 'default-deny', 'no rule allows GET api.example.com/other');
      // The 5,001st header decides the condition: read, not dropped (a dropped one would fail the condition, and say so).
      expectDeniedBy(await sidecar.checkShort({ method: 'POST', url: MCP_URL, headers: { ...many, 'x-a': 'b' }, body: call }, edit), 'mcp-guard', MCP_GUARD);
      expectDeniedBy(await sidecar.checkShort({ method: 'POST', url: MCP_URL, headers: { ...many, 'x-a': 'c' }, body: call }, edit), 'default-deny', /^no rule allows POST mcp\.example\.com\/mcp/);
    }
    await expectStillServing();
  });

  it('stops reading JSON nested 100,000 levels deep at the depth limit: the MCP Deny rule fails closed and names the limit', async () => {
    const depth = 100_000;
    const deepObject = `${'{"x":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const deepArray = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    for (const deep of [deepObject, deepArray]) {
      const body = `{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":{"name":"dangerous","arguments":{"x":${deep}}}}`;
      const limit = `${MCP_GUARD}; body nests deeper than ${MAX_JSON_DEPTH} levels`;
      expectDeniedBy(await sidecar.checkShort({ method: 'POST', url: MCP_URL, headers: { 'x-a': 'b' }, body }), 'mcp-guard', limit);
      expectDeniedBy(await sidecar.checkShort({ method: 'POST', url: MCP_URL, headers: { 'x-a': 'b' }, body }, (r) => {
        const http = r.attributes!.request!.http!;
        http.rawBody = new TextEncoder().encode(http.body);
        http.body = '';
      }), 'mcp-guard', limit);
    }
    await expectStillServing();
  });
});
