// Operation fingerprints (DESIGN.md "Behaviour: baselines and anomalies"): what
// one request is, as a baseline counts it. An HTTP operation is method, host and
// path template: the allowing rule's template when it names exactly one, else the
// path with id-like segments folded to {id}. An MCP call is host, JSON-RPC method
// and tool; a TLS connection the agent opened itself is its host and port.
// Pure, and cheap: it runs on every allowed decision of a pod with spec.anomaly.
import type { RequestView } from './request-view.js';

/** Longest fingerprint kept; longer ones are cut (a baseline entry is bounded). */
export const MAX_FINGERPRINT_LENGTH = 512;

/**
 * The fingerprint of `view`. `template`: the allowing rule's single path
 * template (undefined when it has none or several).
 */
export function operationFingerprint(view: RequestView, template: string | undefined): string {
  let fp: string;
  if (view.kind === 'tls') {
    fp = `TLS ${view.host}:${view.port}`;
  } else if (view.mcp !== undefined) {
    fp = view.mcp.tool === '' ? `MCP ${view.host} ${view.mcp.method}` : `MCP ${view.host} ${view.mcp.method} ${view.mcp.tool}`;
  } else {
    fp = `${view.method} ${view.host}${template ?? foldedPath(view.segments)}`;
  }
  return fp.length > MAX_FINGERPRINT_LENGTH ? fp.slice(0, MAX_FINGERPRINT_LENGTH) : fp;
}

/** "/api/v2/tickets/4711" -> "/api/v2/tickets/{id}"; "/" for no segments. */
export function foldedPath(segments: readonly string[]): string {
  if (segments.length === 0) return '/';
  let out = '';
  for (const s of segments) out += idLike(s) ? '/{id}' : `/${s}`;
  return out;
}

/**
 * An id rather than a name: a number (7, 4711), three or more digits among
 * other characters (T-1234, 2024-01-02), or a long hexadecimal run (hashes,
 * UUIDs). "v2", "api", "me" stay as they are.
 */
export function idLike(segment: string): boolean {
  let digits = 0;
  let hex = true;
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      if (digits >= 3) return true;
    } else if (!((c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 45)) {
      hex = false;
    }
  }
  return (digits > 0 && digits === segment.length) || (hex && segment.length >= 16);
}
