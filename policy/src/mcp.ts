// MCP over HTTP: the body is one JSON-RPC 2.0 request object (DESIGN.md
// semantics, point 8). Batches and anything else are not MCP calls.
import { isPlain } from './fields.js';

export interface McpCall {
  readonly method: string;
  /** params.name (tools/call, prompts/get) or params.uri (resources/read); "" otherwise. */
  readonly tool: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** The request id; undefined for a notification. */
  readonly id: string | number | null | undefined;
}

const TOOL_BY_NAME = new Set(['tools/call', 'prompts/get']);

export function readMcp(body: unknown): McpCall | undefined {
  if (!isPlain(body) || body['jsonrpc'] !== '2.0') return undefined;
  const method = body['method'];
  if (typeof method !== 'string' || method === '') return undefined;
  const id = body['id'];
  if (id !== undefined && id !== null && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) return undefined;
  const params = body['params'];
  if (params !== undefined && typeof params !== 'object') return undefined;
  let tool = '';
  let args: Record<string, unknown> = {};
  if (isPlain(params)) {
    const key = TOOL_BY_NAME.has(method) ? 'name' : method === 'resources/read' ? 'uri' : undefined;
    if (key !== undefined && typeof params[key] === 'string') tool = params[key];
    if (isPlain(params['arguments'])) args = params['arguments'];
  }
  return { method, tool, arguments: args, id };
}
