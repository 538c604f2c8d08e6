// The estimated cost of a condition, checked when it is compiled, as
// Kubernetes estimates CEL cost at admission. Cost is counted in the runtime
// budget's unit (a node evaluated; the elements of a comprehension's range,
// cel-budget.ts), plus a unit per scan of a string or list, as a polynomial in
// N, the size of the request data
// (body, MCP arguments, headers, query): their length is not bounded by the
// policy, as a schema without maxLength is not in Kubernetes.
//
// Cost linear in N is accepted: the runtime budget bounds it. Cost in N² is
// unbounded and rejected: a comprehension or scan over request data inside a
// comprehension over request data. One exception keeps common conditions
// legal: iterating over a part of the element of an enclosing iteration
// (`items.all(i, i.tags.all(t, ...))`) visits each part of the body once, so
// the inner loop is amortized into the outer one.
import type { Expr, Expr_Comprehension } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { RANGE_ELEMENT_COST } from './cel-budget.js';
import type { CelT } from './cel-types.js';

/** Coefficients by power of N: [constant, linear, quadratic or more]. */
type Cost = readonly [number, number, number];

const ZERO: Cost = [0, 0, 0];
const ONE: Cost = [1, 0, 0];
const LINEAR: Cost = [0, 1, 0];

function add(a: Cost, b: Cost): Cost {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

function times(a: Cost, b: Cost): Cost {
  return [a[0] * b[0], a[0] * b[1] + a[1] * b[0], a[0] * b[2] + a[2] * b[0] + a[1] * b[1] + a[1] * b[2] + a[2] * b[1] + a[2] * b[2]];
}

/**
 * How large a value may be: `small` (a literal or a bounded field; `size` known),
 * `part` (a part of the element of the innermost iteration over request data),
 * `input` (request data), `computed` (built from request data; its elements may overlap).
 */
type Extent = 'small' | 'part' | 'input' | 'computed';

const ORDER: readonly Extent[] = ['small', 'part', 'input', 'computed'];

function join(...extents: Extent[]): Extent {
  return extents.reduce<Extent>((a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a), 'small');
}

interface Estimate {
  readonly cost: Cost;
  readonly extent: Extent;
  /** Elements of a small list or map (literals). */
  readonly size: number;
  /** What iterating over the value yields, for a small one. */
  readonly elements: Extent;
}

/** Iterations assumed over a bounded field that is not a literal (agent.labels, request.params). */
const SMALL_RANGE = 64;

const REQUEST_DATA: ReadonlySet<string> = new Set(['request.body', 'request.headers', 'request.query', 'mcp.arguments']);

/** Functions that read the whole of a string or list they are given. */
const SCANS: ReadonlySet<string> = new Set(['contains', 'matches', 'indexOf', 'lastIndexOf', 'split', 'replace', 'join', 'format', 'lowerAscii', 'upperAscii', 'trim', 'substring', '_+_']);

/** Functions whose result is as large as their inputs. */
const DERIVES: ReadonlySet<string> = new Set(['split', 'replace', 'join', 'format', 'lowerAscii', 'upperAscii', 'trim', 'substring', '_+_', 'string', 'dyn', 'bytes']);

const SMALL: Estimate = { cost: ZERO, extent: 'small', size: 1, elements: 'small' };

type Scope = ReadonlyMap<string, Extent>;

export interface CostEstimate {
  /** The steps taken whatever the request. */
  readonly constant: number;
  /** Whether the cost grows faster than the request's size. */
  readonly unbounded: boolean;
}

export function estimateCost(expr: Expr, types: ReadonlyMap<bigint, CelT>): CostEstimate {
  const cost = new Estimator(types).estimate(expr, new Map()).cost;
  return { constant: cost[0], unbounded: cost[2] > 0 };
}

class Estimator {
  constructor(private readonly types: ReadonlyMap<bigint, CelT>) {}

  estimate(expr: Expr | undefined, scope: Scope): Estimate {
    if (expr === undefined) return SMALL;
    const e = this.node(expr, scope);
    return { ...e, cost: add(e.cost, ONE) };
  }

  private node(expr: Expr, scope: Scope): Estimate {
    const k = expr.exprKind;
    switch (k.case) {
      case 'identExpr': {
        const local = scope.get(k.value.name);
        if (local !== undefined) return { ...SMALL, extent: local, size: SMALL_RANGE, elements: local };
        return k.value.name === 'request' || k.value.name === 'mcp' ? { ...SMALL, extent: 'input' } : SMALL;
      }
      case 'selectExpr': {
        const operand = k.value.operand;
        if (k.value.testOnly) return { ...SMALL, cost: this.estimate(operand, scope).cost };
        if (operand?.exprKind.case === 'identExpr' && !scope.has(operand.exprKind.value.name)) {
          const data = REQUEST_DATA.has(`${operand.exprKind.value.name}.${k.value.field}`);
          return data ? { ...SMALL, extent: 'input' } : { ...SMALL, size: SMALL_RANGE };
        }
        const base = this.estimate(operand, scope);
        return { ...base, size: SMALL_RANGE, elements: base.extent === 'small' ? 'small' : base.elements };
      }
      case 'listExpr':
      case 'structExpr': {
        const parts = k.case === 'listExpr' ? k.value.elements : k.value.entries.flatMap((e) => (e.keyKind.case === 'mapKey' ? [e.keyKind.value, e.value] : [e.value]));
        const estimates = parts.map((p) => this.estimate(p, scope));
        return { cost: estimates.reduce((c, e) => add(c, e.cost), ZERO), extent: 'small', size: estimates.length, elements: join(...estimates.map((e) => e.extent)) };
      }
      case 'callExpr': return this.call(k.value.function, k.value.target, k.value.args, scope);
      case 'comprehensionExpr': return this.comprehension(k.value, scope);
      default: return SMALL;
    }
  }

  private call(fn: string, target: Expr | undefined, args: readonly Expr[], scope: Scope): Estimate {
    const operands = (target === undefined ? args : [target, ...args]).map((a) => ({ expr: a, est: this.estimate(a, scope) }));
    let cost = operands.reduce((c, o) => add(c, o.est.cost), ZERO);
    const scanned = fn === '@in' ? operands.slice(1).filter((o) => !this.isMap(o.expr)) : SCANS.has(fn) ? operands : [];
    for (const o of scanned) cost = add(cost, scanCost(o.est.extent));
    if (fn === '_[_]') {
      const base = operands[0]?.est ?? SMALL;
      return { cost, extent: base.extent === 'small' ? base.elements : base.extent, size: SMALL_RANGE, elements: base.extent === 'small' ? base.elements : 'small' };
    }
    if (fn === '_?_:_') {
      const branches = operands.slice(1).map((o) => o.est);
      return { cost, extent: join(...branches.map((b) => b.extent)), size: Math.max(...branches.map((b) => b.size)), elements: join(...branches.map((b) => b.elements)) };
    }
    if (DERIVES.has(fn)) {
      const extent = join(...operands.map((o) => o.est.extent));
      return { cost, extent: extent === 'input' ? 'computed' : extent, size: operands.reduce((n, o) => n + o.est.size, 0), elements: join(...operands.map((o) => o.est.elements)) };
    }
    return { ...SMALL, cost };
  }

  private isMap(expr: Expr): boolean {
    const t = this.types.get(expr.id);
    return t?.kind === 'map' || t?.kind === 'record';
  }

  private comprehension(c: Expr_Comprehension, scope: Scope): Estimate {
    const range = this.estimate(c.iterRange, scope);
    const init = this.estimate(c.accuInit, scope);
    const element: Extent = range.extent === 'input' || range.extent === 'part' ? 'part' : range.extent === 'computed' ? 'computed' : range.elements;
    // Parts of an outer element are amortized only in the iteration over that element.
    const inner = new Map<string, Extent>();
    for (const [name, extent] of scope) inner.set(name, extent === 'part' ? 'input' : extent);
    inner.set(c.iterVar, element);
    if (c.iterVar2 !== '') inner.set(c.iterVar2, element);
    // Appending to the accumulator (map, filter) is taken as constant, as in cel-go; the
    // runtime budget charges what it costs @bufbuild/cel.
    inner.set(c.accuVar, 'small');
    const body = add(ONE, add(this.estimate(c.loopCondition, inner).cost, this.estimate(c.loopStep, inner).cost));
    const iterations: Cost = range.extent === 'small' ? [range.size, 0, 0] : range.extent === 'part' ? ONE : LINEAR;
    // The range is converted before the first iteration, then iterated.
    const cost = add(add(range.cost, init.cost), add(times(iterations, add([RANGE_ELEMENT_COST, 0, 0], body)), this.estimate(c.result, inner).cost));
    const buildsList = c.accuInit?.exprKind.case === 'listExpr';
    if (!buildsList) return { ...SMALL, cost };
    return range.extent === 'small' ? { cost, extent: 'small', size: range.size, elements: join(range.elements, element) } : { cost, extent: 'computed', size: SMALL_RANGE, elements: 'computed' };
  }
}

function scanCost(extent: Extent): Cost {
  if (extent === 'small') return ZERO;
  return extent === 'part' ? ONE : LINEAR;
}
