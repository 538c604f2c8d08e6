// `agentwarden test <dir|file>...`: runs policy test suites (*.test.yaml).
//
// Suite format (README, "Policy test suites"):
//   name: support agent            # optional, defaults to the file name
//   policies: [policies/]          # files or folders, relative to the suite
//   pod: pod.yaml                  # a Pod manifest file, or an inline Pod
//   now: "2026-03-02T10:00:00+01:00"   # optional default request time
//   grants: [grants/]              # optional: AgentAccessRequest files or folders (relative to the
//                                  # suite) or inline objects, each Approved with status.expiresAt
//   cases:
//     - name: reads a ticket
//       request: {url: https://api.zendesk.com/api/v2/tickets/T-1}
//       now: ...                   # optional, overrides the suite's
//       repeat: 3                  # optional; expectations apply to the last
//       session: conv-1            # optional: the session this request belongs to: the value of the
//                                  # header a policy's session.key names (header:<name>), or the
//                                  # trace id (32 hex digits) of its traceparent (key trace)
//       expect: {decision: allow, rule: read-tickets, policy: support-agent,
//                audit: deny, auditRule: block-billing, header: authorization,
//                reason: "substring of the reason",
//                grant: <AgentAccessRequest name, or "none">, overriddenRule: <policy/rule, or "none">,
//                approvalRequest: <the name a RequireApproval deny gives, or "none">,
//                sessionId: <session.id>, taints: [labels before the request], added: [labels it added]}
// Cases of a suite run in order against one sidecar state: rate limits, grants (uses,
// first sight) and session taints; grants end at their expiresAt by the case's `now`.
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { compileSnapshot, evaluate, GrantLedger, loadSnapshot, SessionStore, TokenBuckets, PolicyError, parsePod, type AccessRequest, type Decision, type LoadedSnapshot, type PodIdentity } from '../../policy/src/index.js';
import { approvedGrant, loadGrants } from '../../policy/io/access-requests.js';
import { isPlain } from '../../policy/src/fields.js';
import { InputError, loadPod, loadPolicyManifests, readYamlDocuments, withNamespaceLabels } from '../../policy/io/manifests.js';
import { checkRequestFrom } from './request-shorthand.js';
import { parseNow } from './check.js';
import { placeholderSecrets } from './secrets.js';

export interface CaseResult {
  readonly suite: string;
  readonly name: string;
  readonly passed: boolean;
  readonly problems: readonly string[];
}

export interface SuiteRun {
  readonly results: CaseResult[];
  /** Suites that could not run at all (bad files): input errors. */
  readonly errors: string[];
}

const SUITE_FILE = /\.test\.ya?ml$/;

/** Suite files: the given files, and every *.test.yaml under the given folders, sorted. */
export function suiteFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e: unknown) {
      throw new InputError(`${p}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (st.isDirectory()) out.push(...listSuites(p));
    else out.push(p);
  }
  return out;
}

function listSuites(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...listSuites(full));
    else if (SUITE_FILE.test(e.name)) out.push(full);
  }
  return out;
}

export function runSuites(files: readonly string[], clockMs: number): SuiteRun {
  const run: SuiteRun = { results: [], errors: [] };
  for (const file of files) {
    try {
      run.results.push(...runSuite(file, clockMs));
    } catch (e: unknown) {
      if (e instanceof InputError || e instanceof PolicyError) run.errors.push(e.message);
      else throw e;
    }
  }
  return run;
}

function runSuite(file: string, clockMs: number): CaseResult[] {
  const docs = readYamlDocuments(file);
  const suite = docs[0];
  if (!isPlain(suite)) throw new InputError(`${file}: a test suite must be a YAML object`);
  const base = dirname(file);
  const name = typeof suite['name'] === 'string' ? suite['name'] : basename(file);
  const pod = suitePod(suite['pod'], base, file);
  const policyPaths = suite['policies'];
  if (!Array.isArray(policyPaths) || policyPaths.length === 0 || !policyPaths.every((p) => typeof p === 'string')) {
    throw new InputError(`${file}: policies: must be a non-empty list of files or folders`);
  }
  const manifests = loadPolicyManifests(policyPaths.map((p: string) => resolve(base, p)), pod.namespace);
  const grants = suiteGrants(suite['grants'], base, file);
  const loaded = loadSnapshot(compileSnapshot(manifests.policies, withNamespaceLabels(pod, manifests), { resolveSecret: placeholderSecrets, grants }));
  const defaultNow = typeof suite['now'] === 'string' ? parseNow(suite['now'], `${file}: now`) : clockMs;
  const cases = suite['cases'];
  if (!Array.isArray(cases) || cases.length === 0) throw new InputError(`${file}: cases: must be a non-empty list`);
  const limiter = new TokenBuckets();
  const ledger = new GrantLedger();
  const sessions = new SessionStore();
  return cases.map((c: unknown, i) => {
    const field = `${file}: cases[${i}]`;
    if (!isPlain(c)) throw new InputError(`${field}: must be an object`);
    const caseName = typeof c['name'] === 'string' ? c['name'] : `case ${i + 1}`;
    const nowMs = typeof c['now'] === 'string' ? parseNow(c['now'], `${field}.now`) : defaultNow;
    let check;
    try {
      check = checkRequestFrom(withSession(c['request'], c['session'], loaded));
    } catch (e: unknown) {
      throw new InputError(`${field}.${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    const repeat = typeof c['repeat'] === 'number' && Number.isInteger(c['repeat']) && c['repeat'] > 0 ? c['repeat'] : 1;
    let decision: Decision | undefined;
    for (let r = 0; r < repeat; r++) decision = evaluate(loaded, check, { nowMs, rateLimiter: limiter, grants: ledger, sessions });
    if (decision === undefined) throw new InputError(`${field}: nothing evaluated`);
    const problems = compare(c['expect'], decision, `${field}.expect`);
    return { suite: name, name: caseName, passed: problems.length === 0, problems };
  });
}

/**
 * The request shorthand with the case's `session` set where the policies read
 * it: the header of every header:<name> key, the traceparent of a trace key.
 */
function withSession(request: unknown, session: unknown, loaded: LoadedSnapshot): unknown {
  if (session === undefined) return request;
  if (typeof session !== 'string' || session === '') throw new Error('session: must be a non-empty string');
  if (!isPlain(request)) return request;
  const headers: Record<string, unknown> = isPlain(request['headers']) ? { ...request['headers'] } : {};
  let set = false;
  for (const key of loaded.sessionKeys) {
    if (key.kind === 'header') headers[key.header] = session;
    else if (key.kind === 'trace') {
      if (!/^[0-9a-f]{32}$/.test(session)) throw new Error(`session: "${session}" is not a trace id (32 lower-case hex digits), as session key trace needs`);
      headers['traceparent'] = `00-${session}-00f067aa0ba902b7-01`;
    } else continue;
    set = true;
  }
  if (!set) throw new Error('session: no governing policy keys its session by a header or the trace (key pod: the pod is the session)');
  return { ...request, headers };
}

/** The suite's grants: files or folders relative to it, or inline AgentAccessRequest objects. */
function suiteGrants(value: unknown, base: string, file: string): AccessRequest[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InputError(`${file}: grants: must be a list of files, folders or AgentAccessRequest objects`);
  return value.flatMap((g: unknown, i) => {
    if (typeof g === 'string') return loadGrants([resolve(base, g)]);
    if (isPlain(g)) return [approvedGrant(g, `${file}: grants[${i}]`)];
    throw new InputError(`${file}: grants[${i}]: must be a file, a folder or an AgentAccessRequest object`);
  });
}

function suitePod(value: unknown, base: string, file: string): PodIdentity {
  if (typeof value === 'string') return loadPod(resolve(base, value));
  if (isPlain(value)) return parsePod({ kind: 'Pod', ...value }, `${file}: pod`);
  throw new InputError(`${file}: pod: must be a Pod manifest file or an inline Pod`);
}

const EXPECT_KEYS = ['decision', 'rule', 'policy', 'mode', 'audit', 'auditRule', 'header', 'reason', 'grant', 'overriddenRule', 'approvalRequest', 'sessionId', 'taints', 'added'];

function compare(expect: unknown, d: Decision, field: string): string[] {
  if (!isPlain(expect)) throw new InputError(`${field}: must be an object with at least "decision"`);
  for (const key of Object.keys(expect)) if (!EXPECT_KEYS.includes(key)) throw new InputError(`${field}.${key}: unknown expectation (known: ${EXPECT_KEYS.join(', ')})`);
  const problems: string[] = [];
  const got = d.allowed ? 'allow' : 'deny';
  const want = expect['decision'];
  if (want !== 'allow' && want !== 'deny') throw new InputError(`${field}.decision: must be allow or deny`);
  if (want !== got) problems.push(`decision: expected ${want}, got ${got}`);
  const text = (key: string): string | undefined => {
    const w = expect[key];
    if (w === undefined) return undefined;
    if (typeof w !== 'string') throw new InputError(`${field}.${key}: must be a string`);
    return w;
  };
  const labels = (key: string, actual: readonly string[] | undefined): void => {
    const w = expect[key];
    if (w === undefined) return;
    if (!Array.isArray(w) || !w.every((x) => typeof x === 'string')) throw new InputError(`${field}.${key}: must be a list of labels`);
    const want = [...w].sort().join(', ');
    const got = actual === undefined ? '(no session)' : [...actual].sort().join(', ');
    if (want !== got) problems.push(`${key}: expected [${want}], got [${got}]`);
  };
  const eq = (key: string, actual: string | undefined): void => {
    const w = text(key);
    if (w !== undefined && w !== actual) problems.push(`${key}: expected "${w}", got "${actual ?? ''}"`);
  };
  eq('rule', d.rule);
  eq('policy', d.policy);
  eq('mode', d.mode);
  if (expect['audit'] !== undefined) eq('audit', d.auditDecision === null ? 'none' : d.auditDecision.allowed ? 'allow' : 'deny');
  eq('auditRule', d.auditDecision?.rule);
  eq('grant', d.grant?.name ?? 'none');
  eq('overriddenRule', d.grant?.overriddenRule ?? 'none');
  eq('approvalRequest', d.approval?.name ?? 'none');
  if (expect['sessionId'] !== undefined) eq('sessionId', d.session?.id ?? 'none');
  labels('taints', d.session?.taints);
  labels('added', d.session?.added);
  const header = text('header');
  if (header !== undefined) {
    const h = header.toLowerCase();
    if (!d.headers.some(([k]) => k === h)) problems.push(`header: expected credential header "${h}" to be injected, got ${d.headers.length === 0 ? 'none' : d.headers.map(([k]) => k).join(', ')}`);
  }
  const reason = text('reason');
  if (reason !== undefined && !d.reason.includes(reason)) problems.push(`reason: expected to contain "${reason}", got "${d.reason}"`);
  if (problems.length > 0) problems.push(`(reason: ${d.reason})`);
  return problems;
}
