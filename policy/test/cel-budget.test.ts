// The cost of `when` conditions: estimated when a policy is compiled (cost that
// grows with the square of the request's size is rejected), and a runtime
// budget that stops a condition, which then fails as DESIGN.md point 2 says,
// with the reason and a count per policy and rule.
import { conditionBudgetExceeded, DEFAULT_CONDITION_STEP_BUDGET } from '../src/cel-budget.js';
import { checkCondition, planCondition, type CelBindings } from '../src/cel.js';
import { agent, policy } from './helpers.js';

function problem(when: string): string | undefined {
  const checked = checkCondition(when);
  return typeof checked === 'string' ? checked : undefined;
}

function withBody(body: unknown): CelBindings {
  return { request: { body }, mcp: {}, agent: {}, now: null };
}

const items = (n: number): { id: number; tags: string[] }[] => Array.from({ length: n }, (_, id) => ({ id, tags: ['a', 'b'] }));

describe('the estimated cost of a condition', () => {
  it.each([
    ['a comprehension over request data inside another', 'request.body.items.all(x, request.body.items.all(y, x != y))'],
    ['a scan of request data inside a comprehension over it', 'request.body.items.exists(x, request.body.text.contains(x))'],
    ['a list membership test on request data inside a comprehension over it', 'request.body.items.all(x, x in request.body.allowed)'],
    ['an element iterated twice inside its own iteration', 'mcp.arguments.rows.all(r, r.cells.all(a, r.cells.all(b, a != b)))'],
  ])('rejects %s as unbounded', (_what, when) => {
    expect(problem(when)).toContain('estimated cost is unbounded');
  });

  it.each([
    ['one comprehension over request data', 'request.body.items.all(i, i.qty < 10)'],
    ['a comprehension over the parts of each element', "request.body.items.all(i, i.tags.all(t, t != 'secret'))"],
    ['a scan of each element', "mcp.arguments.messages.exists(m, m.text.contains('password'))"],
    ['map lookups on request data inside a comprehension', "request.body.items.all(i, i.owner in request.headers)"],
    ['literal lists inside a comprehension', "request.body.items.all(i, i.kind in ['a', 'b', 'c'])"],
  ])('accepts %s', (_what, when) => {
    expect(problem(when)).toBeUndefined();
  });

  it('rejects a condition that always takes more than the budget', () => {
    const hundred = `[${Array.from({ length: 100 }, (_, i) => i).join(', ')}]`;
    expect(problem(`${hundred}.all(a, ${hundred}.all(b, a + b >= 0))`)).toMatch(new RegExp(`^estimated cost of \\d+ steps exceeds the budget of ${DEFAULT_CONDITION_STEP_BUDGET} steps$`));
    expect(problem(`${hundred}.all(a, a >= 0)`)).toBeUndefined();
  });
});

describe('the runtime cost budget', () => {
  const loop = 'request.body.items.all(i, i.id >= 0)';

  it('lets a comprehension within the budget evaluate', () => {
    expect(planCondition(loop)(withBody({ items: items(100) }))).toEqual({ ok: true, value: true });
  });

  it('stops a comprehension over more items than the budget allows', () => {
    expect(planCondition(loop)(withBody({ items: items(DEFAULT_CONDITION_STEP_BUDGET) }))).toEqual({
      ok: false, budgetExceeded: true, error: `exceeded its cost budget of ${DEFAULT_CONDITION_STEP_BUDGET} steps`,
    });
  });

  it('charges map() for the list it builds, which @bufbuild/cel copies as it grows', () => {
    const mapped = planCondition('request.body.items.map(i, i.id).size() >= 0');
    expect(mapped(withBody({ items: items(50) }))).toEqual({ ok: true, value: true });
    expect(mapped(withBody({ items: items(500) }))).toMatchObject({ ok: false, budgetExceeded: true });
  });

  /** The median time of `run`, warmed up, asserting every run is cut by the budget. */
  function medianCutMs(run: () => unknown): number {
    for (let i = 0; i < 5; i++) run();
    const times: number[] = [];
    for (let i = 0; i < 11; i++) {
      const started = performance.now();
      expect(run()).toMatchObject({ ok: false, budgetExceeded: true });
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b)[5] ?? Infinity;
  }

  const nested = 'request.body.items.all(x, request.body.items.all(y, x == y || x != y))';

  // How fast the cut is is a figure `make bench-eval` prints (bench: cel-budget ...); here the
  // bound is only a safety net that an uncut evaluation (seconds: 3,000² steps) could not meet
  // on a loaded machine either.
  const SAFETY_MS = 250;

  it('cuts the nested comprehension over a 3,000-item body (admission rejects it first)', () => {
    expect(problem(nested)).toContain('estimated cost is unbounded');
    const run = planCondition(nested);
    const bindings = withBody({ items: items(3000) });
    expect(medianCutMs(() => run(bindings))).toBeLessThan(SAFETY_MS);
  });

  it('cuts it where the budget runs out mid-iteration (2,000 items)', () => {
    const run = planCondition(nested);
    const bindings = withBody({ items: items(2000) });
    expect(medianCutMs(() => run(bindings))).toBeLessThan(SAFETY_MS);
  });

  it('fails the condition even where || would hide the error', () => {
    expect(planCondition(`${loop} || true`)(withBody({ items: items(DEFAULT_CONDITION_STEP_BUDGET) }))).toMatchObject({ ok: false, budgetExceeded: true });
  });

  it('takes a budget per snapshot load', () => {
    expect(planCondition(loop, { budget: 50 })(withBody({ items: items(100) }))).toMatchObject({ ok: false, budgetExceeded: true });
  });
});

describe('a condition that exceeds its budget', () => {
  const body = { items: items(DEFAULT_CONDITION_STEP_BUDGET) };
  const count = (p: string, rule: string): number => conditionBudgetExceeded.entries().find((s) => s.policy === p && s.rule === rule)?.count ?? 0;

  it('keeps an Allow rule from matching, says so in the reason, and is counted', () => {
    const a = agent([policy('budgeted', `
      podSelector: {}
      rules:
        - name: small-orders
          to: {hosts: [api.example.com]}
          when: "request.body.items.all(i, i.id >= 0)"
    `)]);
    const before = count('budgeted', 'small-orders');
    const d = a.check({ method: 'POST', url: 'https://api.example.com/orders', body });
    expect(d).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(d.reason).toContain(`rule "small-orders" did not match: when exceeded its cost budget of ${DEFAULT_CONDITION_STEP_BUDGET} steps`);
    expect(count('budgeted', 'small-orders')).toBe(before + 1);
    expect(a.check({ method: 'POST', url: 'https://api.example.com/orders', body: { items: items(3) } })).toMatchObject({ allowed: true, rule: 'small-orders' });
  });

  it('makes a Deny rule match, and the reason says the budget ran out', () => {
    const a = agent([policy('guarded', `
      podSelector: {}
      rules:
        - name: allow-all
          to: {hosts: [api.example.com]}
        - name: no-deletes-in-bulk
          action: Deny
          to: {hosts: [api.example.com]}
          when: "request.body.items.exists(i, i.op == 'delete')"
    `)]);
    const d = a.check({ method: 'POST', url: 'https://api.example.com/batch', body });
    expect(d).toMatchObject({ allowed: false, rule: 'no-deletes-in-bulk', policy: 'guarded' });
    expect(d.reason).toContain('when exceeded its cost budget');
    expect(count('guarded', 'no-deletes-in-bulk')).toBeGreaterThan(0);
  });
});
