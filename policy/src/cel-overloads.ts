// Overload resolution for the condition checker. The signatures come from the
// function table of @bufbuild/cel itself (standard library and the strings
// extension), so the checker accepts exactly the calls the evaluator can run;
// the operators the planner treats specially (&&, ||, ?:, [], in, ==) are
// typed here.
import { celEnv } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { assignable, comparable, formatType, fromLibraryType, isDyn, sameType, T, type CelT } from './cel-types.js';

interface Overload {
  readonly target: CelT | undefined;
  readonly args: readonly CelT[];
  readonly result: CelT;
}

let table: ReadonlyMap<string, readonly Overload[]> | undefined;

function overloads(): ReadonlyMap<string, readonly Overload[]> {
  if (table !== undefined) return table;
  const built = new Map<string, Overload[]>();
  for (const f of celEnv({ funcs: strings }).funcs) {
    const list = built.get(f.name) ?? [];
    list.push({ target: f.target === undefined ? undefined : fromLibraryType(f.target), args: f.arguments.map(fromLibraryType), result: fromLibraryType(f.result) });
    built.set(f.name, list);
  }
  table = built;
  return built;
}

export function isFunction(name: string): boolean {
  return overloads().has(name) || SPECIAL.has(name);
}

/** The type of a call, or a message saying why no overload takes these arguments. */
export function resolveCall(name: string, target: CelT | undefined, args: readonly CelT[]): CelT | string {
  const special = SPECIAL.get(name);
  if (special !== undefined) return special(args) ?? noOverload(name, target, args);
  const candidates = overloads().get(name);
  if (candidates === undefined) return `undeclared reference to function '${name}'`;
  const matching = candidates.filter((o) => (o.target === undefined) === (target === undefined)
    && (o.target === undefined || target === undefined || assignable(o.target, target))
    && o.args.length === args.length && o.args.every((p, i) => assignable(p, args[i] ?? T.dyn)));
  const first = matching[0];
  if (first === undefined) return noOverload(name, target, args);
  if (name === '_+_' && args[0]?.kind === 'list' && args[1]?.kind === 'list') {
    return sameType(args[0], args[1]) ? args[0] : T.list(T.dyn);
  }
  return matching.every((o) => sameType(o.result, first.result)) ? first.result : T.dyn;
}

function noOverload(name: string, target: CelT | undefined, args: readonly CelT[]): string {
  const on = target === undefined ? '' : `${formatType(target)}.`;
  return `found no matching overload for '${name}' applied to '${on}(${args.map(formatType).join(', ')})'`;
}

function isBoolish(t: CelT | undefined): boolean {
  return t !== undefined && (isDyn(t) || sameType(t, T.bool));
}

type Special = (args: readonly CelT[]) => CelT | undefined;

const equality: Special = ([a, b]) => (a !== undefined && b !== undefined && comparable(a, b) ? T.bool : undefined);

const SPECIAL: ReadonlyMap<string, Special> = new Map<string, Special>([
  ['_&&_', (args) => (args.every(isBoolish) ? T.bool : undefined)],
  ['_||_', (args) => (args.every(isBoolish) ? T.bool : undefined)],
  ['@not_strictly_false', () => T.bool],
  ['_==_', equality],
  ['_!=_', equality],
  ['_?_:_', ([c, a, b]) => {
    if (!isBoolish(c) || a === undefined || b === undefined) return undefined;
    if (sameType(a, b)) return a;
    if (sameType(a, T.null)) return b;
    if (sameType(b, T.null)) return a;
    return comparable(a, b) ? T.dyn : undefined;
  }],
  ['@in', ([x, range]) => {
    if (x === undefined || range === undefined) return undefined;
    switch (range.kind) {
      case 'dyn': return T.bool;
      case 'list': return comparable(x, range.elem) ? T.bool : undefined;
      case 'map': return comparable(x, range.key) ? T.bool : undefined;
      case 'record': return comparable(x, T.string) ? T.bool : undefined;
      default: return undefined;
    }
  }],
  ['_[_]', ([operand, index]) => {
    if (operand === undefined || index === undefined) return undefined;
    switch (operand.kind) {
      case 'dyn': return T.dyn;
      case 'list': return [T.int, T.uint, T.dyn].some((t) => sameType(t, index)) ? operand.elem : undefined;
      case 'map': return assignable(operand.key, index) ? operand.value : undefined;
      case 'record': return assignable(T.string, index) ? T.dyn : undefined;
      default: return undefined;
    }
  }],
]);
