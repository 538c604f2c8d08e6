// RFC 6902 JSON Patch from an original object to a changed one (pure), as a
// mutating webhook answers. Objects are diffed key by key; arrays of the same
// length element by element, other arrays are replaced whole (the patch
// applies to exactly the object the webhook was sent).
import { isJsonObject, jsonEqual, type JsonValue } from './json.js';

export type JsonPatchOperation =
  | { readonly op: 'add'; readonly path: string; readonly value: JsonValue }
  | { readonly op: 'replace'; readonly path: string; readonly value: JsonValue }
  | { readonly op: 'remove'; readonly path: string };

/** JSON Pointer escaping of one reference token (RFC 6901). */
export function pointerToken(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

export function patchFor(original: unknown, changed: unknown): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  diff(toJson(original), toJson(changed), '', ops);
  return ops;
}

/** Drops undefined and other non-JSON values, as JSON.stringify would. */
function toJson(value: unknown): JsonValue {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as JsonValue);
}

function diff(a: JsonValue, b: JsonValue, path: string, ops: JsonPatchOperation[]): void {
  if (jsonEqual(a, b)) return;
  if (isJsonObject(a) && isJsonObject(b)) {
    for (const key of Object.keys(a)) {
      if (!Object.hasOwn(b, key)) ops.push({ op: 'remove', path: `${path}/${pointerToken(key)}` });
    }
    for (const [key, value] of Object.entries(b)) {
      const at = `${path}/${pointerToken(key)}`;
      if (Object.hasOwn(a, key)) diff(a[key] ?? null, value, at, ops);
      else ops.push({ op: 'add', path: at, value });
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    b.forEach((value, i) => { diff(a[i] ?? null, value, `${path}/${i}`, ops); });
    return;
  }
  ops.push({ op: 'replace', path, value: b });
}
