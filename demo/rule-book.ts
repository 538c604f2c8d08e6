// The example's rules, read from examples/support-agent/policies/ with the
// policy core's loader, for the words of the decisions table: what a rule
// covers, and which rules a denied request came close to. Nothing here decides.
import { join } from 'node:path';
import { loadPolicies } from '../policy/io/manifests.js';
import type { AgentPolicy, Rule, Schedule } from '../policy/src/model.js';

export interface BookRule extends Rule {
  readonly policy: AgentPolicy;
}

export class RuleBook {
  readonly rules: readonly BookRule[];

  constructor(policies: readonly AgentPolicy[]) {
    this.rules = policies.flatMap((policy) => policy.rules.map((r) => ({ ...r, policy })));
  }

  static load(example: string, namespace: string): RuleBook {
    return new RuleBook(loadPolicies([join(example, 'policies')], namespace));
  }

  rule(name: string): BookRule | undefined {
    return this.rules.find((r) => r.name === name);
  }

  /** The Enforce policies' Allow rules naming `host`. */
  allowRulesFor(host: string): BookRule[] {
    return this.rules.filter((r) => r.action === 'Allow' && r.policy.mode === 'Enforce' && r.to.hosts.some((h) => hostMatches(h, host)));
  }
}

function hostMatches(pattern: string, host: string): boolean {
  return pattern === '*' || pattern === host || (pattern.startsWith('*.') && host.endsWith(pattern.slice(1)));
}

/** What a Deny rule forbids, in words: "any call to billing.internal, api.stripe.com", "the MCP tools delete_customer, delete_ticket". */
export function forbidden(r: Rule): string {
  if (r.mcp !== undefined && r.mcp.tools.length > 0) return `the MCP tools ${r.mcp.tools.join(', ')}`;
  const paths = r.http?.paths ?? [];
  const what = paths.length > 0 ? `${paths.join(', ')} on ${r.to.hosts.join(', ')}` : `any call to ${r.to.hosts.join(', ')}`;
  return r.when === undefined ? what : `${what} when ${r.when}`;
}

/** "Mon-Fri 08:00-18:00 Europe/Berlin". */
export function scheduleWords(s: Schedule): string {
  const windows = s.windows.map((w) => {
    const days = w.days.join(',') === 'Mon,Tue,Wed,Thu,Fri' ? 'Mon-Fri' : w.days.join(',');
    return `${days} ${w.start}-${w.end}`;
  });
  return `${windows.join(', ')} ${s.timezone}`;
}

/** "Sat 14:05" in `timezone` at `now`. */
export function localTime(timezone: string, now: Date): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false }).format(now).replace(',', '');
}
