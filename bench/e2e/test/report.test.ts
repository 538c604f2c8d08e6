// make bench-e2e's figures: added latency is taken against the baseline of the same
// round, the median over rounds is reported, and the targets read PASS or MISS.
import { addedFigures, addedProbeMeans, benchLines, type OpenLoopRun } from '../report.js';

const run = (round: number, variant: OpenLoopRun['variant'], rate: number, p50: number, p99: number): OpenLoopRun => ({ round, variant, rate, p50, p99 });

// Round 2 ran on a slower machine: every variant is 1 ms slower, the differences are not.
const RUNS: OpenLoopRun[] = [
  run(1, 'none', 1000, 0.5, 1.0), run(1, 'agentwarden', 1000, 0.7, 1.4), run(1, 'opa-envoy', 1000, 1.0, 2.0),
  run(2, 'none', 1000, 1.5, 2.0), run(2, 'agentwarden', 1000, 1.8, 2.5), run(2, 'opa-envoy', 1000, 2.0, 3.2),
  run(3, 'none', 1000, 0.5, 1.0), run(3, 'agentwarden', 1000, 0.8, 1.6), run(3, 'opa-envoy', 1000, 1.1, 2.1),
];

describe('make bench-e2e figures', () => {
  it('subtracts the baseline of the same round and reports the median over rounds', () => {
    const [aw, opa] = addedFigures(RUNS);
    expect(aw).toMatchObject({ engine: 'agentwarden', rate: 1000, rounds: 3, p50: 0.8, p99: 1.6 });
    expect(aw?.addedP50).toBeCloseTo(0.3);
    expect(aw?.addedP99).toBeCloseTo(0.5);
    expect(opa?.addedP99).toBeCloseTo(1.1);
  });

  it('leaves out a round that has no baseline run at that rate', () => {
    const [aw] = addedFigures([...RUNS, run(4, 'agentwarden', 1000, 9, 9)]);
    expect(aw?.rounds).toBe(3);
  });

  it('prints the added figures, the ratio to OPA-Envoy and the targets', () => {
    const lines = benchLines(RUNS, []);
    expect(lines).toContain('bench: e2e agentwarden added_p50_ms=0.300 added_p99_ms=0.500 rate=1000');
    expect(lines).toContain('bench: e2e agentwarden added_p99_per_round_ms=0.400,0.500,0.600 rate=1000');
    expect(lines).toContain('bench: e2e_added_p99_vs_opa_envoy=0.45 rate=1000');
    expect(lines).toContain('bench: e2e target agentwarden added_p99_ms<=1 rate=1000: PASS (0.500)');
    expect(lines).toContain('bench: e2e target e2e_added_p99_vs_opa_envoy<=0.6 rate=1000: PASS (0.45)');
  });

  it('reads MISS when OPA-Envoy adds nothing measurable, whatever the ratio', () => {
    const lines = benchLines([run(1, 'none', 1000, 1, 2), run(1, 'agentwarden', 1000, 1, 1.9), run(1, 'opa-envoy', 1000, 1, 1.8)], []);
    expect(lines).toContain('bench: e2e target e2e_added_p99_vs_opa_envoy<=0.6 rate=1000: MISS (0.50)');
  });

  it('gives no ratio and no verdict for an engine that did not run (--variants)', () => {
    const lines = benchLines(RUNS.filter((r) => r.variant !== 'opa-envoy'), []);
    expect(lines.filter((l) => l.startsWith('bench: e2e_added_p99_vs_opa_envoy='))).toEqual([]);
    expect(lines).toContain('bench: e2e target agentwarden added_p99_ms<=1 rate=1000: PASS (0.500)');
    expect(lines).toContain('bench: e2e target e2e_added_p99_vs_opa_envoy<=0.6 rate=1000: not measured (opa-envoy not run at 1000 req/s)');
    const none = benchLines(RUNS.filter((r) => r.variant === 'none'), []);
    expect(none).toContain('bench: e2e target agentwarden added_p99_ms<=1 rate=1000: not measured (agentwarden and opa-envoy not run at 1000 req/s)');
  });

  it('prints the floors in the same form, agentwarden against floor-node, and where the target stands against the floor', () => {
    const floors = [
      run(1, 'floor-node', 1000, 0.6, 1.3), run(1, 'floor-go', 1000, 0.6, 1.2),
      run(2, 'floor-node', 1000, 1.6, 2.2), run(2, 'floor-go', 1000, 1.6, 2.3),
      run(3, 'floor-node', 1000, 0.6, 1.2), run(3, 'floor-go', 1000, 0.6, 1.4),
    ];
    const lines = benchLines([...RUNS, ...floors], []);
    expect(lines).toContain('bench: e2e agentwarden added_p50_ms=0.300 added_p99_ms=0.500 rate=1000');
    expect(lines).toContain('bench: e2e floor-node added_p50_ms=0.100 added_p99_ms=0.200 rate=1000');
    expect(lines).toContain('bench: e2e floor-go added_p99_per_round_ms=0.200,0.300,0.400 rate=1000');
    expect(lines).toContain('bench: e2e_added_p99_vs_floor_node=2.50 rate=1000');
    // Per round: 0.1, 0.3, 0.4 (agentwarden p99 − floor-node p99 of the same round).
    expect(lines).toContain('bench: e2e agentwarden added_p99_over_floor_node_ms=0.300 rate=1000');
    expect(lines).toContain('bench: e2e floor added_p99_ms=0.200 rate=1000 (floor-node 0.200, floor-go 0.300): the 1 ms target is at or above the floor here');
  });

  it('says when the target is below the floor', () => {
    const lines = benchLines([run(1, 'none', 1000, 1, 2), run(1, 'agentwarden', 1000, 1, 4), run(1, 'floor-node', 1000, 1, 3.5), run(1, 'floor-go', 1000, 1, 3.2)], []);
    expect(lines).toContain('bench: e2e floor added_p99_ms=1.200 rate=1000 (floor-node 1.500, floor-go 1.200): the 1 ms target is below the floor here');
  });

  it('gives no verdict from a floor at or below zero (noise)', () => {
    const lines = benchLines([run(1, 'none', 1000, 1, 5), run(1, 'agentwarden', 1000, 1, 6), run(1, 'floor-node', 1000, 1, 4), run(1, 'floor-go', 1000, 1, 5.5)], []);
    expect(lines).toContain('bench: e2e floor added_p99_ms=-1.000 rate=1000 (floor-node -1.000, floor-go 0.500): not measurable in this run (a floor at or below zero is noise)');
    expect(lines).toContain('bench: e2e_added_p99_vs_floor_node=NaN rate=1000');
  });

  it('reports the closed-loop probe as the median over rounds of the added mean', () => {
    const added = addedProbeMeans([
      { round: 1, variant: 'none', mean: 0.4 }, { round: 1, variant: 'agentwarden', mean: 0.66 },
      { round: 2, variant: 'none', mean: 0.5 }, { round: 2, variant: 'agentwarden', mean: 0.8 },
    ]);
    expect(added.get('agentwarden')).toBeCloseTo(0.28);
    expect(added.has('opa-envoy')).toBe(false);
  });
});
