// Hosts and ports (DESIGN.md semantics, point 6; "Data plane": an IP-literal
// authority matches only rules that name that IP).
//
// IP literals: a host that WHATWG URL parsing reads as IPv4 (its last label is
// a decimal or 0x-hex number: "10.0.0.1", "127.1", "0x7f.1", "2130706433") is
// an address, and so is a bracketed IPv6 host. Only the dotted quad is
// accepted for IPv4; the other spellings are refused as invalid-request rather
// than rewritten: whether they reach that address depends on the resolver
// (inet_aton reads "127.1" as 127.0.0.1, a DNS lookup with search domains may
// not), so no one form could be decided on. IPv6 is rewritten to its canonical
// form (every spelling is the same address, nothing resolves it). "*" and
// "*.suffix" never match an IP literal; only an exact IP entry does.

const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const HOSTNAME = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const HOST_PATTERN = new RegExp(`^(\\*|(\\*\\.)?${LABEL}(\\.${LABEL})*)$`);
const DOTTED_QUAD = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const NUMERIC_LABEL = /^([0-9]+|0x[0-9a-f]*)$/;

/** Does WHATWG URL parsing read `host` (lower case, no trailing dot) as IPv4? Its last label is a number. */
export function endsInNumber(host: string): boolean {
  return NUMERIC_LABEL.test(host.slice(host.lastIndexOf('.') + 1));
}

/** The canonical text of an IPv6 address (no brackets), or undefined when `text` is not one. */
export function canonicalIpv6(text: string): string | undefined {
  if (!/^[0-9a-f:.]+$/i.test(text) || !text.includes(':')) return undefined;
  try {
    const h = new URL(`http://[${text}]/`).hostname;
    return h.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** Is `pattern` an exact host name, "*.suffix", "*" or an IP address in canonical form? (lower-case) */
export function isHostPattern(pattern: string): boolean {
  return hostPatternProblem(pattern) === undefined;
}

/** Why `pattern` is not a host pattern, or undefined. */
export function hostPatternProblem(pattern: string): string | undefined {
  const expected = 'is not a lower-case host name, "*.suffix", "*" or an IP address';
  if (pattern.includes(':')) {
    const canonical = canonicalIpv6(pattern);
    if (canonical === undefined) return expected;
    return canonical === pattern ? undefined : `is not an IPv6 address in canonical form (write "${canonical}")`;
  }
  if (pattern.length > 253 || !HOST_PATTERN.test(pattern)) return expected;
  if (endsInNumber(pattern) && (pattern.startsWith('*') || !DOTTED_QUAD.test(pattern))) {
    return 'can never match: a host whose last label is a number is an IPv4 address, and only the dotted quad (a.b.c.d) is accepted';
  }
  return undefined;
}

export type Authority =
  | { readonly ok: true; readonly host: string; readonly port: number; readonly ipLiteral: boolean }
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
    const ipv6 = canonicalIpv6(authority.slice(1, close));
    if (ipv6 === undefined) return { ok: false, reason: 'malformed IPv6 host' };
    host = ipv6;
    const after = authority.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return { ok: false, reason: 'malformed host:port' };
      portText = after.slice(1);
    }
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
    if (endsInNumber(host) && !DOTTED_QUAD.test(host)) {
      return { ok: false, reason: `host "${host}" is an IPv4 address in a form other than the dotted quad (resolvers read it differently)` };
    }
  }
  let port = scheme.toLowerCase() === 'https' ? 443 : 80;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText)) return { ok: false, reason: 'malformed port' };
    port = Number(portText);
    if (port < 1 || port > 65535) return { ok: false, reason: 'port out of range' };
  }
  return { ok: true, host, port, ipLiteral: authority.startsWith('[') || endsInNumber(host) };
}

/** Runtime host index: exact hosts, "*.suffix" patterns (stored as ".suffix") and "*". */
export interface HostIndex {
  readonly exact: ReadonlyMap<string, readonly number[]>;
  readonly suffix: ReadonlyMap<string, readonly number[]>;
  readonly any: readonly number[];
}

/**
 * Rule indexes whose hosts match `host`, ascending. "*.example.com" matches
 * "a.example.com" and "a.b.example.com", not "example.com". An IP literal
 * matches exact entries only, never "*" or "*.suffix".
 */
export function lookupHost(index: HostIndex, host: string, ipLiteral: boolean): readonly number[] {
  if (ipLiteral) return index.exact.get(host) ?? NONE;
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
