// The type checker of `when` conditions: overloads and result types against
// DESIGN.md's environment; request data is dyn, so its type errors are left to
// evaluation (point 2), as in cel-go.
import { checkCondition } from '../src/cel.js';
import { compileSnapshot, PolicyError } from '../src/index.js';
import { policy, POD } from './helpers.js';

function problem(when: string): string | undefined {
  const checked = checkCondition(when);
  return typeof checked === 'string' ? checked : undefined;
}

describe('the condition checker', () => {
  it.each([
    ["request.port.startsWith('a')", "found no matching overload for 'startsWith' applied to 'int.(string)'"],
    ['request.method + 1 == 2', "found no matching overload for '_+_' applied to '(string, int)'"],
    ["request.port == '443'", "found no matching overload for '_==_' applied to '(int, string)'"],
    ["request.port in ['443']", "found no matching overload for '@in' applied to '(int, list(string))'"],
    ['request.query.tag[0] == 1', "found no matching overload for '_==_' applied to '(string, int)'"],
    ["request.params['id'] > 3", "found no matching overload for '_>_' applied to '(string, int)'"],
    ['agent.labels.team.size() + request.method', "found no matching overload for '_+_' applied to '(int, string)'"],
    ['now.getHours() == request.host', "found no matching overload for '_==_' applied to '(int, string)'"],
    ["request.port.foo == 'a'", "type 'int' has no field 'foo'"],
    ['request.port.all(p, p > 1)', "expression of type 'int' cannot be the range of a comprehension"],
    ["request.method == 'GET' ? 1 : 'one'", "found no matching overload for '_?_:_' applied to '(bool, int, string)'"],
    ["request.method && request.path == '/'", "found no matching overload for '_&&_' applied to '(string, bool)'"],
    ["matches(request.path, '^/v1')", "found no matching overload for 'matches' applied to '(string, string)'"],
    ['request.port', 'must evaluate to a bool, but evaluates to int'],
    ["request.path + '/'", 'must evaluate to a bool, but evaluates to string'],
    ['request.bogus == 1', "undeclared reference to 'request.bogus' (request has method, host, port, path, query, headers, params, body)"],
    ["lower(request.path) == '/'", "undeclared reference to function 'lower'"],
  ])('rejects %s', (when, message) => {
    expect(problem(when)).toContain(message);
  });

  it.each([
    "request.params.id.startsWith('T-') && !('payment' in request.query)",
    "'per_page' in request.query && int(request.query.per_page[0]) > 100",
    '!has(mcp.arguments.limit) || mcp.arguments.limit <= 20',
    "mcp.arguments.amount <= 50.0 && mcp.arguments.currency == 'EUR'",
    "request.body.ticket.type in ['question', 'incident']",
    "request.headers['x-tier'] in ['gold', 'silver']",
    'request.port in [443, 8443] && request.port >= 443',
    "request.query.tag == ['a', 'b']",
    'request.body == null && size(request.params) == 0',
    "now.getHours('Europe/Berlin') >= 8 && now - duration('1h') < now",
    "agent.labels.team == 'care' && agent.name.startsWith('support-')",
    "request.path.matches('^/v[0-9]+/items$')",
    "type(request.body) == map && request.body.items.all(i, i.qty * 2 < 100)",
    "request.body.items.map(i, i.sku).exists(s, s == 'A-1')",
    "[1, 2, 3].map(n, n * 2).all(n, n % 2 == 0)",
    "request.body.a.split(',').all(p, p.size() < 10)",
    "strings.quote(request.path) != ''",
    "request.body.count + 1 > 2",
  ])('accepts %s', (when) => {
    expect(problem(when)).toBeUndefined();
  });

  it('leaves type errors in request data to evaluation (dyn)', () => {
    expect(problem("request.body.count.startsWith('a') || mcp.arguments.n + 'x' == 'y' || request.headers['x'] > 3")).toBeUndefined();
  });

  it('names the policy, the rule and the type error when a policy is compiled', () => {
    const p = policy('typed', `
      podSelector: {}
      rules:
        - name: port-as-string
          to: {hosts: [api.example.com]}
          when: "request.port.startsWith('a')"
    `);
    let error: unknown;
    try {
      compileSnapshot([p], POD);
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect(String(error)).toContain(`spec.rules[0].when: rule "port-as-string": found no matching overload for 'startsWith' applied to 'int.(string)'`);
  });
});
