// Typed, path-aware reads from untrusted decoded YAML/JSON. Every failure is
// recorded with its field path; the caller gets a safe fallback value.
import type { Problems } from './errors.js';

export type Plain = Record<string, unknown>;

export function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

export class FieldReader {
  constructor(
    private readonly problems: Problems,
    readonly path: string,
    private readonly value: Plain,
  ) {}

  static of(problems: Problems, path: string, value: unknown): FieldReader | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isPlain(value)) {
      problems.add(path, 'must be an object');
      return undefined;
    }
    return new FieldReader(problems, path, value);
  }

  /** Records a problem at `field` (a full path). */
  report(field: string, message: string): void {
    this.problems.add(field, message);
  }

  /** A reader for a nested value (a list item) that reports into the same sink. */
  reader(path: string, value: unknown): FieldReader | undefined {
    return FieldReader.of(this.problems, path, value);
  }

  /** The value at `key` as decoded, unchecked (preserve-unknown-fields such as MCP arguments). */
  raw(key: string): unknown {
    return this.value[key];
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  /** Reports fields this reader does not know, as the API server's strict decoding would. */
  rejectUnknown(known: readonly string[]): void {
    for (const key of Object.keys(this.value)) {
      if (!known.includes(key)) this.problems.add(child(this.path, key), 'unknown field');
    }
  }

  object(key: string, required = false): FieldReader | undefined {
    const at = child(this.path, key);
    const value = this.value[key];
    if ((value === undefined || value === null) && required) {
      this.problems.add(at, 'required');
      return undefined;
    }
    return FieldReader.of(this.problems, at, value);
  }

  string(key: string, opts: { required?: boolean; maxLength?: number; pattern?: RegExp; patternHint?: string; default?: string } = {}): string | undefined {
    const at = child(this.path, key);
    const value = this.value[key];
    if (value === undefined || value === null) {
      if (opts.required === true) this.problems.add(at, 'required');
      return opts.default;
    }
    if (typeof value !== 'string') {
      this.problems.add(at, `must be a string, got ${describe(value)}`);
      return opts.default;
    }
    return checkString(this.problems, at, value, opts) ? value : opts.default;
  }

  enumString<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(key);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.add(child(this.path, key), `must be one of ${allowed.join(', ')}, got "${value}"`);
      return fallback;
    }
    return value as T;
  }

  boolean(key: string): boolean | undefined {
    const value = this.value[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.problems.add(child(this.path, key), `must be true or false, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  integer(key: string, opts: { required?: boolean; min: number; max: number }): number | undefined {
    const at = child(this.path, key);
    const value = this.value[key];
    if (value === undefined || value === null) {
      if (opts.required === true) this.problems.add(at, 'required');
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.problems.add(at, `must be an integer, got ${describe(value)}`);
      return undefined;
    }
    if (value < opts.min || value > opts.max) {
      this.problems.add(at, `must be between ${opts.min} and ${opts.max}, got ${value}`);
      return undefined;
    }
    return value;
  }

  /** A list whose items are handed to `item`; reports bounds and type problems. */
  list<T>(key: string, opts: { required?: boolean; min?: number; max: number }, item: (value: unknown, path: string) => T | undefined): T[] {
    const at = child(this.path, key);
    const value = this.value[key];
    if (value === undefined || value === null) {
      if (opts.required === true) this.problems.add(at, 'required');
      return [];
    }
    if (!Array.isArray(value)) {
      this.problems.add(at, `must be a list, got ${describe(value)}`);
      return [];
    }
    if (opts.min !== undefined && value.length < opts.min) this.problems.add(at, `must have at least ${opts.min} item(s)`);
    if (value.length > opts.max) {
      this.problems.add(at, `must have at most ${opts.max} items, got ${value.length}`);
      return [];
    }
    const out: T[] = [];
    value.forEach((v: unknown, i) => {
      const parsed = item(v, child(at, i));
      if (parsed !== undefined) out.push(parsed);
    });
    return out;
  }

  /** A list of strings; duplicates are reported when `unique` is set. */
  stringList(key: string, opts: { required?: boolean; min?: number; max: number; maxLength: number; pattern?: RegExp; patternHint?: string; unique?: boolean }): string[] {
    const seen = new Set<string>();
    return this.list(key, opts, (v, path) => {
      if (typeof v !== 'string') {
        this.problems.add(path, `must be a string, got ${describe(v)}`);
        return undefined;
      }
      if (!checkString(this.problems, path, v, opts)) return undefined;
      if (opts.unique === true) {
        if (seen.has(v)) this.problems.add(path, `duplicate value "${v}"`);
        seen.add(v);
      }
      return v;
    });
  }

  stringMap(key: string, opts: { maxLength: number }): Record<string, string> {
    const at = child(this.path, key);
    const value = this.value[key];
    if (value === undefined || value === null) return {};
    if (!isPlain(value)) {
      this.problems.add(at, `must be a map of strings, got ${describe(value)}`);
      return {};
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') {
        this.problems.add(child(at, k), `must be a string, got ${describe(v)}`);
        continue;
      }
      if (v.length > opts.maxLength) this.problems.add(child(at, k), `must be at most ${opts.maxLength} characters`);
      out[k] = v;
    }
    return out;
  }
}

function checkString(problems: Problems, at: string, value: string, opts: { maxLength?: number; pattern?: RegExp; patternHint?: string }): boolean {
  if (opts.maxLength !== undefined && value.length > opts.maxLength) {
    problems.add(at, `must be at most ${opts.maxLength} characters, got ${value.length}`);
    return false;
  }
  if (opts.pattern !== undefined && !opts.pattern.test(value)) {
    problems.add(at, `"${truncate(value)}" is not ${opts.patternHint ?? `matching ${String(opts.pattern)}`}`);
    return false;
  }
  return true;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${truncate(JSON.stringify(value))}`;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
