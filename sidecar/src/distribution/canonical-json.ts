// Canonical JSON (keys sorted, no spaces) of MCP arguments for ApprovalNeeded.
// Stands in for the policy core's canonicalJson until that lands; the
// controller recomputes the request's name from it, so both must agree.
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record).sort().filter((k) => record[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}
