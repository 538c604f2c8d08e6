// The sidecar's Prometheus counters: one series per (decision, policy, rule),
// bounded, and the latency histogram.
import { describe, expect, it } from '@jest/globals';
import { SidecarMetrics } from '../src/metrics.js';
import { BudgetExceededCounter } from '../../policy/src/cel-budget.js';
import { planCondition } from '../../policy/src/cel.js';

const EXTRA = { ready: true, snapshotVersion: 'v1', spansExported: 0, spansDropped: 0 };
const series = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('agentwarden_decisions_total{'));

describe('SidecarMetrics', () => {
  it('counts decisions by outcome, policy and rule, and buckets their latency', () => {
    const m = new SidecarMetrics();
    m.recordDecision(true, 'p', 'r1', 0.00002);
    m.recordDecision(true, 'p', 'r1', 0.00002);
    m.recordDecision(false, 'p', 'r1', 0.0002);
    m.recordDecision(false, '', 'default-deny', 0.002);
    const text = m.render(EXTRA);
    expect(series(text).sort()).toEqual([
      'agentwarden_decisions_total{decision="allow",policy="p",rule="r1"} 2',
      'agentwarden_decisions_total{decision="deny",policy="",rule="default-deny"} 1',
      'agentwarden_decisions_total{decision="deny",policy="p",rule="r1"} 1',
    ]);
    expect(text).toContain('agentwarden_check_duration_seconds_bucket{le="0.000025"} 2');
    expect(text).toContain('agentwarden_check_duration_seconds_bucket{le="0.00025"} 3');
    expect(text).toContain('agentwarden_check_duration_seconds_bucket{le="+Inf"} 4');
  });

  it('folds series beyond 2048 into policy="other", rule="other"', () => {
    const m = new SidecarMetrics();
    for (let i = 0; i < 2048; i++) m.recordDecision(true, 'p', `r${i}`, 0.00001);
    m.recordDecision(true, 'q', 'x', 0.00001);
    m.recordDecision(false, 'q', 'y', 0.00001);
    m.recordDecision(false, 'q', 'z', 0.00001);
    m.recordDecision(true, 'p', 'r7', 0.00001);
    const lines = series(m.render(EXTRA));
    expect(lines).toHaveLength(2050);
    expect(lines).toContain('agentwarden_decisions_total{decision="allow",policy="other",rule="other"} 1');
    expect(lines).toContain('agentwarden_decisions_total{decision="deny",policy="other",rule="other"} 2');
    expect(lines).toContain('agentwarden_decisions_total{decision="allow",policy="p",rule="r7"} 2');
  });

  it('exposes the conditions cut by their cost budget, per policy and rule', () => {
    const m = new SidecarMetrics();
    const before = m.render(EXTRA).split('\n').filter((l) => l.startsWith('agentwarden_condition_budget_exceeded_total{policy="metrics-test"')).length;
    expect(before).toBe(0);
    const run = planCondition('request.body.items.all(i, i >= 0)', { budget: 10, policy: 'metrics-test', rule: 'bulk' });
    run({ request: { body: { items: [1, 2, 3, 4, 5] } }, mcp: {}, agent: {}, now: null });
    const text = m.render(EXTRA);
    expect(text).toContain('# TYPE agentwarden_condition_budget_exceeded_total counter');
    expect(text).toContain('agentwarden_condition_budget_exceeded_total{policy="metrics-test",rule="bulk"} 1');
  });

  it('folds budget series beyond 512 into policy="other", rule="other"', () => {
    const counter = new BudgetExceededCounter();
    for (let i = 0; i < 514; i++) counter.record('p', `r${i}`);
    counter.record('p', 'r0');
    const m = new SidecarMetrics();
    m.conditionBudget = counter;
    const lines = m.render(EXTRA).split('\n').filter((l) => l.startsWith('agentwarden_condition_budget_exceeded_total{'));
    expect(lines).toHaveLength(513);
    expect(lines).toContain('agentwarden_condition_budget_exceeded_total{policy="other",rule="other"} 2');
    expect(lines).toContain('agentwarden_condition_budget_exceeded_total{policy="p",rule="r0"} 2');
  });
});
