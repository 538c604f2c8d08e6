// Path templates and request paths (DESIGN.md semantics, point 7).
//
// A template is a list of whole segments: a literal, "{name}" (one non-empty
// segment, captured), "*" (one non-empty segment) or a final "**" (zero or more
// segments). Templates of one rule are merged into a segment trie at compile
// time; requests are matched against it without any regular expression.

export type TemplateSegment =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'wildcard' }
  | { readonly kind: 'rest' };

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
export const MAX_PATH_LENGTH = 8192;
export const MAX_PATH_SEGMENTS = 256;

/** Splits "/a/b/" into ["a", "b", ""]; "/" into []. The input starts with "/". */
export function splitSegments(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

/** Parses a path template, or returns why it is invalid. */
export function parseTemplate(template: string): TemplateSegment[] | string {
  if (!template.startsWith('/')) return 'must start with "/"';
  const raw = splitSegments(template);
  const out: TemplateSegment[] = [];
  for (let i = 0; i < raw.length; i++) {
    const seg = raw[i] ?? '';
    const last = i === raw.length - 1;
    if (seg === '**') {
      if (!last) return '"**" is only allowed as the last segment';
      out.push({ kind: 'rest' });
    } else if (seg === '*') {
      out.push({ kind: 'wildcard' });
    } else if (seg.startsWith('{') || seg.endsWith('}')) {
      const m = PARAM.exec(seg);
      if (m === null) return `segment "${seg}" is not a parameter of the form {name}`;
      const name = m[1] ?? '';
      if (out.some((s) => s.kind === 'param' && s.name === name)) return `parameter {${name}} appears twice`;
      out.push({ kind: 'param', name });
    } else {
      if (seg === '' && !last) return 'empty segment ("//")';
      if (seg === '.' || seg === '..') return `segment "${seg}" can never match (such paths are denied as invalid)`;
      if (seg === '__proto__') return 'segment "__proto__" is not supported';
      if (/[{}*]/.test(seg)) return `segment "${seg}": "{", "}" and "*" must make up a whole segment`;
      if (/%|\\|\?|#|\0/.test(seg)) return `segment "${seg}" must be written decoded, without "%", "\\", "?" or "#"`;
      const never = ambiguousSegment(seg);
      if (never !== undefined) return `segment "${seg}" can never match: a request path that ${never} is denied as invalid`;
      out.push({ kind: 'literal', value: seg });
    }
  }
  return out;
}

export type PathCheck =
  | { readonly ok: true; readonly segments: readonly string[]; readonly folded: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Validates a request path (query already removed) and returns its
 * percent-decoded segments. Paths that servers read differently are refused
 * (DESIGN.md point 7 and "Data plane"): "." or ".." segments (also when
 * encoded), empty segments ("//"), "/" or "\\" encoded, backslashes, ";"
 * (matrix parameters: Tomcat and Spring cut the segment there), "%25" (double
 * encoding), "#" and control characters raw or encoded, segments that end in
 * a dot or a space or hold only dots and spaces (IIS and Windows strip those),
 * malformed percent-encoding, and paths beyond the length and segment bounds.
 */
export function checkRequestPath(path: string): PathCheck {
  if (path.length === 0 || path[0] !== '/') return { ok: false, reason: 'path must start with "/"' };
  if (path.length > MAX_PATH_LENGTH) return { ok: false, reason: `path longer than ${MAX_PATH_LENGTH} characters` };
  if (path.includes('\\')) return { ok: false, reason: 'path contains a backslash' };
  if (path.includes('\0')) return { ok: false, reason: 'path contains NUL' };
  const raw = splitSegments(path);
  if (raw.length > MAX_PATH_SEGMENTS) return { ok: false, reason: `path has more than ${MAX_PATH_SEGMENTS} segments` };
  const segments: string[] = new Array<string>(raw.length);
  const folded: string[] = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    let seg = raw[i] ?? '';
    if (seg.includes('%')) {
      const lower = seg.toLowerCase();
      if (lower.includes('%2f')) return { ok: false, reason: 'path contains an encoded slash (%2F)' };
      if (lower.includes('%5c')) return { ok: false, reason: 'path contains an encoded backslash (%5C)' };
      if (lower.includes('%00')) return { ok: false, reason: 'path contains an encoded NUL (%00)' };
      if (lower.includes('%25')) return { ok: false, reason: 'path contains an encoded "%" (%25): double encoding, which servers that decode twice read differently' };
      try {
        seg = decodeURIComponent(seg);
      } catch {
        return { ok: false, reason: 'path contains malformed percent-encoding' };
      }
    }
    if (seg === '.' || seg === '..') return { ok: false, reason: `path contains a "${seg}" segment` };
    // An upstream that merges slashes would read "//admin" as "/admin": ambiguous.
    if (seg === '' && i < raw.length - 1) return { ok: false, reason: 'path contains an empty segment ("//")' };
    const ambiguous = ambiguousSegment(seg);
    if (ambiguous !== undefined) return { ok: false, reason: `path ${ambiguous}` };
    segments[i] = seg;
    folded[i] = seg.toLowerCase();
  }
  return { ok: true, segments, folded };
}

/**
 * Why a decoded segment is read differently by some servers, or undefined:
 * "contains ..." / "has a segment ..." (completes "path ...").
 */
function ambiguousSegment(seg: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(seg)) return 'contains a control character (raw or encoded)';
  if (seg.includes('#')) return 'contains "#" (raw or encoded %23), which servers read as the start of a fragment';
  if (seg.includes(';')) return 'contains ";" (raw or encoded %3B): matrix parameters, which servers such as Tomcat and Spring strip before matching';
  if (seg !== '' && /^[. ]+$/.test(seg)) return `has a segment "${seg}" of only dots and spaces, which IIS and Windows servers strip`;
  if (seg.endsWith('.') || seg.endsWith(' ')) return `has a segment "${seg.slice(0, 64)}" that ends in a dot or a space, which IIS and Windows servers strip`;
  const alias = asciiCaseAlias(seg);
  if (alias !== undefined) return `contains "${alias.char}" (U+${alias.code}), which servers that compare paths ignoring case (Java's equalsIgnoreCase, .NET's OrdinalIgnoreCase) read as "${alias.ascii}"`;
  return undefined;
}

/**
 * A non-ASCII letter whose upper or lower case is an ASCII letter (dotless ı and
 * dotted İ → i, long ſ → s, KELVIN SIGN → k): a Deny rule's "admin" would not
 * fold it, a case-insensitive server would read it as ASCII.
 */
function asciiCaseAlias(seg: string): { char: string; code: string; ascii: string } | undefined {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(seg)) return undefined;
  for (const ch of seg) {
    if (ch.charCodeAt(0) < 0x80) continue;
    for (const mapped of [ch.toUpperCase(), ch.toLowerCase()]) {
      const ascii = /[A-Za-z]/.exec(mapped)?.[0];
      if (ascii !== undefined) return { char: ch, code: (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0'), ascii: ascii.toLowerCase() };
    }
  }
  return undefined;
}

/** Runtime form of the trie (Maps, so that segment names never reach an object prototype). */
export interface PathTrie {
  readonly literal: ReadonlyMap<string, PathTrie>;
  readonly params: readonly { readonly name: string; readonly next: PathTrie }[];
  readonly wildcard: PathTrie | undefined;
  readonly end: boolean;
  readonly rest: boolean;
}

/**
 * Matches segments against the trie. Returns the captured parameters of the
 * first match (literal before parameter before "*" before "**"), or undefined.
 * Literal segments are looked up by `keys` (the segments themselves, or, for a
 * trie with lower-cased literals, the lower-cased segments); captures keep the
 * segments as sent.
 */
export function matchTrie(trie: PathTrie, segments: readonly string[], keys: readonly string[] = segments): ReadonlyMap<string, string> | undefined {
  // One scratch list for every call (matching is synchronous): no allocation for a miss.
  scratch.length = 0;
  if (!walk(trie, segments, keys, 0, scratch)) return undefined;
  return scratch.length === 0 ? NO_CAPTURES : new Map(scratch);
}

const scratch: [string, string][] = [];
const NO_CAPTURES: ReadonlyMap<string, string> = new Map();

function walk(node: PathTrie, segs: readonly string[], keys: readonly string[], i: number, captures: [string, string][]): boolean {
  if (i === segs.length) return node.end || node.rest;
  const seg = segs[i] ?? '';
  const lit = node.literal.get(keys[i] ?? '');
  if (lit !== undefined && walk(lit, segs, keys, i + 1, captures)) return true;
  if (seg !== '') {
    for (const p of node.params) {
      captures.push([p.name, seg]);
      if (walk(p.next, segs, keys, i + 1, captures)) return true;
      captures.pop();
    }
    if (node.wildcard !== undefined && walk(node.wildcard, segs, keys, i + 1, captures)) return true;
  }
  return node.rest;
}
