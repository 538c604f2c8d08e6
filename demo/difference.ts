// What sets a decision apart from the one just above it for the same operation
// (pure): when the table shows `POST api.zendesk.com/api/v2/tickets ALLOW` and
// then the same line `DENY`, the row says what differs, field by field in the
// body ("ticket.type is \"problem\" (above: \"question\")"), or that the request
// was the same and only the time or the pod's state changed.

/** A request body flattened to dotted paths and short JSON values. */
function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (typeof value === 'object' && value !== null) {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    if (entries.length === 0) out.set(prefix === '' ? '(body)' : prefix, Array.isArray(value) ? '[]' : '{}');
    for (const [k, v] of entries) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
    return;
  }
  const text = typeof value === 'string' && value.length > 60 ? `<${value.length} characters>` : JSON.stringify(value);
  out.set(prefix === '' ? '(body)' : prefix, text);
}

function fields(input: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (input !== undefined) flatten(input, '', out);
  return out;
}

/**
 * How `now` differs from `before` (the same operation, decided otherwise):
 * the body fields that changed, appeared or went away; else the same request,
 * at a later time.
 */
export function difference(before: unknown, now: unknown): string {
  if (before === undefined && now !== undefined) return `a body this time (above: none): ${JSON.stringify(now).slice(0, 120)}`;
  if (before !== undefined && now === undefined) return 'no body this time (above: one): the rule\'s condition has nothing to read';
  const a = fields(before);
  const b = fields(now);
  const changes: string[] = [];
  for (const [k, v] of b) {
    const old = a.get(k);
    if (old === undefined) changes.push(`${k} is ${v} (above: absent)`);
    else if (old !== v) changes.push(`${k} is ${v} (above: ${old})`);
  }
  for (const [k, v] of a) if (!b.has(k)) changes.push(`no ${k} (above: ${v})`);
  if (changes.length > 0) return changes.join(', ');
  return 'the same request, later: what changed is the time or the pod\'s state (a rate limit used up, a grant, session taints)';
}
