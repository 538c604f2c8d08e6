// MCP over HTTP: the body is one JSON-RPC 2.0 request object (DESIGN.md
// semantics, point 8). Batches and anything else are not MCP calls.
//
// Keys are matched exactly; a key that equals a JSON-RPC or MCP key only
// case-insensitively ("Method", "Params", "NAME") makes the message invalid:
// Go's encoding/json would read it as that key, JSON.parse does not.
import { isPlain } from './fields.js';
import { foldKey } from './json-one-reading.js';

export interface McpCall {
  readonly method: string;
  /** params.name (tools/call, prompts/get) or params.uri (resources/read); "" otherwise. */
  readonly tool: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** The request id; undefined for a notification. */
  readonly id: string | number | null | undefined;
}

const TOOL_BY_NAME = new Set(['tools/call', 'prompts/get']);
const MESSAGE_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);
const PARAMS_KEYS = new Set(['name', 'uri', 'arguments']);
const folded = (keys: ReadonlySet<string>): ReadonlySet<string> => new Set([...keys].map(foldKey));
const MESSAGE_FOLDED = folded(MESSAGE_KEYS);
const PARAMS_FOLDED = folded(PARAMS_KEYS);

/** Why `body` is not one JSON-RPC 2.0 request, or the call it is. */
export function readMcp(body: unknown): McpCall | string {
  if (!isPlain(body) || body['jsonrpc'] !== '2.0') return 'body is not one JSON-RPC 2.0 request';
  const variant = caseVariant(body, MESSAGE_KEYS, MESSAGE_FOLDED);
  if (variant !== undefined) return `body is not a valid JSON-RPC request: key "${variant}" is a case variant of a JSON-RPC key`;
  const method = body['method'];
  if (typeof method !== 'string' || method === '') return 'body is not one JSON-RPC 2.0 request (no method)';
  const id = body['id'];
  if (id !== undefined && id !== null && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) return 'body is not one JSON-RPC 2.0 request (invalid id)';
  const params = body['params'];
  if (params !== undefined && typeof params !== 'object') return 'body is not one JSON-RPC 2.0 request (invalid params)';
  const key = TOOL_BY_NAME.has(method) ? 'name' : method === 'resources/read' ? 'uri' : undefined;
  let tool = '';
  let args: Record<string, unknown> = {};
  if (isPlain(params)) {
    const inParams = caseVariant(params, PARAMS_KEYS, PARAMS_FOLDED);
    if (inParams !== undefined) return `body is not a valid MCP request: key "${inParams}" in params is a case variant of an MCP key`;
    if (key !== undefined && typeof params[key] === 'string') tool = params[key];
    if (isPlain(params['arguments'])) args = params['arguments'];
  }
  // A call that names no tool (or resource) is read differently by each server.
  if (key !== undefined && tool === '') return `body is not a valid MCP request: ${method} without a string params.${key}`;
  return { method, tool, arguments: args, id };
}

/** A key of `object` equal to one of `known` only case-insensitively, if any. */
function caseVariant(object: Readonly<Record<string, unknown>>, known: ReadonlySet<string>, knownFolded: ReadonlySet<string>): string | undefined {
  for (const k of Object.keys(object)) {
    if (!known.has(k) && knownFolded.has(foldKey(k))) return k.slice(0, 64);
  }
  return undefined;
}
