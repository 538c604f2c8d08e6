// Why a decision fell as it did, in words a newcomer understands: the
// decision's reason as the sidecar recorded it (the span's agentwarden.reason),
// rephrased, with what the example's rules say about the request. A reason
// this file does not know is shown as recorded.
import type { DecisionSpan } from './jaeger.js';
import { forbidden, localTime, scheduleWords, type RuleBook } from './rule-book.js';

export interface ExplainContext {
  readonly book: RuleBook;
  readonly now: Date;
  /** Whether the upstream received the rule's credential with the request. */
  readonly credentialArrived: boolean;
}

const ALLOWED = /^allowed by rule "([^"]+)" of policy "[^"]+"$/;
const DENIED = /^denied by rule "([^"]+)" of policy "[^"]+"(?:; (.*))?$/;
const LIMIT = /^rule "([^"]+)" of policy "[^"]+" allows at most (\d+) requests per (\d+) ms; limit reached$/;
const INVALID = /^invalid request: (.*)$/;
const NO_RULE = /^no rule allows [^;]*(?:; (.*))?$/;
const APPROVAL = /^approval required: rule "([^"]+)" of policy "[^"]+" needs a human to approve .* \(AgentAccessRequest ([^)]+)\)(?:; .*)?$/;
const GRANTED = /^allowed by approval grant "([^"]+)" \(approved by ([^)]*)\) for /;
const NOTE = /rule "([^"]+)" did not match: (.*?)(?=; rule "|$)/g;

export function explain(span: DecisionSpan, ctx: ExplainContext): string {
  const r = span.reason;
  const audit = span.audit === 'deny' && span.decision === 'allow' ? '; the trial policy (Audit mode) would deny it: recorded in the trace, not enforced' : '';
  let m: RegExpExecArray | null;
  if ((m = ALLOWED.exec(r)) !== null) return allowed(m[1] ?? '', span, ctx) + audit;
  if ((m = DENIED.exec(r)) !== null) return deniedByRule(m[1] ?? '', m[2], ctx) + tainted(span, ctx);
  if ((m = APPROVAL.exec(r)) !== null) return approvalRequired(m[1] ?? '', m[2] ?? '', ctx);
  if ((m = GRANTED.exec(r)) !== null) return `${m[2] ?? ''} approved AgentAccessRequest ${m[1] ?? ''}: its grant allows this exact call (same tool and arguments) over rule ${span.rule}, once`;
  if ((m = LIMIT.exec(r)) !== null) return `rule ${m[1] ?? ''} allows it at most ${m[2] ?? ''} times per ${duration(Number(m[3]))}, and this pod has used them up`;
  if ((m = INVALID.exec(r)) !== null) {
    return `refused before any rule is read: the ${(m[1] ?? '').replace(/^path contains /, 'path has ')}, which the upstream could read as another path than the policy did`;
  }
  if ((m = NO_RULE.exec(r)) !== null) return `nothing allows it, so it is denied (the default): ${m[1] === undefined ? nearMiss(span, ctx) : notes(m[1], ctx)}`;
  return r;
}

function allowed(name: string, span: DecisionSpan, ctx: ExplainContext): string {
  const rule = ctx.book.rule(name);
  const sessionOwn = span.mcpMethod === null && rule?.mcp?.methods.includes('initialize') === true;
  const conditions = [
    sessionOwn ? `the rule that may open an MCP session also covers the session's own ${span.method === 'DELETE' ? 'end (DELETE)' : 'event stream (GET)'}` : undefined,
    rule?.when === undefined ? undefined : `its condition held (${rule.when})`,
    rule?.schedule === undefined ? undefined : `it is inside its hours (${scheduleWords(rule.schedule)})`,
  ].filter((c) => c !== undefined);
  const credential = rule?.credential !== undefined && ctx.credentialArrived
    ? `; the sidecar had Envoy add the ${rule.credential} credential on the way out (the agent never holds it)` : '';
  return `rule ${name} allows it${conditions.length === 0 ? '' : `: ${conditions.join(', ')}`}${credential}`;
}

/** The session's taints when the deciding rule reads them: "; the session was tainted pii, untrusted (by the calls its span links to)". */
function tainted(span: DecisionSpan, ctx: ExplainContext): string {
  if (span.taints.length === 0 || ctx.book.rule(span.rule)?.when?.includes('session.') !== true) return '';
  return `; the session was tainted ${span.taints.join(', ')}${span.links.length === 0 ? '' : ' (by the calls its span links to)'}`;
}

function deniedByRule(name: string, note: string | undefined, ctx: ExplainContext): string {
  const rule = ctx.book.rule(name);
  const what = rule === undefined ? 'it' : forbidden(rule);
  let why = '';
  if (note !== undefined) {
    if (note.startsWith('body is partial')) why = '; the body was cut at Envoy\'s buffer limit, so the sidecar cannot see which tool is called, and a Deny rule blocks what it cannot check';
    else if (note.startsWith('body is not one JSON-RPC')) why = '; the body is not one JSON-RPC request (here a batch), so the sidecar cannot see which tool is called, and a Deny rule blocks what it cannot check';
    else why = `; ${note}`;
  }
  return `Deny rule ${name} forbids ${what}${why}`;
}

function approvalRequired(name: string, request: string, ctx: ExplainContext): string {
  const when = ctx.book.rule(name)?.when;
  return `rule ${name} needs a human's approval${when === undefined ? '' : ` (its condition held: ${when})`}; the controller created AgentAccessRequest ${request}, and \`agentwarden approve ${request}\` lets this exact call through`;
}

/** The Allow rules that did not match, and why (schedule, a condition that could not be evaluated). */
function notes(text: string, ctx: ExplainContext): string {
  const out: string[] = [];
  for (const [, name = '', note = ''] of text.matchAll(NOTE)) {
    const rule = ctx.book.rule(name);
    if (note === 'outside its schedule' && rule?.schedule !== undefined) {
      out.push(`rule ${name} allows it only ${scheduleWords(rule.schedule)}, and it is ${localTime(rule.schedule.timezone, ctx.now)} there`);
    } else if (note.startsWith('when failed to evaluate')) {
      out.push(`rule ${name} could not evaluate its condition (${rule?.when ?? ''}): ${note.replace(/^when failed to evaluate \((.*)\)$/, '$1')}; an Allow rule that cannot check its condition does not allow`);
    } else {
      out.push(`rule ${name} did not match: ${note}`);
    }
  }
  return out.join('; ');
}

/** What the Allow rules for the request's host would have needed. */
function nearMiss(span: DecisionSpan, ctx: ExplainContext): string {
  const forHost = ctx.book.allowRulesFor(span.host);
  if (forHost.length === 0) return `no rule names ${span.host}`;
  if (span.tool !== null) {
    const forTool = forHost.filter((r) => r.mcp?.tools.includes(span.tool ?? '') === true);
    if (forTool.length === 0) return `no rule allows the MCP tool ${span.tool}`;
    return forTool.map((r) => `rule ${r.name} allows ${span.tool ?? ''} only when ${r.when ?? '(no condition)'}`).join('; ');
  }
  const forMethod = forHost.filter((r) => (r.http?.methods.length ?? 0) === 0 || r.http?.methods.includes(span.method) === true);
  if (forMethod.length === 0) {
    const allowedMethods = [...new Set(forHost.flatMap((r) => r.http?.methods ?? []))].join(', ');
    return `on ${span.host} the rules allow ${allowedMethods} only, not ${span.method}`;
  }
  return forMethod.map((r) => `rule ${r.name} needs ${r.when ?? `one of the paths ${(r.http?.paths ?? []).join(', ')}`}`).join('; ');
}

function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? 'hour' : `${ms / 3_600_000} hours`;
  if (ms % 60_000 === 0) return ms === 60_000 ? 'minute' : `${ms / 60_000} minutes`;
  return `${ms / 1000} s`;
}
