// What the evaluator reads of one CheckRequest: the request as request.ts and
// tls-connection.ts read it, or why it cannot be read.
import type { McpCall } from './mcp.js';

export interface RequestView {
  /** 'http': an HTTP request; 'tls': a TLS connection the agent opened itself, decided on SNI and port only. */
  readonly kind: 'http' | 'tls';
  /** Upper case; '' for a TLS connection. */
  readonly method: string;
  readonly host: string;
  /** The host is an IP literal: only rules naming that address match it. */
  readonly ipLiteral: boolean;
  readonly port: number;
  readonly path: string;
  readonly segments: readonly string[];
  /** `segments` lower-cased, for the literal segments of Deny rules (servers that match paths case-insensitively). */
  readonly foldedSegments: readonly string[];
  readonly rawQuery: string;
  /** Request time in ms since the epoch, when Envoy sent one. */
  readonly timeMs: number | undefined;
  /** Lower-case names; never an x-agentwarden-* header the agent sent. */
  readonly headers: ReadonlyMap<string, string>;
  /** Names (lower case) of the x-agentwarden-* headers the agent sent: removed upstream on allow. */
  readonly ownHeadersSent: readonly string[];
  /** Parsed JSON body, null when absent, partial, too large, not JSON or not of one reading. */
  readonly body: unknown;
  /** Why the body was not parsed, for reasons in decisions. */
  readonly bodyNote: string | undefined;
  /** A body is present (or partial) but is not one JSON-RPC request: it may hide a forbidden MCP call. */
  readonly bodyUnreadable: boolean;
  readonly mcp: McpCall | undefined;
}

export type RequestRead = { readonly ok: true; readonly view: RequestView } | { readonly ok: false; readonly reason: string; readonly method: string; readonly host: string; readonly path: string };
