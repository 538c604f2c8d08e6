// The runtime cost budget of CEL conditions, as Kubernetes' CEL has one. A
// comprehension (all, exists, exists_one, map, filter) costs RANGE_ELEMENT_COST
// per element of its range when it starts (@bufbuild/cel converts every element
// before the first iteration) and, per iteration, one unit per node of its loop condition and
// step (map and filter: plus the size of the list built so far). A condition that spends more than its budget stops and fails to
// evaluate (DESIGN.md point 2: an Allow rule does not match, a Deny rule does);
// the evaluations cut are counted per policy and rule for the sidecar's metrics.
//
// @bufbuild/cel has no cost tracking, so planning instruments the parsed
// expression: each comprehension's range and loop condition are wrapped in
// calls that charge the meter and fail once the budget is spent. A condition
// without comprehensions is planned unchanged and costs nothing extra.
import { celFunc, CelScalar, isCelList, isCelMap, type CelFunc } from '@bufbuild/cel';
import { clone, create } from '@bufbuild/protobuf';
import { ExprSchema, type Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';

/**
 * Cost units one evaluation may spend. With @bufbuild/cel 0.6.1 a unit takes
 * about 0.2 µs, several for equality of large values or a regular expression
 * (policy/test/cel-budget.test.ts measures a cut), so the budget keeps a
 * condition within a few milliseconds on the synchronous Check path; it lets a
 * condition iterate over several hundred items.
 */
export const DEFAULT_CONDITION_STEP_BUDGET = 10_000;

/** Units per element of a comprehension's range: converting a JSON object takes @bufbuild/cel about 0.8 µs. */
export const RANGE_ELEMENT_COST = 4;

/** '@' keeps the names out of reach of written conditions (the parser never produces them). */
const STEP = '@agentwarden_step';
const RANGE = '@agentwarden_range';

/** The units left to the evaluation under way; evaluation is synchronous, so one meter serves all. */
const meter = { remaining: 0, exceeded: false };

function charge(units: number): void {
  meter.remaining -= units;
  if (meter.remaining < 0) {
    meter.exceeded = true;
    throw new Error('cost budget exceeded');
  }
}

/**
 * step(condition, weight, accumulator): charges one iteration, returns the loop
 * condition. map() and filter() append to their accumulator, which costs
 * @bufbuild/cel time in proportion to its size (1,000 items take it about 20 ms),
 * so their iterations also cost the accumulator's size.
 */
const STEP_FUNCTION: CelFunc = celFunc(STEP, [CelScalar.DYN, CelScalar.INT, CelScalar.DYN], CelScalar.DYN, (condition, weight, accumulator) => {
  charge(Number(weight) + (isCelList(accumulator) ? accumulator.size : 0));
  return condition;
});

/** range(r): charges for a comprehension's range before it is converted. */
const RANGE_FUNCTION: CelFunc = celFunc(RANGE, [CelScalar.DYN], CelScalar.DYN, (range) => {
  if (isCelList(range) || isCelMap(range)) charge(RANGE_ELEMENT_COST * range.size);
  return range;
});

export const METER_FUNCTIONS: readonly CelFunc[] = [STEP_FUNCTION, RANGE_FUNCTION];

/** Runs `evaluate` with `budget` units; `exceeded` says whether it ran out (its result is then void). */
export function metered<R>(budget: number, evaluate: () => R): { readonly result: R; readonly exceeded: boolean } {
  meter.remaining = budget;
  meter.exceeded = false;
  const result = evaluate();
  return { result, exceeded: meter.exceeded };
}

/** The direct subexpressions of `expr`, a comprehension's included. */
export function children(expr: Expr): (Expr | undefined)[] {
  const k = expr.exprKind;
  switch (k.case) {
    case 'selectExpr': return [k.value.operand];
    case 'callExpr': return [k.value.target, ...k.value.args];
    case 'listExpr': return k.value.elements;
    case 'structExpr': return k.value.entries.flatMap((e) => (e.keyKind.case === 'mapKey' ? [e.keyKind.value, e.value] : [e.value]));
    case 'comprehensionExpr': return [k.value.iterRange, k.value.accuInit, k.value.loopCondition, k.value.loopStep, k.value.result];
    default: return [];
  }
}

/** Whether the expression has a comprehension (only those cost anything). */
export function hasComprehension(expr: Expr | undefined): boolean {
  return expr !== undefined && (expr.exprKind.case === 'comprehensionExpr' || children(expr).some(hasComprehension));
}

/** Nodes of `expr`, a nested comprehension counting as one (its iterations are charged by itself). */
export function nodeCount(expr: Expr | undefined): number {
  if (expr === undefined) return 0;
  if (expr.exprKind.case === 'comprehensionExpr') return 1;
  return children(expr).reduce((n, c) => n + nodeCount(c), 1);
}

/** A copy of `expr` whose every comprehension charges the meter. */
export function instrument(expr: Expr): Expr {
  const copy = clone(ExprSchema, expr);
  wrapLoops(copy);
  return copy;
}

function call(fn: string, args: Expr[], id: bigint): Expr {
  return create(ExprSchema, { id, exprKind: { case: 'callExpr', value: { function: fn, args } } });
}

function wrapLoops(expr: Expr | undefined): void {
  if (expr === undefined) return;
  children(expr).forEach(wrapLoops);
  if (expr.exprKind.case !== 'comprehensionExpr') return;
  const c = expr.exprKind.value;
  if (c.loopCondition === undefined || c.iterRange === undefined) return;
  const weight = BigInt(1 + nodeCount(c.loopCondition) + nodeCount(c.loopStep));
  const weightExpr = create(ExprSchema, { id: c.loopCondition.id, exprKind: { case: 'constExpr', value: { constantKind: { case: 'int64Value', value: weight } } } });
  // The loop condition is evaluated once per iteration, before the step, and is never
  // an error in the macros (true, or @not_strictly_false(@result)): every iteration is charged.
  const accumulator = create(ExprSchema, { id: c.loopCondition.id, exprKind: { case: 'identExpr', value: { name: c.accuVar } } });
  c.loopCondition = call(STEP, [c.loopCondition, weightExpr, accumulator], c.loopCondition.id);
  c.iterRange = call(RANGE, [c.iterRange], c.iterRange.id);
}

/** Most (policy, rule) series kept; beyond it, series fold into rule="other". */
const MAX_SERIES = 512;

export interface BudgetSeries { readonly policy: string; readonly rule: string; count: number }

/** Evaluations cut by the budget, per policy and rule, for as long as the process lives. */
export class BudgetExceededCounter {
  private readonly series = new Map<string, BudgetSeries>();

  record(policy: string, rule: string): void {
    let s = this.series.get(`${policy}\u0000${rule}`);
    if (s === undefined) {
      const full = this.series.size >= MAX_SERIES;
      const p = full ? 'other' : policy;
      const r = full ? 'other' : rule;
      s = this.series.get(`${p}\u0000${r}`) ?? { policy: p, rule: r, count: 0 };
      this.series.set(`${p}\u0000${r}`, s);
    }
    s.count++;
  }

  entries(): readonly BudgetSeries[] {
    return [...this.series.values()];
  }
}

/** The process's counter, read by the sidecar's /metrics. */
export const conditionBudgetExceeded = new BudgetExceededCounter();
