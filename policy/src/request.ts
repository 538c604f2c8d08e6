// Reads an Envoy CheckRequest into the facts rules are matched against:
// method, host, port, path segments, query, headers and, when some rule needs
// it, the body and its MCP (JSON-RPC 2.0) reading. A CheckRequest of Envoy's
// network ext_authz (TLS the agent opened itself) is read by tls-connection.ts.
import type { CheckRequestFields } from './check-request.js';
import { checkRequestPath } from './paths.js';
import { parseAuthority, type Authority } from './hosts.js';
import { memoizeByString } from './string-memo.js';
import { readMcp, type McpCall } from './mcp.js';
import { readBody } from './body.js';
import { TLS_ORIGINATED_HOSTS_CONTEXT_KEY, TLS_ORIGINATION_CONTEXT_KEY } from './context-keys.js';
import { connectTunnelView, readTlsConnection } from './tls-connection.js';
import type { RequestRead } from './request-view.js';

export { MAX_PARSED_BODY_BYTES } from './body.js';
export { MAX_REQUEST_BYTES_CONTEXT_KEY, TLS_ORIGINATED_HOSTS_CONTEXT_KEY, TLS_ORIGINATION_CONTEXT_KEY } from './context-keys.js';

/** Headers with this prefix are agentwarden's own: what the agent sends under it is neither decided on nor forwarded. */
export const OWN_HEADER_PREFIX = 'x-agentwarden-';

export type { RequestRead, RequestView } from './request-view.js';

// Hosts are few per agent and stay memoised; paths vary more (resource ids), so
// their memo is small: entries a flood of distinct paths pushes out die young
// rather than reaching V8's old generation (issue 20).
const AUTHORITIES = { maxEntries: 64, maxKeyLength: 261 };
const httpsAuthority = memoizeByString((a) => parseAuthority(a, 'https'), AUTHORITIES);
const httpAuthority = memoizeByString((a) => parseAuthority(a, 'http'), AUTHORITIES);
const requestPath = memoizeByString(checkRequestPath, { maxEntries: 128, maxKeyLength: 512 });

/** parseAuthority, memoised by authority for each default port. */
function authorityOf(authority: string, scheme: string): Authority {
  return scheme === 'https' || scheme.toLowerCase() === 'https' ? httpsAuthority(authority) : httpAuthority(authority);
}

function originationPort(value: string | undefined, host: string): number | undefined {
  if (value === undefined) return undefined;
  const colon = value.lastIndexOf(':');
  const port = Number(value.slice(colon + 1));
  if (colon < 0 || value.slice(0, colon).toLowerCase() !== host || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return port;
}

/** Is `host` in the comma-separated list of hosts reached only through TLS origination? */
function inHostList(list: string, host: string): boolean {
  for (const h of list.split(',')) if (h.trim().toLowerCase() === host) return true;
  return false;
}

/**
 * Reads `check`. `needs` says which costly parts to read; invalid requests
 * (ambiguous path, malformed authority) come back with the reason.
 */
export function readCheckRequest(check: CheckRequestFields, needs: { readonly body: boolean; readonly headers: boolean }): RequestRead {
  const http = check.attributes?.request?.http;
  if (http === undefined && check.attributes?.tlsSession !== undefined) return readTlsConnection(check.attributes);
  const method = (http?.method ?? '').toUpperCase();
  const fullPath = http?.path ?? '';
  const q = fullPath.indexOf('?');
  const path = q < 0 ? fullPath : fullPath.slice(0, q);
  const rawQuery = q < 0 ? (http?.query ?? '') : fullPath.slice(q + 1);
  const headers = needs.headers || needs.body || http?.host === '' ? collectHeaders(check) : new Map<string, string>();
  const authority = http?.host !== undefined && http.host !== '' ? http.host : (headers.get(':authority') ?? headers.get('host') ?? '');
  const fail = (reason: string): RequestRead => ({ ok: false, reason, method, host: authority.slice(0, 256), path: path.slice(0, 256) });
  if (http === undefined) return fail('CheckRequest has neither attributes.request.http (HTTP ext_authz) nor attributes.tls_session (network ext_authz with include_tls_session)');
  if (method === '' || !/^[A-Z]+$/.test(method)) return fail('request has no valid HTTP method');
  const auth = authorityOf(authority, http.scheme);
  if (!auth.ok) return fail(auth.reason);
  const extensions = check.attributes?.contextExtensions ?? {};
  // Envoy originated TLS for this request: the agent spoke plain HTTP to Envoy, the
  // upstream is HTTPS on the port the route names (rules see the real destination).
  const origination = originationPort(extensions[TLS_ORIGINATION_CONTEXT_KEY], auth.host);
  const port = origination ?? auth.port;
  // A plain-HTTP route: a host that this pod reaches only through TLS origination
  // must not be reached in plain text (another port, an authority Envoy routes as is).
  const originatedHosts = extensions[TLS_ORIGINATED_HOSTS_CONTEXT_KEY];
  if (origination === undefined && originatedHosts !== undefined && inHostList(originatedHosts, auth.host)) {
    return fail(`${auth.host} is reached over TLS origination; this request would leave in plain text (authority '${authority.slice(0, 256)}')`);
  }
  const time = check.attributes?.request?.time;
  const timeMs = time === undefined ? undefined : Number(time.seconds) * 1000 + Math.floor(time.nanos / 1_000_000);
  // A CONNECT carries no path: the tunnel it opens is decided on host and port (like TLS the agent opens itself).
  if (method === 'CONNECT') {
    if (!/:\d+$/.test(authority)) return fail('CONNECT without a port in its authority');
    return { ok: true, view: connectTunnelView(auth, timeMs) };
  }
  const checked = requestPath(path);
  if (!checked.ok) return fail(checked.reason);
  const override = methodOverride(rawQuery);
  if (override !== undefined) return fail(override);
  let body: unknown = null;
  let bodyNote: string | undefined;
  let mcp: McpCall | undefined;
  let bodyUnreadable = false;
  if (needs.body) {
    const read = readBody(http, headers, extensions);
    body = read.body;
    bodyNote = read.note;
    const call = read.body === null ? undefined : readMcp(read.body);
    mcp = typeof call === 'string' ? undefined : call;
    bodyUnreadable = read.present && mcp === undefined;
    if (bodyUnreadable && bodyNote === undefined) bodyNote = typeof call === 'string' ? call : 'body is not one JSON-RPC 2.0 request';
  }
  return {
    ok: true,
    view: {
      kind: 'http', method, host: auth.host, ipLiteral: auth.ipLiteral, port, path, segments: checked.segments, foldedSegments: checked.folded, rawQuery, timeMs,
      headers, ownHeadersSent: ownHeaderNames(check), body, bodyNote, bodyUnreadable, mcp,
    },
  };
}

/** Names of the x-agentwarden-* headers in the request, lower case, each once. */
function ownHeaderNames(check: CheckRequestFields): readonly string[] {
  const http = check.attributes?.request?.http;
  let out: string[] | undefined;
  const add = (k: string): void => {
    // A cheap first test: most header names do not start with "x-a".
    if (k.length <= OWN_HEADER_PREFIX.length || (k.charCodeAt(0) | 0x20) !== 0x78) return;
    const name = k.toLowerCase();
    if (!name.startsWith(OWN_HEADER_PREFIX)) return;
    out ??= [];
    if (!out.includes(name)) out.push(name);
  };
  const headers = http?.headers ?? {};
  for (const k in headers) if (Object.hasOwn(headers, k)) add(k);
  for (const h of http?.headerMap?.headers ?? []) add(h.key);
  return out ?? NO_NAMES;
}

const NO_NAMES: readonly string[] = [];

// Non-fatal, BOM stripped: what `new TextDecoder()` does; stateless between decode() calls.
const rawHeaderDecoder = new TextDecoder();

/** A header_map entry's value: `value`, or `raw_value` read as UTF-8 when value is empty (Envoy's encode_raw_headers). */
export function headerMapValue(h: { readonly value: string; readonly rawValue: Uint8Array }): string {
  return h.value !== '' ? h.value : rawHeaderDecoder.decode(h.rawValue);
}

/**
 * One header's value (`name` lower case), read from the CheckRequest whatever
 * the rules need: a session key names it. header_map values join with ",".
 */
export function requestHeader(check: CheckRequestFields, name: string): string | undefined {
  const http = check.attributes?.request?.http;
  if (http === undefined) return undefined;
  let value = Object.hasOwn(http.headers, name) ? http.headers[name] : undefined;
  if (value === undefined) {
    for (const k in http.headers) if (Object.hasOwn(http.headers, k) && k.toLowerCase() === name) value = http.headers[k];
  }
  for (const h of http.headerMap?.headers ?? []) {
    if (h.key.toLowerCase() !== name) continue;
    const v = headerMapValue(h);
    value = value === undefined ? v : `${value},${v}`;
  }
  return value;
}

function collectHeaders(check: CheckRequestFields): Map<string, string> {
  const http = check.attributes?.request?.http;
  const out = new Map<string, string>();
  if (http === undefined) return out;
  const headers = http.headers;
  // for-in visits own keys in Object.entries' order without allocating a pair per
  // header (it was most of this function's cost); inherited keys are not headers.
  for (const k in headers) {
    if (!Object.hasOwn(headers, k)) continue;
    const v = headers[k];
    const key = k.toLowerCase();
    if (v !== undefined && !key.startsWith(OWN_HEADER_PREFIX)) out.set(key, v);
  }
  // header_map (Envoy's encode_raw_headers): values may be raw bytes.
  for (const h of http.headerMap?.headers ?? []) {
    const value = headerMapValue(h);
    const key = h.key.toLowerCase();
    if (key.startsWith(OWN_HEADER_PREFIX)) continue;
    const prev = out.get(key);
    out.set(key, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

const NO_QUERY: ReadonlyMap<string, readonly string[]> = new Map();

/** request.query for CEL: name -> all values, decoded as a form would be. */
export function parseQuery(raw: string): ReadonlyMap<string, readonly string[]> {
  if (raw === '') return NO_QUERY;
  const out = new Map<string, string[]>();
  for (const [k, v] of new URLSearchParams(raw)) {
    const list = out.get(k);
    if (list === undefined) out.set(k, [v]);
    else list.push(v);
  }
  return out;
}

/**
 * A `_method` query parameter: frameworks (Laravel, Symfony, Express's
 * method-override) run the method it names instead of the request's, so the
 * upstream would do what was not decided. (The method-override headers are
 * removed by the injected Envoy before the request goes upstream.)
 */
function methodOverride(rawQuery: string): string | undefined {
  if (rawQuery === '' || !/method/i.test(rawQuery)) return undefined;
  for (const key of new URLSearchParams(rawQuery).keys()) {
    if (key.toLowerCase() === '_method') return 'query parameter "_method" overrides the HTTP method for some servers; the request is decided on its own method only';
  }
  return undefined;
}
