// CEL conditions (`when`): the environment of DESIGN.md, a reference and type
// checker, and planning once per snapshot load.
//
// @bufbuild/cel 0.6.1 parses and evaluates the full language but its type
// checker is unfinished (it is not exported and rejects call and select
// expressions), so references, fields, functions and the result type are
// checked here against the declared environment, on the parsed AST.
import { celEnv, parse, plan, isCelError, type CelEnv, type CelResult } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { RE2JS } from '@bufbuild/re2';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';

type CelKind = 'bool' | 'string' | 'int' | 'double' | 'map' | 'list' | 'timestamp' | 'dyn';

/** The declared variables: request.*, mcp.*, agent.*, now. */
const ENVIRONMENT: Readonly<Record<string, CelKind | Readonly<Record<string, CelKind>>>> = {
  request: { method: 'string', host: 'string', port: 'int', path: 'string', query: 'map', headers: 'map', params: 'map', body: 'dyn' },
  mcp: { method: 'string', tool: 'string', arguments: 'map' },
  agent: { namespace: 'string', name: 'string', serviceAccount: 'string', labels: 'map' },
  now: 'timestamp',
};

const TYPE_IDENTIFIERS = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn', 'timestamp', 'duration']);
const SPECIAL_FUNCTIONS = new Set(['_&&_', '_||_', '_?_:_', '_[_]', '@not_strictly_false', 'not_strictly_false']);
const BOOL_FUNCTIONS = new Set(['_&&_', '_||_', '!_', '_==_', '_!=_', '_<_', '_<=_', '_>_', '_>=_', '@in', 'contains', 'endsWith', 'startsWith', 'matches', '@not_strictly_false', 'bool']);

const MAX_REGEX_CACHE = 256;

/**
 * RE2 with compiled patterns cached: @bufbuild/cel compiles the pattern of
 * `matches` on every call otherwise. Bounded, since a pattern may be built from
 * request data.
 */
const cachingRe2 = {
  cache: new Map<string, RE2JS>(),
  compile(pattern: string): { test(text: string): boolean } {
    let re = this.cache.get(pattern);
    if (re === undefined) {
      re = RE2JS.compile(pattern);
      if (this.cache.size >= MAX_REGEX_CACHE) this.cache.clear();
      this.cache.set(pattern, re);
    }
    const compiled = re;
    return { test: (text: string): boolean => compiled.test(text) };
  },
};

let sharedEnv: CelEnv | undefined;
function environment(): CelEnv {
  sharedEnv ??= celEnv({ funcs: strings, re2: cachingRe2 });
  return sharedEnv;
}

let knownFunctions: Set<string> | undefined;
function functions(): Set<string> {
  if (knownFunctions === undefined) {
    knownFunctions = new Set(SPECIAL_FUNCTIONS);
    for (const f of environment().funcs) knownFunctions.add(f.name);
  }
  return knownFunctions;
}

export interface CheckedCondition {
  readonly source: string;
  /**
   * What the expression reads: top-level variables ("request"), their fields
   * ("request.body"), and "<var>.*" when a variable is used as a whole.
   */
  readonly uses: ReadonlySet<string>;
}

/** Parses and checks `source`; returns the problem as a message when it is not a valid condition. */
export function checkCondition(source: string): CheckedCondition | string {
  let expr: Expr | undefined;
  try {
    expr = parse(source).expr;
  } catch (e: unknown) {
    return `syntax error: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (expr === undefined) return 'empty expression';
  const uses = new Set<string>();
  try {
    const kind = new Checker(uses).kind(expr, new Set());
    if (kind !== 'bool' && kind !== 'dyn') return `must evaluate to a bool, but evaluates to ${kind}`;
  } catch (e: unknown) {
    return e instanceof CheckError ? e.message : `check failed: ${String(e)}`;
  }
  return { source, uses };
}

class CheckError extends Error {}

class Checker {
  constructor(private readonly uses: Set<string>) {}

  kind(expr: Expr, scope: ReadonlySet<string>): CelKind {
    const k = expr.exprKind;
    switch (k.case) {
      case 'constExpr':
        switch (k.value.constantKind.case) {
          case 'boolValue': return 'bool';
          case 'stringValue': return 'string';
          case 'int64Value': case 'uint64Value': return 'int';
          case 'doubleValue': return 'double';
          default: return 'dyn';
        }
      case 'identExpr': return this.ident(k.value.name, scope);
      case 'selectExpr': {
        const operand = k.value.operand;
        if (operand === undefined) throw new CheckError('malformed select');
        const field = k.value.field;
        if (operand.exprKind.case === 'identExpr' && !scope.has(operand.exprKind.value.name)) {
          const root = operand.exprKind.value.name;
          const decl = ENVIRONMENT[root];
          if (decl !== undefined && typeof decl === 'object') {
            this.uses.add(root);
            this.uses.add(`${root}.${field}`);
            const f = decl[field];
            if (f === undefined) throw new CheckError(`undeclared reference to '${root}.${field}' (${root} has ${Object.keys(decl).join(', ')})`);
            return k.value.testOnly ? 'bool' : f;
          }
        }
        const base = this.kind(operand, scope);
        if (base !== 'map' && base !== 'dyn') throw new CheckError(`type '${base}' has no field '${field}'`);
        return k.value.testOnly ? 'bool' : 'dyn';
      }
      case 'callExpr': {
        const fn = k.value.function;
        if (!functions().has(fn)) throw new CheckError(`undeclared reference to function '${fn}'`);
        const kinds = k.value.args.map((a) => this.kind(a, scope));
        if (k.value.target !== undefined) this.kind(k.value.target, scope);
        if (BOOL_FUNCTIONS.has(fn)) return 'bool';
        if (fn === 'size' || fn === 'int' || fn === 'indexOf' || fn === 'lastIndexOf') return 'int';
        if (fn === '_?_:_') return kinds[1] === kinds[2] ? (kinds[1] ?? 'dyn') : 'dyn';
        if (fn === 'string' || fn === 'lowerAscii' || fn === 'upperAscii' || fn === 'trim' || fn === 'replace' || fn === 'substring' || fn === 'charAt' || fn === 'format' || fn === 'join') return 'string';
        if (fn === '_+_' || fn === '_-_' || fn === '_*_' || fn === '_/_' || fn === '_%_') return kinds[0] === kinds[1] ? (kinds[0] ?? 'dyn') : 'dyn';
        return 'dyn';
      }
      case 'listExpr':
        for (const e of k.value.elements) this.kind(e, scope);
        return 'list';
      case 'structExpr':
        for (const e of k.value.entries) {
          if (e.keyKind.case === 'mapKey') this.kind(e.keyKind.value, scope);
          if (e.value !== undefined) this.kind(e.value, scope);
        }
        if (k.value.messageName !== '') throw new CheckError(`undeclared message type '${k.value.messageName}'`);
        return 'map';
      case 'comprehensionExpr': {
        const c = k.value;
        if (c.iterRange !== undefined) this.kind(c.iterRange, scope);
        if (c.accuInit !== undefined) this.kind(c.accuInit, scope);
        const inner = new Set(scope);
        inner.add(c.iterVar);
        if (c.iterVar2 !== '') inner.add(c.iterVar2);
        inner.add(c.accuVar);
        if (c.loopCondition !== undefined) this.kind(c.loopCondition, inner);
        if (c.loopStep !== undefined) this.kind(c.loopStep, inner);
        return c.result === undefined ? 'dyn' : this.kind(c.result, inner);
      }
      default:
        throw new CheckError('unsupported expression');
    }
  }

  private ident(name: string, scope: ReadonlySet<string>): CelKind {
    if (scope.has(name)) return 'dyn';
    const decl = ENVIRONMENT[name];
    if (decl !== undefined) {
      this.uses.add(name);
      this.uses.add(`${name}.*`);
      return typeof decl === 'string' ? decl : 'map';
    }
    if (TYPE_IDENTIFIERS.has(name)) return 'dyn';
    throw new CheckError(`undeclared reference to '${name}' (declared: ${Object.keys(ENVIRONMENT).join(', ')})`);
  }
}

/** The CEL bindings of one request. */
export interface CelBindings {
  readonly request: Readonly<Record<string, unknown>>;
  readonly mcp: Readonly<Record<string, unknown>>;
  readonly agent: Readonly<Record<string, unknown>>;
  readonly now: unknown;
}

export type ConditionResult = { readonly ok: true; readonly value: boolean } | { readonly ok: false; readonly error: string };

export type PlannedCondition = (bindings: CelBindings) => ConditionResult;

/** Plans a condition once (at snapshot load); the result is called per request. */
export function planCondition(source: string): PlannedCondition {
  const parsed = parse(source);
  const run = plan(environment(), parsed) as (ctx: Record<string, unknown>) => CelResult;
  return (bindings) => {
    let result: CelResult;
    try {
      result = run(bindings as unknown as Record<string, unknown>);
    } catch (e: unknown) {
      return { ok: false, error: describeCelError(e instanceof Error ? e.message : String(e)) };
    }
    if (isCelError(result)) return { ok: false, error: describeCelError(result.message) };
    if (typeof result !== 'boolean') return { ok: false, error: `evaluated to ${typeof result}, not bool` };
    return { ok: true, value: result };
  };
}

/**
 * The kind of a CEL evaluation error, without its text: messages such as
 * "Cannot convert <value> to a BigInt" quote request data, and reasons end up
 * in audit spans and logs, which must never carry bodies or header values.
 */
export function describeCelError(message: string): string {
  const m = message.toLowerCase();
  if (m.includes('no such key') || m.includes('field not found') || m.includes('no such field')) return 'a key or field is missing';
  if (m.includes('no matching overload') || m.includes('unsupported') || m.includes('type')) return 'a value has the wrong type';
  if (m.includes('convert') || m.includes('parse')) return 'a value cannot be converted';
  if (m.includes('division') || m.includes('modulus')) return 'division by zero';
  if (m.includes('overflow') || m.includes('range')) return 'a number is out of range';
  if (m.includes('index')) return 'an index is out of range';
  return 'an evaluation error';
}
