// Hosts and ports (DESIGN.md semantics, point 6).

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const HOSTNAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const HOST_PATTERN = new RegExp(`^(\\*|(\\*\\.)?${LABEL}(\\.${LABEL})*)$`);

/** Is `pattern` an exact host name, "*.suffix" or "*"? (lower-case) */
export function isHostPattern(pattern: string): boolean {
  return pattern.length <= 253 && HOST_PATTERN.test(pattern);
}

export type Authority =
  | { readonly ok: true; readonly host: string; readonly port: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Splits the request authority into a lower-cased host and a port: the port from
 * the authority, else 443 for https and 80 otherwise. A trailing dot is removed.
 */
export function parseAuthority(authority: string, scheme: string): Authority {
  if (authority.length === 0) return { ok: false, reason: 'request has no host (:authority)' };
  if (authority.length > 261) return { ok: false, reason: 'host longer than 253 characters' };
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return { ok: false, reason: 'malformed IPv6 host' };
    host = authority.slice(1, close).toLowerCase();
    const after = authority.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return { ok: false, reason: 'malformed host:port' };
      portText = after.slice(1);
    }
    if (!/^[0-9a-f:.]+$/.test(host)) return { ok: false, reason: 'malformed IPv6 host' };
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      portText = authority.slice(colon + 1);
      host = authority.slice(0, colon);
    } else {
      host = authority;
    }
    host = host.toLowerCase();
    if (host.endsWith('.')) host = host.slice(0, -1);
    if (!HOSTNAME.test(host)) return { ok: false, reason: 'malformed host' };
  }
  let port = scheme.toLowerCase() === 'https' ? 443 : 80;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText)) return { ok: false, reason: 'malformed port' };
    port = Number(portText);
    if (port < 1 || port > 65535) return { ok: false, reason: 'port out of range' };
  }
  return { ok: true, host, port };
}

/** Runtime host index: exact hosts, "*.suffix" patterns (stored as ".suffix") and "*". */
export interface HostIndex {
  readonly exact: ReadonlyMap<string, readonly number[]>;
  readonly suffix: ReadonlyMap<string, readonly number[]>;
  readonly any: readonly number[];
}

/**
 * Rule indexes whose hosts match `host`, ascending. "*.example.com" matches
 * "a.example.com" and "a.b.example.com", not "example.com".
 */
export function lookupHost(index: HostIndex, host: string): readonly number[] {
  // Most hosts hit one list (already ascending): return it as is, without copying.
  let single: readonly number[] | undefined;
  let merged: number[] | undefined;
  const add = (rules: readonly number[]): void => {
    if (rules.length === 0) return;
    if (single === undefined && merged === undefined) single = rules;
    else {
      merged ??= [...(single ?? [])];
      merged.push(...rules);
      single = undefined;
    }
  };
  const exact = index.exact.get(host);
  if (exact !== undefined) add(exact);
  if (index.suffix.size > 0) {
    for (let dot = host.indexOf('.', 1); dot > 0; dot = host.indexOf('.', dot + 1)) {
      const rules = index.suffix.get(host.slice(dot));
      if (rules !== undefined) add(rules);
    }
  }
  add(index.any);
  if (merged === undefined) return single ?? NONE;
  merged.sort((a, b) => a - b);
  return dedupeSorted(merged);
}

const NONE: readonly number[] = [];

function dedupeSorted(sorted: number[]): number[] {
  let w = 1;
  for (let r = 1; r < sorted.length; r++) {
    if (sorted[r] !== sorted[w - 1]) sorted[w++] = sorted[r] ?? 0;
  }
  sorted.length = w;
  return sorted;
}
