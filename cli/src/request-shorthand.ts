// The request shorthand of test suites: a URL (or host and path), a method,
// headers, and a JSON body or an MCP call, turned into the CheckRequest Envoy
// would send.
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { CheckRequestSchema, type CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { isPlain } from '../../policy/src/fields.js';

export interface RequestShorthand {
  /** "https://api.zendesk.com/api/v2/tickets/T-1?x=1"; or use host (+ scheme) and path. */
  readonly url?: string;
  readonly method?: string;
  readonly host?: string;
  readonly scheme?: string;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON body (object or list) or a raw string body. */
  readonly body?: unknown;
  /** An MCP call: becomes a JSON-RPC 2.0 POST body. */
  readonly mcp?: { readonly method?: string; readonly tool?: string; readonly uri?: string; readonly arguments?: Readonly<Record<string, unknown>>; readonly id?: string | number };
  /** Sets x-envoy-auth-partial-body: true. */
  readonly partialBody?: boolean;
}

/** Builds a CheckRequest; throws Error with a message naming the bad field. */
export function checkRequestFrom(short: unknown, timeMs?: number): CheckRequest {
  if (!isPlain(short)) throw new Error('request: must be an object');
  const s = short as RequestShorthand;
  let scheme = s.scheme ?? 'https';
  let host = s.host ?? '';
  let path = s.path ?? '/';
  if (s.url !== undefined) {
    const m = /^(https?):\/\/([^/?#]+)([^#]*)$/.exec(s.url);
    if (m === null) throw new Error(`request.url: "${s.url}" is not an http(s) URL`);
    scheme = m[1] ?? 'https';
    host = m[2] ?? '';
    path = m[3] === undefined || m[3] === '' ? '/' : m[3];
  }
  if (host === '') throw new Error('request: needs url or host');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.headers ?? {}) as [string, unknown][]) {
    if (typeof v !== 'string') throw new Error(`request.headers.${k}: must be a string`);
    headers[k.toLowerCase()] = v;
  }
  let body = '';
  let method = (s.method ?? 'GET').toUpperCase();
  if (s.mcp !== undefined) {
    const m = s.mcp;
    const mcpMethod = m.method ?? 'tools/call';
    const params: Record<string, unknown> = {};
    if (m.tool !== undefined) params['name'] = m.tool;
    if (m.uri !== undefined) params['uri'] = m.uri;
    if (m.arguments !== undefined) params['arguments'] = m.arguments;
    body = JSON.stringify({ jsonrpc: '2.0', id: m.id ?? 1, method: mcpMethod, params });
    method = s.method?.toUpperCase() ?? 'POST';
    headers['content-type'] ??= 'application/json';
  } else if (s.body !== undefined) {
    body = typeof s.body === 'string' ? s.body : JSON.stringify(s.body);
    if (typeof s.body !== 'string') headers['content-type'] ??= 'application/json';
  }
  if (s.partialBody === true) headers['x-envoy-auth-partial-body'] = 'true';
  headers[':authority'] = host;
  headers[':method'] = method;
  headers[':path'] = path;
  const q = path.indexOf('?');
  return create(CheckRequestSchema, {
    attributes: {
      request: {
        ...(timeMs === undefined ? {} : { time: timestampFromMs(timeMs) }),
        http: {
          id: '1', method, host, path, scheme, headers, body,
          query: q < 0 ? '' : path.slice(q + 1),
          size: BigInt(Buffer.byteLength(body)),
          protocol: 'HTTP/1.1',
        },
      },
    },
  });
}
