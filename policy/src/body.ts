// The request body as rules read it: complete or partial, and, when complete,
// the one JSON value it holds (DESIGN.md semantics point 8, and "Data plane": a
// body at or over Envoy's buffer limit is partial whatever Envoy's flag says).
import type { HttpRequestFields } from './check-request.js';
import { MAX_REQUEST_BYTES_CONTEXT_KEY } from './context-keys.js';
import { jsonReadingProblem } from './json-one-reading.js';

/** Bodies above this are not parsed (no JSON condition or MCP rule can match them). */
export const MAX_PARSED_BODY_BYTES = 1 << 20;

const PARTIAL_BODY_HEADER = 'x-envoy-auth-partial-body';

export interface BodyRead {
  /** Parsed JSON, null when absent, partial, too large, not JSON or not of one reading. */
  readonly body: unknown;
  /** Why the body was not parsed. */
  readonly note: string | undefined;
  /** Some body was sent (possibly cut short). */
  readonly present: boolean;
}

// Fatal on invalid UTF-8; a byte-order mark is kept so that the reading check sees it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function readBody(http: HttpRequestFields, headers: ReadonlyMap<string, string>, extensions: Readonly<Record<string, string>>): BodyRead {
  const raw = http.rawBody.length > 0;
  const bytes = raw ? http.rawBody.length : utf8Length(http.body);
  // Envoy says `x-envoy-auth-partial-body: false` when the body exactly fills its
  // buffer although more followed: the route's limit decides too.
  const partial = partialReason(bytes, headers, extensions[MAX_REQUEST_BYTES_CONTEXT_KEY]);
  if (partial !== undefined) return { body: null, note: partial, present: true };
  if (bytes === 0) return { body: null, note: 'request has no body', present: false };
  if (bytes > MAX_PARSED_BODY_BYTES) return { body: null, note: `body larger than ${MAX_PARSED_BODY_BYTES} bytes`, present: true };
  let text: string;
  if (raw) {
    try {
      text = utf8.decode(http.rawBody);
    } catch {
      return { body: null, note: 'body is not valid UTF-8', present: true };
    }
  } else {
    text = http.body;
  }
  const problem = jsonReadingProblem(text);
  if (problem !== undefined) return { body: null, note: problem, present: true };
  try {
    return { body: JSON.parse(text) as unknown, note: undefined, present: true };
  } catch {
    return { body: null, note: 'body is not JSON', present: true };
  }
}

/** Why a body of `bytes` bytes is not the whole body, or undefined when it is. */
function partialReason(bytes: number, headers: ReadonlyMap<string, string>, limitText: string | undefined): string | undefined {
  // Envoy drops an x-envoy-auth-partial-body the client sent and sets its own; a
  // list ("false,true", from header_map entries joined) counts as partial.
  const flag = headers.get(PARTIAL_BODY_HEADER);
  if (flag !== undefined && flag.split(',').some((v) => v.trim().toLowerCase() === 'true')) return 'body is partial (x-envoy-auth-partial-body: true)';
  if (limitText !== undefined) {
    if (!/^[0-9]{1,15}$/.test(limitText)) return `body may be partial: context extension ${MAX_REQUEST_BYTES_CONTEXT_KEY} is not a decimal byte count`;
    const limit = Number(limitText);
    if (bytes > 0 && bytes >= limit) return `body is partial: its ${bytes} bytes reach Envoy's buffer limit of ${limit} bytes`;
  }
  const length = headers.get('content-length');
  if (length !== undefined && /^[0-9]{1,15}$/.test(length.trim()) && Number(length.trim()) > bytes) {
    return `body is partial: ${bytes} bytes of the ${Number(length.trim())} that content-length announces`;
  }
  return undefined;
}

/** UTF-8 length of a string from the wire (well-formed: lone surrogates cannot come from a UTF-8 decode). */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2; // a surrogate pair: 4 bytes for its 2 units
      i++;
    } else n += 2;
  }
  return n;
}
