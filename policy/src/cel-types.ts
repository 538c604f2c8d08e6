// CEL types as the condition checker sees them: primitives, dyn, list(T),
// map(K, V), and the declared variables (request, mcp, agent) as records with
// known fields. Assignability follows cel-go: dyn goes anywhere and takes
// anything, so type errors that involve request data (dyn) surface only at
// evaluation, as DESIGN.md point 2 says.
import type { CelType } from '@bufbuild/cel';

export type PrimitiveName = 'int' | 'uint' | 'double' | 'bool' | 'string' | 'bytes' | 'null_type' | 'timestamp' | 'duration' | 'type';

export type CelT =
  | { readonly kind: 'primitive'; readonly name: PrimitiveName }
  | { readonly kind: 'dyn' }
  | { readonly kind: 'list'; readonly elem: CelT }
  | { readonly kind: 'map'; readonly key: CelT; readonly value: CelT }
  | { readonly kind: 'record'; readonly name: string; readonly fields: Readonly<Record<string, CelT>> };

function primitive(name: PrimitiveName): CelT {
  return { kind: 'primitive', name };
}

export const T = {
  int: primitive('int'), uint: primitive('uint'), double: primitive('double'), bool: primitive('bool'),
  string: primitive('string'), bytes: primitive('bytes'), null: primitive('null_type'),
  timestamp: primitive('timestamp'), duration: primitive('duration'), type: primitive('type'),
  dyn: { kind: 'dyn' } as CelT,
  list: (elem: CelT): CelT => ({ kind: 'list', elem }),
  map: (key: CelT, value: CelT): CelT => ({ kind: 'map', key, value }),
} as const;

const NUMERIC: ReadonlySet<string> = new Set(['int', 'uint', 'double']);

export function formatType(t: CelT): string {
  switch (t.kind) {
    case 'primitive': return t.name;
    case 'dyn': return 'dyn';
    case 'list': return `list(${formatType(t.elem)})`;
    case 'map': return `map(${formatType(t.key)}, ${formatType(t.value)})`;
    case 'record': return t.name;
  }
}

export function isDyn(t: CelT): boolean {
  return t.kind === 'dyn';
}

export function sameType(a: CelT, b: CelT): boolean {
  return formatType(a) === formatType(b);
}

/** Whether a value of type `actual` may be passed where `param` is declared. */
export function assignable(param: CelT, actual: CelT): boolean {
  if (param.kind === 'dyn' || actual.kind === 'dyn') return true;
  switch (param.kind) {
    case 'primitive': return actual.kind === 'primitive' && actual.name === param.name;
    case 'list': return actual.kind === 'list' && assignable(param.elem, actual.elem);
    // A declared variable used as a whole reads as a map of its fields.
    case 'map': return (actual.kind === 'map' && assignable(param.key, actual.key) && assignable(param.value, actual.value))
      || (actual.kind === 'record' && assignable(param.key, T.string));
    case 'record': return actual.kind === 'record' && actual.name === param.name;
  }
}

/**
 * Whether `==` between the two can ever be true. Numbers compare across int,
 * uint and double and null compares with anything (CEL's heterogeneous
 * equality at run time); `request.port == '443'` is always false and rejected.
 */
export function comparable(a: CelT, b: CelT): boolean {
  if (a.kind === 'dyn' || b.kind === 'dyn') return true;
  if (a.kind === 'primitive' && b.kind === 'primitive') {
    return a.name === b.name || a.name === 'null_type' || b.name === 'null_type' || (NUMERIC.has(a.name) && NUMERIC.has(b.name));
  }
  if (a.kind === 'primitive' && a.name === 'null_type') return true;
  if (b.kind === 'primitive' && b.name === 'null_type') return true;
  if (a.kind === 'list' && b.kind === 'list') return comparable(a.elem, b.elem);
  if (a.kind === 'map' && b.kind === 'map') return comparable(a.key, b.key) && comparable(a.value, b.value);
  if (a.kind === 'record' || b.kind === 'record') return (a.kind === 'record' || a.kind === 'map') && (b.kind === 'record' || b.kind === 'map');
  return false;
}

/** The checker's type for a type of the @bufbuild/cel function table. */
export function fromLibraryType(t: CelType): CelT {
  switch (t.kind) {
    case 'list': return T.list(fromLibraryType(t.element));
    case 'map': return T.map(fromLibraryType(t.key), fromLibraryType(t.value));
    case 'object':
      if (t.name === 'google.protobuf.Timestamp') return T.timestamp;
      if (t.name === 'google.protobuf.Duration') return T.duration;
      return T.dyn;
    case 'scalar':
      return t.scalar === 'dyn' ? T.dyn : primitive(t.scalar);
  }
}
