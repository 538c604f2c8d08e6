// Reads AgentPolicy and Pod manifests (decoded YAML or JSON objects) into the
// typed model, applying the CRD's defaults and checking what its schema and
// x-kubernetes-validations check, so that the CLI and standalone sidecar refuse
// exactly what the API server would. CEL conditions are checked by the compiler.
import { PolicyError, Problems } from './errors.js';
import { FieldReader, child, isPlain } from './fields.js';
import { hostPatternProblem } from './hosts.js';
import { parseDurationMs } from './duration.js';
import { parseClock, isTimeZone } from './schedule.js';
import { parseTemplate } from './paths.js';
import { readOAuth2, readRuleCredential, ruleCredentialProblem } from './oauth2-manifest.js';
import {
  DEFAULT_SESSION_KEY, DEFAULT_SESSION_TTL, HTTP_METHODS, MAX_RULE_TAINTS, MAX_RULES, WEEKDAYS,
  type Action, type AgentPolicy, type ClusterScope, type CredentialSpec, type LabelSelector, type LabelSelectorRequirement,
  type PodIdentity, type Rule, type Schedule, type ScheduleWindow, type SessionSpec,
} from './model.js';
import { readAnomaly } from './anomaly-spec.js';

export const API_VERSION = 'agentwarden.io/v1alpha1';
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const MCP_METHOD = /^[A-Za-z0-9_./-]+$/;
/** spec.session.key: pod, trace, or header:<lower-case header name> (never an x-agentwarden-* header, which the agent may not send). */
export const SESSION_KEY = /^(pod|trace|header:(?!x-agentwarden-)[a-z0-9!#$%&'*+.^_`|~-]+)$/;

/** Names an object for error messages: "AgentPolicy support/support-agent". */
function objectName(kind: string, value: unknown): string {
  const meta = isPlain(value) && isPlain(value['metadata']) ? value['metadata'] : {};
  const name = typeof meta['name'] === 'string' ? meta['name'] : '<unnamed>';
  const ns = typeof meta['namespace'] === 'string' ? `${meta['namespace']}/` : '';
  return `${kind} ${ns}${name}`;
}

export function isAgentPolicyManifest(value: unknown): boolean {
  return isPlain(value) && value['kind'] === 'AgentPolicy';
}

export function isClusterAgentPolicyManifest(value: unknown): boolean {
  return isPlain(value) && value['kind'] === 'ClusterAgentPolicy';
}

/**
 * Reads one AgentPolicy. `defaultNamespace` applies when metadata.namespace is
 * absent (as kubectl applies the context namespace). Throws PolicyError listing
 * every problem with its field path.
 */
export function parseAgentPolicy(value: unknown, source: string, defaultNamespace: string): AgentPolicy {
  return parsePolicy('AgentPolicy', value, source, defaultNamespace);
}

/**
 * Reads one ClusterAgentPolicy (cluster-scoped: metadata.namespace must be
 * absent). Same rule schema as AgentPolicy, without credentials: the Secrets a
 * credential names live in a namespace, and a platform policy has none.
 */
export function parseClusterAgentPolicy(value: unknown, source: string): AgentPolicy {
  return parsePolicy('ClusterAgentPolicy', value, source, '');
}

/** Reads an AgentPolicy or a ClusterAgentPolicy, whichever `kind` says. */
export function parseAnyPolicy(value: unknown, source: string, defaultNamespace: string): AgentPolicy {
  return isClusterAgentPolicyManifest(value) ? parseClusterAgentPolicy(value, source) : parseAgentPolicy(value, source, defaultNamespace);
}

type PolicyKind = 'AgentPolicy' | 'ClusterAgentPolicy';

/** What every agentwarden object starts with, read: apiVersion, kind, metadata.name. */
export interface ObjectHead {
  /** "AgentPolicy support/support-agent", for messages. */
  readonly object: string;
  readonly root: FieldReader;
  readonly meta: FieldReader | undefined;
  readonly name: string;
}

/** Reads the head of a `kind` object into `problems`; throws PolicyError when `value` is not an object at all. */
export function readHead(kind: string, value: unknown, source: string, problems: Problems): ObjectHead {
  const object = objectName(kind, value);
  const root = FieldReader.of(problems, '', value);
  if (root === undefined) throw new PolicyError(source, object, [{ field: '(root)', message: 'must be an object' }]);
  root.rejectUnknown(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  const apiVersion = root.string('apiVersion', { required: true });
  if (apiVersion !== undefined && apiVersion !== API_VERSION) problems.add('apiVersion', `must be ${API_VERSION}, got "${apiVersion}"`);
  if (root.string('kind', { required: true }) !== kind) problems.add('kind', `must be ${kind}`);
  const meta = root.object('metadata', true);
  const name = meta?.string('name', { required: true, maxLength: 253, pattern: DNS_SUBDOMAIN, patternHint: 'a DNS subdomain name' }) ?? '';
  return { object, root, meta, name };
}

function parsePolicy(kind: PolicyKind, value: unknown, source: string, defaultNamespace: string): AgentPolicy {
  const cluster = kind === 'ClusterAgentPolicy';
  const problems = new Problems();
  const { object, root, meta, name } = readHead(kind, value, source, problems);
  const declaredNamespace = meta?.string('namespace', { maxLength: 63, pattern: DNS_LABEL, patternHint: 'a DNS label' });
  if (cluster && declaredNamespace !== undefined && declaredNamespace !== '') problems.add('metadata.namespace', 'must be absent: ClusterAgentPolicy is cluster-scoped');
  const namespace = cluster ? '' : declaredNamespace ?? defaultNamespace;
  const generation = meta?.integer('generation', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? 0;
  const spec = root.object('spec', true);
  let policy: AgentPolicy | undefined;
  if (spec !== undefined) {
    spec.rejectUnknown(cluster ? ['namespaceSelector', 'podSelector', 'ceiling', 'mode', 'rules'] : ['podSelector', 'mode', 'rules', 'credentials', 'session', 'anomaly']);
    const selector = spec.object('podSelector', !cluster);
    const credentials = cluster ? [] : readCredentials(spec);
    const credentialNames = new Set(credentials.map((c) => c.name));
    const credentialSpecs = new Map(credentials.map((c) => [c.name, c]));
    // The ClusterAgentPolicy CRD's action enum has no RequireApproval: the platform's
    // guardrails deny or bound; asking a human is the namespace owner's call.
    const rules = readRules(spec, problems, { actions: cluster ? ['Allow', 'Deny'] : ['Allow', 'Deny', 'RequireApproval'], credentialNames, credentialSpecs });
    const scope = cluster ? readClusterScope(spec) : undefined;
    // As the CRD's x-kubernetes-validations says.
    if (scope?.ceiling === true && rules.length > 0 && !rules.some((r) => r.action === 'Allow')) {
      problems.add('spec.rules', 'a ceiling policy needs at least one Allow rule (with none, it would deny everything namespaced policies allow)');
    }
    policy = {
      name, namespace, generation, source,
      podSelector: selector === undefined ? { matchLabels: {}, matchExpressions: [] } : readSelector(selector),
      mode: spec.enumString('mode', ['Enforce', 'Audit'], 'Enforce'),
      rules,
      credentials,
      ...(cluster ? {} : optional('session', readSession(spec, problems))),
      ...(cluster ? {} : optional('anomaly', readAnomaly(spec, problems))),
      ...(scope === undefined ? {} : { cluster: scope }),
    };
  }
  if (!problems.empty || policy === undefined) throw new PolicyError(source, object, problems.list);
  return policy;
}

function readClusterScope(spec: FieldReader): ClusterScope {
  const selector = spec.object('namespaceSelector');
  return {
    namespaceSelector: selector === undefined ? { matchLabels: {}, matchExpressions: [] } : readSelector(selector),
    ceiling: spec.boolean('ceiling') ?? false,
  };
}

export function readSelector(sel: FieldReader): LabelSelector {
  sel.rejectUnknown(['matchLabels', 'matchExpressions']);
  const matchLabels = sel.stringMap('matchLabels', { maxLength: 63 });
  const matchExpressions = sel.list('matchExpressions', { max: 64 }, (v, path): LabelSelectorRequirement | undefined => {
    const r = sel.reader(path, v);
    if (r === undefined) return undefined;
    r.rejectUnknown(['key', 'operator', 'values']);
    const key = r.string('key', { required: true, maxLength: 317 }) ?? '';
    const operator = r.enumString('operator', ['In', 'NotIn', 'Exists', 'DoesNotExist'], 'In');
    const values = r.stringList('values', { max: 256, maxLength: 63 });
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) sel.report(child(path, 'values'), `must be non-empty for operator ${operator}`);
    if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) sel.report(child(path, 'values'), `must be empty for operator ${operator}`);
    return { key, operator, values };
  });
  return { matchLabels, matchExpressions };
}

/** What rules may say where they are read: which actions, which credentials (undefined: any name, checked when compiled). */
export interface RuleListOptions {
  readonly actions: readonly Action[];
  readonly credentialNames: ReadonlySet<string> | undefined;
  /** The declared credentials, to check a rule's oauth2 scopes against (absent: checked when compiled). */
  readonly credentialSpecs?: ReadonlyMap<string, CredentialSpec>;
  readonly required?: boolean;
}

export function readRules(spec: FieldReader, problems: Problems, options: RuleListOptions): Rule[] {
  const names = new Set<string>();
  return spec.list('rules', { required: options.required ?? true, min: options.required === false ? 0 : 1, max: MAX_RULES }, (v, path) => {
    const r = spec.reader(path, v);
    if (r === undefined) return undefined;
    r.rejectUnknown(['name', 'action', 'to', 'http', 'mcp', 'when', 'schedule', 'rateLimit', 'credential', 'taints']);
    const name = r.string('name', { required: true, maxLength: 63, pattern: DNS_LABEL, patternHint: 'a DNS label (lower-case letters, digits, "-")' }) ?? '';
    if (name !== '' && names.has(name)) problems.add(child(path, 'name'), `duplicate rule name "${name}"`);
    names.add(name);
    const to = r.object('to', true);
    to?.rejectUnknown(['hosts', 'ports']);
    const hosts = to?.stringList('hosts', { required: true, min: 1, max: 64, maxLength: 253, unique: true }) ?? [];
    hosts.forEach((h, i) => {
      const problem = hostPatternProblem(h);
      if (problem !== undefined) problems.add(child(child(child(path, 'to'), 'hosts'), i), `"${h}" ${problem}`);
    });
    const ports = to?.list('ports', { max: 64 }, (p, ppath) => {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
        problems.add(ppath, 'must be an integer port between 1 and 65535');
        return undefined;
      }
      return p;
    }) ?? [];
    const credential = readRuleCredential(r, problems, path);
    const rule: Rule = {
      name,
      action: r.enumString('action', options.actions, 'Allow'),
      to: { hosts, ports },
      ...optional('http', readHttp(r, problems)),
      ...optional('mcp', readMcp(r)),
      ...optional('when', r.string('when', { maxLength: 4096 })),
      ...optional('schedule', readSchedule(r, problems)),
      ...optional('rateLimit', readRateLimit(r, problems)),
      ...optional('credential', credential?.name),
      ...optional('credentialScopes', credential?.scopes),
      ...optional('taints', r.has('taints') ? r.stringList('taints', { min: 1, max: MAX_RULE_TAINTS, maxLength: 63, pattern: DNS_LABEL, patternHint: 'a DNS label', unique: true }) : undefined),
    };
    if (rule.taints !== undefined && rule.action === 'Deny') problems.add(child(path, 'taints'), 'a Deny rule never allows, so it adds no taints');
    if (rule.credential !== undefined && options.credentialNames !== undefined && !options.credentialNames.has(rule.credential)) {
      problems.add(child(path, 'credential'), `names credential "${rule.credential}", which spec.credentials does not declare`);
    }
    const declared = credential === undefined ? undefined : options.credentialSpecs?.get(credential.name);
    const scopeProblem = credential === undefined || declared === undefined ? undefined : ruleCredentialProblem(credential, declared);
    if (scopeProblem !== undefined) problems.add(child(child(path, 'credential'), 'scopes'), scopeProblem);
    return rule;
  });
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function readSession(spec: FieldReader, problems: Problems): SessionSpec | undefined {
  const s = spec.object('session');
  if (s === undefined) return undefined;
  s.rejectUnknown(['key', 'ttl']);
  const key = s.string('key', { maxLength: 263, pattern: SESSION_KEY, patternHint: 'pod, trace or header:<lower-case header name>', default: DEFAULT_SESSION_KEY }) ?? DEFAULT_SESSION_KEY;
  const ttl = s.string('ttl', { maxLength: 32, default: DEFAULT_SESSION_TTL }) ?? DEFAULT_SESSION_TTL;
  const ms = parseDurationMs(ttl);
  if (ms === undefined || ms <= 0) problems.add(child(s.path, 'ttl'), `"${ttl}" is not a positive duration such as 30m or 1h`);
  return { key, ttl };
}

function readHttp(rule: FieldReader, problems: Problems): Rule['http'] {
  const http = rule.object('http');
  if (http === undefined) return undefined;
  http.rejectUnknown(['methods', 'paths']);
  const methods = http.stringList('methods', { max: HTTP_METHODS.length, maxLength: 7, unique: true }).map((m, i) => {
    if (!(HTTP_METHODS as readonly string[]).includes(m)) problems.add(child(child(http.path, 'methods'), i), `must be one of ${HTTP_METHODS.join(', ')}, got "${m}"`);
    return m;
  });
  const paths = http.stringList('paths', { max: 64, maxLength: 1024, unique: true });
  paths.forEach((p, i) => {
    const parsed = parseTemplate(p);
    if (typeof parsed === 'string') problems.add(child(child(http.path, 'paths'), i), `"${p}": ${parsed}`);
  });
  return { methods, paths };
}

function readMcp(rule: FieldReader): Rule['mcp'] {
  const mcp = rule.object('mcp');
  if (mcp === undefined) return undefined;
  mcp.rejectUnknown(['methods', 'tools']);
  const methods = mcp.has('methods')
    ? mcp.stringList('methods', { max: 32, maxLength: 128, pattern: MCP_METHOD, patternHint: 'a JSON-RPC method name', unique: true })
    : ['tools/call'];
  const tools = mcp.stringList('tools', { max: 64, maxLength: 1024, unique: true });
  return { methods, tools };
}

function readSchedule(rule: FieldReader, problems: Problems): Schedule | undefined {
  const s = rule.object('schedule');
  if (s === undefined) return undefined;
  s.rejectUnknown(['timezone', 'windows']);
  const timezone = s.string('timezone', { maxLength: 64, default: 'UTC' }) ?? 'UTC';
  if (!isTimeZone(timezone)) problems.add(child(s.path, 'timezone'), `"${timezone}" is not an IANA time zone`);
  const windows = s.list('windows', { required: true, min: 1, max: 32 }, (v, path): ScheduleWindow | undefined => {
    const w = s.reader(path, v);
    if (w === undefined) return undefined;
    w.rejectUnknown(['days', 'start', 'end']);
    // Omitted days: every day (as the CRD's default says).
    const days = w.has('days') ? w.stringList('days', { min: 1, max: 7, maxLength: 3, unique: true }) : [...WEEKDAYS];
    days.forEach((d, i) => {
      if (!(WEEKDAYS as readonly string[]).includes(d)) problems.add(child(child(path, 'days'), i), `must be one of ${WEEKDAYS.join(', ')}, got "${d}"`);
    });
    const start = w.string('start', { required: true, maxLength: 5 }) ?? '00:00';
    const end = w.string('end', { required: true, maxLength: 5 }) ?? '24:00';
    const s0 = parseClock(start);
    const e0 = parseClock(end);
    if (s0 === undefined || s0 === 1440) problems.add(child(path, 'start'), `"${start}" is not a time HH:MM between 00:00 and 23:59`);
    if (e0 === undefined) problems.add(child(path, 'end'), `"${end}" is not a time HH:MM between 00:00 and 24:00`);
    if (s0 !== undefined && e0 !== undefined && s0 >= e0) problems.add(path, `start ${start} must be before end ${end} (split overnight windows in two)`);
    return { days: days as ScheduleWindow['days'], start, end };
  });
  return { timezone, windows };
}

function readRateLimit(rule: FieldReader, problems: Problems): Rule['rateLimit'] {
  const rl = rule.object('rateLimit');
  if (rl === undefined) return undefined;
  rl.rejectUnknown(['requests', 'per']);
  const requests = rl.integer('requests', { required: true, min: 1, max: 1_000_000 }) ?? 1;
  const per = rl.string('per', { required: true, maxLength: 32 }) ?? '1m';
  const ms = parseDurationMs(per);
  if (ms === undefined || ms <= 0) problems.add(child(rl.path, 'per'), `"${per}" is not a positive duration such as 30s, 1m or 1h`);
  return { requests, per };
}

function readCredentials(spec: FieldReader): CredentialSpec[] {
  const names = new Set<string>();
  return spec.list('credentials', { max: 64 }, (v, path) => {
    const c = spec.reader(path, v);
    return c === undefined ? undefined : readCredential(c, names);
  });
}

function readCredential(c: FieldReader, names: Set<string>): CredentialSpec | undefined {
  c.rejectUnknown(['name', 'secretRef', 'oauth2', 'header', 'prefix']);
  const name = c.string('name', { required: true, maxLength: 63, pattern: DNS_LABEL, patternHint: 'a DNS label' }) ?? '';
  if (name !== '' && names.has(name)) c.report(child(c.path, 'name'), `duplicate credential name "${name}"`);
  names.add(name);
  const oauth2 = readOAuth2(c);
  // Exactly one source: a static Secret value, or tokens the controller brokers.
  if (oauth2 !== undefined && c.has('secretRef')) c.report(c.path, 'has both secretRef and oauth2; a credential is either a Secret value or a brokered OAuth token');
  const ref = oauth2 === undefined ? c.object('secretRef', true) : undefined;
  ref?.rejectUnknown(['name', 'key']);
  const secretName = ref?.string('name', { required: true, maxLength: 253, pattern: DNS_SUBDOMAIN, patternHint: 'a Secret name' }) ?? '';
  const key = ref?.string('key', { required: true, maxLength: 253, pattern: SECRET_KEY, patternHint: 'a Secret data key' }) ?? '';
  const header = c.string('header', { maxLength: 256, pattern: HEADER_NAME, patternHint: 'an HTTP header name', default: 'Authorization' }) ?? 'Authorization';
  const prefix = c.string('prefix', { maxLength: 256, pattern: /^[\x20-\x7e]*$/, patternHint: 'printable ASCII', default: 'Bearer ' }) ?? 'Bearer ';
  return { name, ...(oauth2 === undefined ? { secretRef: { name: secretName, key } } : { oauth2 }), header, prefix };
}

/** Reads the identity of a Pod manifest: namespace, name, service account, labels. */
export function parsePod(value: unknown, source: string): PodIdentity {
  const problems = new Problems();
  const object = objectName('Pod', value);
  const root = FieldReader.of(problems, '', value);
  if (root === undefined) throw new PolicyError(source, object, [{ field: '(root)', message: 'must be an object' }]);
  if (root.string('kind', { required: true }) !== 'Pod') problems.add('kind', 'must be Pod');
  const meta = root.object('metadata', true);
  const name = meta?.string('name', { required: true, maxLength: 253, pattern: DNS_SUBDOMAIN, patternHint: 'a DNS subdomain name' }) ?? '';
  const namespace = meta?.string('namespace', { maxLength: 63, pattern: DNS_LABEL, patternHint: 'a DNS label', default: 'default' }) ?? 'default';
  const labels = meta?.stringMap('labels', { maxLength: 63 }) ?? {};
  const spec = root.object('spec');
  const serviceAccount = spec?.string('serviceAccountName', { maxLength: 253, default: 'default' }) ?? 'default';
  if (!problems.empty) throw new PolicyError(source, object, problems.list);
  return { namespace, name, serviceAccount, labels };
}
