// make bench-e2e's plan: rounds, rates and which variants run (pure, from the command line).
import { VARIANTS, type Variant } from './engines.js';

export interface Plan {
  readonly rounds: number;
  /** [req/s, measured seconds] */
  readonly rates: readonly (readonly [number, number])[];
  readonly warmupSeconds: number;
  /**
   * Before the first round, each variant this long at the plan's highest rate, not
   * counted: V8 compiles the sidecar's hot code over its first few thousand requests
   * (bin/agentwarden, AGENTWARDEN_SIDECAR_JIT), and a sidecar serves for hours.
   */
  readonly firstWarmupSeconds: number;
  /** Closed-loop probe: requests per variant and round. */
  readonly probeRequests: number;
}

// Five short rounds rather than three long ones: on a shared machine a neighbour's burst
// spoils a round or two, and the median of five differences stands through two.
export const FULL: Plan = { rounds: 5, rates: [[100, 10], [1000, 5]], warmupSeconds: 1, firstWarmupSeconds: 5, probeRequests: 2000 };
export const QUICK: Plan = { rounds: 1, rates: [[100, 3], [1000, 3]], warmupSeconds: 1, firstWarmupSeconds: 3, probeRequests: 500 };
export const MAX_ROUNDS = 20;

/** `--variants a,b`: those of VARIANTS, in its order, and always `none` (every figure is taken against it). */
export function pickVariants(arg: string): readonly Variant[] {
  const asked = arg.split(',').map((v) => v.trim()).filter((v) => v !== '');
  const unknown = asked.filter((v) => !(VARIANTS as readonly string[]).includes(v));
  if (unknown.length > 0 || asked.length === 0) throw new Error(`bench: e2e: --variants ${arg}: each must be one of ${VARIANTS.join(', ')}`);
  return VARIANTS.filter((v) => v === 'none' || asked.includes(v));
}

/** `--rates 1000`: those of the plan's rates (each keeps its measured seconds). */
export function pickRates(rates: Plan['rates'], arg: string): Plan['rates'] {
  const asked = arg.split(',').map((r) => Number(r.trim()));
  const known = rates.map(([r]) => r);
  if (asked.length === 0 || asked.some((r) => !known.includes(r))) throw new Error(`bench: e2e: --rates ${arg}: each must be one of ${known.join(', ')}`);
  return rates.filter(([r]) => asked.includes(r));
}

