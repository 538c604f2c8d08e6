// The type checker of `when` conditions, over the parsed AST of @bufbuild/cel
// (0.6.1 ships an unfinished checker that it does not export and that rejects
// calls and selections). References, fields, overloads and the result type are
// checked against DESIGN.md's environment (cel-environment.ts); request data is
// dyn, so errors that involve it are left to evaluation, as cel-go does.
import type { Expr, Expr_Comprehension } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { TYPE_IDENTIFIERS, VARIABLES } from './cel-environment.js';
import { isFunction, resolveCall } from './cel-overloads.js';
import { assignable, formatType, isDyn, sameType, T, type CelT } from './cel-types.js';

export interface TypeChecked {
  readonly type: CelT;
  /**
   * What the expression reads: top-level variables ("request"), their fields
   * ("request.body"), and "<var>.*" when a variable is used as a whole.
   */
  readonly uses: ReadonlySet<string>;
  /** The type of every subexpression, by expression id. */
  readonly types: ReadonlyMap<bigint, CelT>;
}

export class CelTypeError extends Error {}

type Scope = ReadonlyMap<string, CelT>;

/** The type of `expr`; throws CelTypeError naming the first problem. */
export function typeCheck(expr: Expr): TypeChecked {
  const checker = new Checker();
  const type = checker.check(expr, new Map());
  return { type, uses: checker.uses, types: checker.types };
}

class Checker {
  readonly uses = new Set<string>();
  readonly types = new Map<bigint, CelT>();

  check(expr: Expr | undefined, scope: Scope): CelT {
    if (expr === undefined) throw new CelTypeError('malformed expression');
    const type = this.typeOf(expr, scope);
    this.types.set(expr.id, type);
    return type;
  }

  private typeOf(expr: Expr, scope: Scope): CelT {
    const k = expr.exprKind;
    switch (k.case) {
      case 'constExpr':
        switch (k.value.constantKind.case) {
          case 'boolValue': return T.bool;
          case 'stringValue': return T.string;
          case 'int64Value': return T.int;
          case 'uint64Value': return T.uint;
          case 'doubleValue': return T.double;
          case 'bytesValue': return T.bytes;
          case 'nullValue': return T.null;
          default: return T.dyn;
        }
      case 'identExpr': return this.ident(k.value.name, scope);
      case 'selectExpr': return this.select(k.value.operand, k.value.field, k.value.testOnly, scope);
      case 'callExpr': return this.call(k.value.function, k.value.target, k.value.args, scope);
      case 'listExpr': return T.list(this.common(k.value.elements.map((e) => this.check(e, scope))));
      case 'structExpr': {
        if (k.value.messageName !== '') throw new CelTypeError(`undeclared message type '${k.value.messageName}'`);
        const keys: CelT[] = [];
        const values: CelT[] = [];
        for (const e of k.value.entries) {
          if (e.keyKind.case === 'mapKey') keys.push(this.check(e.keyKind.value, scope));
          values.push(this.check(e.value, scope));
        }
        return T.map(this.common(keys), this.common(values));
      }
      case 'comprehensionExpr': return this.comprehension(k.value, scope);
      default: throw new CelTypeError('unsupported expression');
    }
  }

  /** The element type of a literal: the one type all share, else dyn. */
  private common(types: readonly CelT[]): CelT {
    const first = types[0];
    return first !== undefined && types.every((t) => sameType(t, first)) ? first : T.dyn;
  }

  private ident(name: string, scope: Scope): CelT {
    const local = scope.get(name);
    if (local !== undefined) return local;
    const declared = VARIABLES[name];
    if (declared !== undefined) {
      this.uses.add(name);
      this.uses.add(`${name}.*`);
      return declared;
    }
    if (TYPE_IDENTIFIERS.has(name)) return T.type;
    throw new CelTypeError(`undeclared reference to '${name}' (declared: ${Object.keys(VARIABLES).join(', ')})`);
  }

  private select(operand: Expr | undefined, field: string, testOnly: boolean, scope: Scope): CelT {
    if (operand?.exprKind.case === 'identExpr' && !scope.has(operand.exprKind.value.name)) {
      const root = operand.exprKind.value.name;
      const declared = VARIABLES[root];
      if (declared?.kind === 'record') {
        this.uses.add(root);
        this.uses.add(`${root}.${field}`);
        const f = declared.fields[field];
        if (f === undefined) throw new CelTypeError(`undeclared reference to '${root}.${field}' (${root} has ${Object.keys(declared.fields).join(', ')})`);
        return testOnly ? T.bool : f;
      }
    }
    const base = this.check(operand, scope);
    let type: CelT;
    if (isDyn(base)) type = T.dyn;
    else if (base.kind === 'map' && assignable(base.key, T.string)) type = base.value;
    else if (base.kind === 'record' && base.fields[field] !== undefined) type = base.fields[field];
    else throw new CelTypeError(`type '${formatType(base)}' has no field '${field}'`);
    return testOnly ? T.bool : type;
  }

  private call(fn: string, target: Expr | undefined, args: readonly Expr[], scope: Scope): CelT {
    // A namespaced function such as strings.quote(s) parses as a method on an identifier.
    const namespace = target?.exprKind.case === 'identExpr' ? target.exprKind.value.name : undefined;
    if (namespace !== undefined && !scope.has(namespace) && VARIABLES[namespace] === undefined && isFunction(`${namespace}.${fn}`)) {
      return this.resolved(`${namespace}.${fn}`, undefined, args.map((a) => this.check(a, scope)));
    }
    if (!isFunction(fn)) throw new CelTypeError(`undeclared reference to function '${fn}'`);
    const targetType = target === undefined ? undefined : this.check(target, scope);
    return this.resolved(fn, targetType, args.map((a) => this.check(a, scope)));
  }

  private resolved(fn: string, target: CelT | undefined, args: readonly CelT[]): CelT {
    const type = resolveCall(fn, target, args);
    if (typeof type === 'string') throw new CelTypeError(type);
    return type;
  }

  private comprehension(c: Expr_Comprehension, scope: Scope): CelT {
    const range = this.check(c.iterRange, scope);
    const [first, second] = iterationTypes(range, c.iterVar2 !== '');
    const accuInit = this.check(c.accuInit, scope);
    const inner = new Map(scope);
    inner.set(c.iterVar, first);
    if (c.iterVar2 !== '') inner.set(c.iterVar2, second);
    inner.set(c.accuVar, accuInit);
    const condition = this.check(c.loopCondition, inner);
    if (!isDyn(condition) && !sameType(condition, T.bool)) throw new CelTypeError(`a comprehension's condition must be a bool, not ${formatType(condition)}`);
    const step = this.check(c.loopStep, inner);
    // map() starts from [] (list(dyn)) and its step says what the list holds.
    if (!sameType(step, accuInit) && assignable(accuInit, step)) inner.set(c.accuVar, step);
    return this.check(c.result, inner);
  }
}

/** The types of a comprehension's variables over `range`: list elements, or map keys and values. */
function iterationTypes(range: CelT, twoVariables: boolean): [CelT, CelT] {
  switch (range.kind) {
    case 'dyn': return [T.dyn, T.dyn];
    case 'list': return twoVariables ? [T.int, range.elem] : [range.elem, T.dyn];
    case 'map': return [range.key, range.value];
    case 'record': return [T.string, T.dyn];
    default: throw new CelTypeError(`expression of type '${formatType(range)}' cannot be the range of a comprehension (must be list, map, or dyn)`);
  }
}
