// The requests of make bench-e2e: bench/compare's mix (mix.ts), sent as plain HTTP
// through the front Envoy the way an agent with HTTP_PROXY sends them. The load
// cycles through the entries the policy allows; the check before it sends every entry.
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { MIX, type MixEntry } from '../compare/mix.js';

/** One request, as bench/peers/loadgen -requests reads it. */
export interface HttpRequestSpec {
  readonly method: string;
  /** Absolute http:// URL: the agent's authority, path and query. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The entry as an HTTP request: the same method, authority, path, headers and body as its CheckRequest. */
export function httpRequestOf(entry: MixEntry): HttpRequestSpec {
  const http = checkRequestFrom(entry.request).attributes?.request?.http;
  if (http === undefined) throw new Error(`bench: e2e: mix entry "${entry.id}" has no HTTP request`);
  const headers = Object.fromEntries(Object.entries(http.headers).filter(([k]) => !k.startsWith(':')));
  return { method: http.method, url: `http://${http.host}${http.path}`, headers, body: http.body };
}

/** What the load sends, in order: every entry the policy allows. */
export const LOAD_ENTRIES: readonly MixEntry[] = MIX.filter((e) => e.expect === 'allow');
