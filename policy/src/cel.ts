// CEL conditions (`when`): checking once at compile and load, planning once
// per snapshot load, evaluating per request within a cost budget.
//
// Checking: parse (@bufbuild/cel), type-check against DESIGN.md's environment
// (cel-check.ts), estimate the cost (cel-cost.ts). Evaluation: @bufbuild/cel's
// planner over the expression instrumented by cel-budget.ts.
import { parse, plan, isCelError, type CelMap, type CelResult } from '@bufbuild/cel';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { conditionBudgetExceeded, DEFAULT_CONDITION_STEP_BUDGET, hasComprehension, instrument, metered } from './cel-budget.js';
import { CelTypeError, typeCheck } from './cel-check.js';
import { estimateCost } from './cel-cost.js';
import { runtimeEnvironment } from './cel-environment.js';
import { formatType, isDyn, sameType, T } from './cel-types.js';

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
  let checked: ReturnType<typeof typeCheck>;
  try {
    checked = typeCheck(expr);
  } catch (e: unknown) {
    return e instanceof CelTypeError ? e.message : `check failed: ${String(e)}`;
  }
  if (!isDyn(checked.type) && !sameType(checked.type, T.bool)) return `must evaluate to a bool, but evaluates to ${formatType(checked.type)}`;
  const cost = estimateCost(expr, checked.types);
  if (cost.unbounded) {
    return 'estimated cost is unbounded: it grows with the square of the request\'s size (a comprehension or a scan over request data inside a comprehension over request data)';
  }
  if (cost.constant > DEFAULT_CONDITION_STEP_BUDGET) {
    return `estimated cost of ${cost.constant} steps exceeds the budget of ${DEFAULT_CONDITION_STEP_BUDGET} steps`;
  }
  return { source, uses: checked.uses };
}

/**
 * A variable's value: a plain object (@bufbuild/cel makes a map of it at each
 * access) or a CEL map (used as it is: what the evaluator passes).
 */
export type CelRecord = Readonly<Record<string, unknown>> | CelMap;

/** The CEL bindings of one request. */
export interface CelBindings {
  readonly request: CelRecord;
  readonly mcp: CelRecord;
  readonly agent: CelRecord;
  readonly now: unknown;
  /** Bound for conditions that read `session`: its id and its labels before the request. */
  readonly session?: { readonly id: string; readonly taints: readonly string[] };
}

export type ConditionResult =
  | { readonly ok: true; readonly value: boolean }
  | { readonly ok: false; readonly error: string; readonly budgetExceeded?: boolean };

export type PlannedCondition = (bindings: CelBindings) => ConditionResult;

export interface PlanOptions {
  /** Comprehension iterations one evaluation may take (default DEFAULT_CONDITION_STEP_BUDGET). */
  readonly budget?: number;
  /** Where the condition is, for the metric of evaluations cut by the budget. */
  readonly policy?: string;
  readonly rule?: string;
}

/** Plans a condition once (at snapshot load); the result is called per request. */
export function planCondition(source: string, options: PlanOptions = {}): PlannedCondition {
  const parsed = parse(source);
  const expr = parsed.expr;
  const budget = options.budget ?? DEFAULT_CONDITION_STEP_BUDGET;
  const loops = hasComprehension(expr);
  const run = plan(runtimeEnvironment(), loops && expr !== undefined ? instrument(expr) : parsed) as (ctx: Record<string, unknown>) => CelResult;
  const exceeded: ConditionResult = { ok: false, error: `exceeded its cost budget of ${budget} steps`, budgetExceeded: true };
  return (bindings) => {
    const ctx = bindings as unknown as Record<string, unknown>;
    let result: CelResult;
    try {
      if (loops) {
        const m = metered(budget, () => run(ctx));
        if (m.exceeded) {
          conditionBudgetExceeded.record(options.policy ?? '', options.rule ?? '');
          return exceeded;
        }
        result = m.result;
      } else {
        result = run(ctx);
      }
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
