// Reads an Envoy CheckRequest into the facts rules are matched against:
// method, host, port, path segments, query, headers and, when some rule needs
// it, the body and its MCP (JSON-RPC 2.0) reading.
import type { CheckRequestFields } from './check-request.js';
import { checkRequestPath } from './paths.js';
import { parseAuthority } from './hosts.js';
import { readMcp, type McpCall } from './mcp.js';

/** Bodies above this are not parsed (no JSON condition or MCP rule can match them). */
export const MAX_PARSED_BODY_BYTES = 1 << 20;

export interface RequestView {
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly segments: readonly string[];
  readonly rawQuery: string;
  /** Request time in ms since the epoch, when Envoy sent one. */
  readonly timeMs: number | undefined;
  readonly headers: ReadonlyMap<string, string>;
  /** Parsed JSON body, null when absent, partial, too large or not JSON. */
  readonly body: unknown;
  /** Why the body was not parsed, for reasons in decisions. */
  readonly bodyNote: string | undefined;
  /** A body is present (or partial) but is not one JSON-RPC request: it may hide a forbidden MCP call. */
  readonly bodyUnreadable: boolean;
  readonly mcp: McpCall | undefined;
}

export type RequestRead = { readonly ok: true; readonly view: RequestView } | { readonly ok: false; readonly reason: string; readonly method: string; readonly host: string; readonly path: string };

const PARTIAL_BODY_HEADER = 'x-envoy-auth-partial-body';
/** Context extension set by the injected Envoy on routes it re-sends over TLS: "host:port" of the upstream. */
export const TLS_ORIGINATION_CONTEXT_KEY = 'agentwarden.io/tls-origination';
/** Context extension on every route of the injected Envoy: its with_request_body.max_request_bytes. */
export const MAX_REQUEST_BYTES_CONTEXT_KEY = 'agentwarden.io/max-request-bytes';
/** Context extension on the injected Envoy's plain-text routes: the hosts this pod reaches only over TLS origination. */
export const TLS_ORIGINATED_HOSTS_CONTEXT_KEY = 'agentwarden.io/tls-originated-hosts';

function originationPort(value: string | undefined, host: string): number | undefined {
  if (value === undefined) return undefined;
  const colon = value.lastIndexOf(':');
  const port = Number(value.slice(colon + 1));
  if (colon < 0 || value.slice(0, colon).toLowerCase() !== host || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return port;
}

/**
 * Reads `check`. `needs` says which costly parts to read; invalid requests
 * (ambiguous path, malformed authority) come back with the reason.
 */
export function readCheckRequest(check: CheckRequestFields, needs: { readonly body: boolean; readonly headers: boolean }): RequestRead {
  const http = check.attributes?.request?.http;
  const method = (http?.method ?? '').toUpperCase();
  const fullPath = http?.path ?? '';
  const q = fullPath.indexOf('?');
  const path = q < 0 ? fullPath : fullPath.slice(0, q);
  const rawQuery = q < 0 ? (http?.query ?? '') : fullPath.slice(q + 1);
  const headers = needs.headers || needs.body || http?.host === '' ? collectHeaders(check) : new Map<string, string>();
  const authority = http?.host !== undefined && http.host !== '' ? http.host : (headers.get(':authority') ?? headers.get('host') ?? '');
  const fail = (reason: string): RequestRead => ({ ok: false, reason, method, host: authority.slice(0, 256), path: path.slice(0, 256) });
  if (http === undefined) return fail('CheckRequest has no attributes.request.http');
  if (method === '' || !/^[A-Z]+$/.test(method)) return fail('request has no valid HTTP method');
  const auth = parseAuthority(authority, http.scheme);
  if (!auth.ok) return fail(auth.reason);
  // Envoy originated TLS for this request: the agent spoke plain HTTP to Envoy, the
  // upstream is HTTPS on the port the route names (rules see the real destination).
  const port = originationPort(check.attributes?.contextExtensions[TLS_ORIGINATION_CONTEXT_KEY], auth.host) ?? auth.port;
  const checked = checkRequestPath(path);
  if (!checked.ok) return fail(checked.reason);
  const time = check.attributes?.request?.time;
  const timeMs = time === undefined ? undefined : Number(time.seconds) * 1000 + Math.floor(time.nanos / 1_000_000);
  let body: unknown = null;
  let bodyNote: string | undefined;
  let mcp: McpCall | undefined;
  let bodyUnreadable = false;
  if (needs.body) {
    const read = readBody(check, headers);
    body = read.body;
    bodyNote = read.note;
    mcp = read.body === null ? undefined : readMcp(read.body);
    const present = http.body.length > 0 || http.rawBody.length > 0 || (headers.get(PARTIAL_BODY_HEADER) ?? '').toLowerCase() === 'true';
    bodyUnreadable = present && mcp === undefined;
    if (bodyUnreadable && bodyNote === undefined) bodyNote = 'body is not one JSON-RPC 2.0 request';
  }
  return { ok: true, view: { method, host: auth.host, port, path, segments: checked.segments, rawQuery, timeMs, headers, body, bodyNote, bodyUnreadable, mcp } };
}

// Non-fatal, BOM stripped: what `new TextDecoder()` does; stateless between decode() calls.
const rawHeaderDecoder = new TextDecoder();

/** A header_map entry's value: `value`, or `raw_value` read as UTF-8 when value is empty (Envoy's encode_raw_headers). */
export function headerMapValue(h: { readonly value: string; readonly rawValue: Uint8Array }): string {
  return h.value !== '' ? h.value : rawHeaderDecoder.decode(h.rawValue);
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
    if (v !== undefined) out.set(k.toLowerCase(), v);
  }
  // header_map (Envoy's encode_raw_headers): values may be raw bytes.
  for (const h of http.headerMap?.headers ?? []) {
    const value = headerMapValue(h);
    const key = h.key.toLowerCase();
    const prev = out.get(key);
    out.set(key, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

function readBody(check: CheckRequestFields, headers: ReadonlyMap<string, string>): { body: unknown; note: string | undefined } {
  const http = check.attributes?.request?.http;
  if (http === undefined) return { body: null, note: undefined };
  if ((headers.get(PARTIAL_BODY_HEADER) ?? '').toLowerCase() === 'true') return { body: null, note: 'body is partial (x-envoy-auth-partial-body: true)' };
  let text: string;
  if (http.rawBody.length > 0) {
    if (http.rawBody.length > MAX_PARSED_BODY_BYTES) return { body: null, note: `body larger than ${MAX_PARSED_BODY_BYTES} bytes` };
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(http.rawBody);
    } catch {
      return { body: null, note: 'body is not valid UTF-8' };
    }
  } else {
    if (http.body.length > MAX_PARSED_BODY_BYTES) return { body: null, note: `body larger than ${MAX_PARSED_BODY_BYTES} bytes` };
    text = http.body;
  }
  if (text.length === 0) return { body: null, note: 'request has no body' };
  try {
    return { body: JSON.parse(text) as unknown, note: undefined };
  } catch {
    return { body: null, note: 'body is not JSON' };
  }
}

/** request.query for CEL: name -> all values, decoded as a form would be. */
export function parseQuery(raw: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (raw === '') return out;
  for (const [k, v] of new URLSearchParams(raw)) {
    const list = out.get(k);
    if (list === undefined) out.set(k, [v]);
    else list.push(v);
  }
  return out;
}
