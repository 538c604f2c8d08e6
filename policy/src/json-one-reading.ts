// Does a JSON text have one reading? Parsers disagree on texts that JSON.parse
// accepts: duplicate keys (JSON.parse and Go's encoding/json take the last,
// many others the first), keys that differ only in case (Go's encoding/json
// matches object keys to struct fields case-insensitively, with Unicode simple
// folding: "K" ≈ "k" ≈ U+212A KELVIN SIGN, "S" ≈ "s" ≈ U+017F LONG S), lone
// surrogate escapes (replaced, kept or refused depending on the parser), a
// byte-order mark, and text after the first value. A body the decision reads
// must mean the same to the upstream, so such texts are refused as a whole.
//
// No library: the npm packages that find duplicate keys (json-dup-key-validator,
// secure-json-parse, ...) neither fold case nor look at surrogate escapes, and
// a full parser is not needed; JSON.parse still builds the value afterwards.
// One pass over the text, no allocation but the key strings and one Set per
// object; it runs only when some rule reads the body.

/** Objects and arrays nest at most this deep; deeper texts have no reading here. */
export const MAX_JSON_DEPTH = 64;

/**
 * Undefined when `text` is one JSON value with one reading; else why not
 * ('duplicate key "name" (case-insensitively) in params'). Syntax errors are
 * reported too, but JSON.parse's verdict on them is as good.
 */
export function jsonReadingProblem(text: string): string | undefined {
  if (text.charCodeAt(0) === 0xfeff) return 'body starts with a byte-order mark';
  const s = new Scanner(text);
  try {
    s.space();
    s.value(0);
    s.space();
    if (s.pos < text.length) return 'body has more than one JSON value (text after the first)';
    return undefined;
  } catch (e: unknown) {
    if (e instanceof NoReading) return e.message;
    throw e;
  }
}

class NoReading extends Error {}

/** The key Go's encoding/json would match: per code point, the smallest of its simple case-fold orbit. */
export function foldKey(key: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(key)) return key.toUpperCase();
  let out = '';
  for (const ch of key) out += String.fromCodePoint(foldCodePoint(ch));
  return out;
}

function foldCodePoint(ch: string): number {
  // JavaScript has no SimpleFold: {c, upper(c), lower(c), lower(upper(c)),
  // upper(lower(c))} covers the orbit for the scripts that have case (K/k/U+212A,
  // S/s/U+017F, Σ/σ/ς, ...). Multi-character mappings (ß -> SS) are not simple
  // folds and are left out.
  let min = ch.codePointAt(0) ?? 0;
  const upper = ch.toUpperCase();
  const lower = ch.toLowerCase();
  for (const c of [upper, lower, upper.toLowerCase(), lower.toUpperCase()]) {
    const cp = c.codePointAt(0) ?? min;
    if (c.length === String.fromCodePoint(cp).length && cp < min) min = cp;
  }
  return min;
}

/** Keys an object may have before its duplicate check moves from comparing text to a Map of folded keys. */
const FEW_KEYS = 16;

class Scanner {
  pos = 0;
  /**
   * Keys and indexes from the top to the value being read, for reasons: a
   * decoded key; a plain key (ASCII, no escape) as its start in the text
   * (it ends at the next '"'); an array index i as -(i + 1).
   */
  private readonly path: (string | number)[] = [];
  /** The plain keys of the objects being read, as text ranges (the first `keys` entries); each object's from where it began. */
  private readonly keyStarts: number[] = [];
  private readonly keyEnds: number[] = [];
  private keys = 0;
  /** Whether the last key read was plain (string(true) leaves it here). */
  private plain = false;
  constructor(private readonly text: string) {}

  private where(): string {
    if (this.path.length === 0) return 'the top-level object';
    return this.path.map((k, i) => {
      if (typeof k === 'number' && k < 0) return `[${-k - 1}]`;
      const key = typeof k === 'number' ? this.text.slice(k, this.text.indexOf('"', k)).slice(0, 64) : k;
      return i === 0 ? key : `.${key}`;
    }).join('');
  }

  private fail(why: string): never {
    throw new NoReading(why);
  }

  space(): void {
    const t = this.text;
    for (;;) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  value(depth: number): void {
    const c = this.text.charCodeAt(this.pos);
    if (c === 0x7b /* { */) this.object(depth + 1);
    else if (c === 0x5b /* [ */) this.array(depth + 1);
    else if (c === 0x22 /* " */) this.string(false);
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) this.number();
    else if (this.text.startsWith('true', this.pos)) this.pos += 4;
    else if (this.text.startsWith('false', this.pos)) this.pos += 5;
    else if (this.text.startsWith('null', this.pos)) this.pos += 4;
    else this.fail('body is not JSON');
  }

  /**
   * Duplicate keys, folded as foldKey does. While an object has few keys, all
   * plain, they are compared in the text (ASCII: foldKey is upper case), with
   * no string made; a key of another kind, or many keys, moves the object to a
   * Map of folded keys (the keys read so far included).
   */
  private object(depth: number): void {
    if (depth > MAX_JSON_DEPTH) this.fail(`body nests deeper than ${MAX_JSON_DEPTH} levels`);
    this.pos++;
    this.space();
    if (this.text.charCodeAt(this.pos) === 0x7d /* } */) {
      this.pos++;
      return;
    }
    const t = this.text;
    const starts = this.keyStarts;
    const ends = this.keyEnds;
    const first = this.keys;
    let seen: Map<string, string> | undefined;
    for (;;) {
      if (t.charCodeAt(this.pos) !== 0x22) this.fail('body is not JSON');
      const start = this.pos + 1;
      const key = this.string(true);
      const end = this.pos - 1;
      if (seen === undefined && this.plain && this.keys - first < FEW_KEYS) {
        for (let k = first; k < this.keys; k++) {
          const s = starts[k] ?? 0;
          const e = ends[k] ?? 0;
          if (e - s === end - start && asciiFoldEqual(t, s, start, end - start)) this.duplicate(t.slice(start, end), t.slice(s, e));
        }
        starts[this.keys] = start;
        ends[this.keys] = end;
        this.keys++;
        this.path.push(start);
      } else {
        if (seen === undefined) {
          seen = new Map();
          for (let k = first; k < this.keys; k++) {
            const before = t.slice(starts[k], ends[k]);
            seen.set(foldKey(before), before);
          }
        }
        const decoded = this.plain ? t.slice(start, end) : key;
        const folded = foldKey(decoded);
        const before = seen.get(folded);
        if (before !== undefined) this.duplicate(decoded, before);
        seen.set(folded, decoded);
        this.path.push(decoded.slice(0, 64));
      }
      this.space();
      if (t.charCodeAt(this.pos) !== 0x3a /* : */) this.fail('body is not JSON');
      this.pos++;
      this.space();
      this.value(depth);
      this.path.pop();
      this.space();
      const c = t.charCodeAt(this.pos++);
      if (c === 0x7d) {
        this.keys = first;
        return;
      }
      if (c !== 0x2c /* , */) this.fail('body is not JSON');
      this.space();
    }
  }

  private duplicate(key: string, before: string): never {
    const how = before === key ? '' : ' (case-insensitively)';
    return this.fail(`body has duplicate key ${JSON.stringify(key.slice(0, 64))}${how} in ${this.where()}`);
  }

  private array(depth: number): void {
    if (depth > MAX_JSON_DEPTH) this.fail(`body nests deeper than ${MAX_JSON_DEPTH} levels`);
    this.pos++;
    this.space();
    if (this.text.charCodeAt(this.pos) === 0x5d /* ] */) {
      this.pos++;
      return;
    }
    for (let i = 0; ; i++) {
      this.path.push(-i - 1);
      this.value(depth);
      this.path.pop();
      this.space();
      const c = this.text.charCodeAt(this.pos++);
      if (c === 0x5d) return;
      if (c !== 0x2c) this.fail('body is not JSON');
      this.space();
    }
  }

  /**
   * A string at pos. With `key`: its decoded text when it has an escape or a
   * character beyond ASCII, else '' and `plain` set (the text between the
   * quotes is the key). Without: ''.
   */
  private string(key: boolean): string {
    const t = this.text;
    let p = this.pos + 1;
    let out = '';
    let run = p;
    let plain = true;
    for (;;) {
      const c = t.charCodeAt(p);
      if (Number.isNaN(c) || c < 0x20) this.fail('body is not JSON');
      if (c === 0x22) break;
      if (c < 0x7f && c !== 0x5c) {
        p++;
        continue;
      }
      plain = false;
      if (c >= 0xd800 && c <= 0xdfff) {
        // Raw surrogates: only a whole pair (a string from UTF-8 has no others).
        const next = t.charCodeAt(p + 1);
        if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) this.fail('body has a lone surrogate');
        p += 2;
        continue;
      }
      if (c !== 0x5c /* \ */) {
        p++;
        continue;
      }
      if (key) out += t.slice(run, p);
      const e = t.charCodeAt(p + 1);
      if (e === 0x75 /* u */) {
        const unit = hex4(t, p + 2);
        if (unit < 0) this.fail('body is not JSON');
        p += 6;
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = t.charCodeAt(p) === 0x5c && t.charCodeAt(p + 1) === 0x75 ? hex4(t, p + 2) : -1;
          if (!(low >= 0xdc00 && low <= 0xdfff)) this.fail('body has a lone surrogate escape (\\ud800-\\udbff without a low surrogate)');
          p += 6;
          if (key) out += String.fromCharCode(unit, low);
        } else if (unit >= 0xdc00 && unit <= 0xdfff) {
          this.fail('body has a lone surrogate escape (\\udc00-\\udfff without a high surrogate)');
        } else if (key) {
          out += String.fromCharCode(unit);
        }
      } else {
        const ch = ESCAPES.get(e);
        if (ch === undefined) this.fail('body is not JSON');
        if (key) out += ch;
        p += 2;
      }
      run = p;
    }
    this.pos = p + 1;
    this.plain = plain;
    return key && !plain ? out + t.slice(run, p) : '';
  }

  private number(): void {
    NUMBER.lastIndex = this.pos;
    if (!NUMBER.test(this.text)) this.fail('body is not JSON');
    this.pos = NUMBER.lastIndex;
  }
}

/** Do the `length` characters at `a` and at `b` match ignoring ASCII case? (Both plain: ASCII.) */
function asciiFoldEqual(t: string, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) {
    const x = t.charCodeAt(a + i);
    const y = t.charCodeAt(b + i);
    if (x === y) continue;
    const lx = x | 0x20;
    if (lx !== (y | 0x20) || lx < 0x61 || lx > 0x7a) return false;
  }
  return true;
}

const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const ESCAPES = new Map<number, string>([
  [0x22, '"'], [0x5c, '\\'], [0x2f, '/'], [0x62, '\b'], [0x66, '\f'], [0x6e, '\n'], [0x72, '\r'], [0x74, '\t'],
]);

function hex4(t: string, at: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const c = t.charCodeAt(at + i);
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}
