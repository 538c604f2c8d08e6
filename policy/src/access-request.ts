// Reads AgentAccessRequest manifests (agentwarden.io/v1alpha1) into the typed
// model, checking what the CRD's schema checks, and says which requests are
// active grants for a pod. The status transitions are the webhooks' business.
import { PolicyError, Problems } from './errors.js';
import { FieldReader, child } from './fields.js';
import { parseDurationMs } from './duration.js';
import { DNS_LABEL, DNS_SUBDOMAIN, readHead, readRules, readSelector } from './manifest.js';
import { HTTP_METHODS, type AccessRequest, type AccessRequestState, type OperationSpec, type PodIdentity } from './model.js';
import { selectorMatches } from './selector.js';

export const ACCESS_REQUEST_KIND = 'AgentAccessRequest';
const STATES: readonly AccessRequestState[] = ['Pending', 'Approved', 'Denied', 'Expired', 'ReviewRequired', 'Reviewed'];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const MCP_METHOD = /^[A-Za-z0-9_./-]+$/;

export function isAccessRequestManifest(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && (value as Record<string, unknown>)['kind'] === ACCESS_REQUEST_KIND;
}

/**
 * Reads one AgentAccessRequest. metadata.namespace is required (the object is
 * namespaced and a grant must never land in another namespace); metadata.uid
 * defaults to "<namespace>/<name>" (a file). Throws PolicyError naming `source`,
 * the object and every field at fault.
 */
export function parseAccessRequest(value: unknown, source: string): AccessRequest {
  const problems = new Problems();
  const { object, root, meta, name } = readHead(ACCESS_REQUEST_KIND, value, source, problems);
  const namespace = meta?.string('namespace', { required: true, maxLength: 63, pattern: DNS_LABEL, patternHint: 'a DNS label' }) ?? '';
  const uid = meta?.string('uid', { maxLength: 128 }) ?? `${namespace}/${name}`;
  const spec = root.object('spec', true);
  const status = root.object('status');
  if (spec === undefined) throw new PolicyError(source, object, problems.list);
  spec.rejectUnknown(['pod', 'podSelector', 'serviceAccount', 'operation', 'rules', 'duration', 'justification', 'uses', 'origin']);
  const pod = spec.string('pod', { maxLength: 253, pattern: DNS_SUBDOMAIN, patternHint: 'a Pod name' });
  const selectorReader = spec.object('podSelector');
  if ((pod === undefined) === (selectorReader === undefined)) problems.add('spec.pod', 'set exactly one of spec.pod and spec.podSelector');
  const serviceAccount = spec.string('serviceAccount', { required: true, maxLength: 253, pattern: DNS_SUBDOMAIN, patternHint: 'a ServiceAccount name' }) ?? '';
  // Break-glass rules: Allow only; credentials name those of a governing policy (checked when compiled).
  const rules = readRules(spec, problems, { actions: ['Allow'], credentialNames: undefined, required: false });
  const kind = rules.length > 0 ? 'break-glass' : 'approval';
  const operation = readOperation(spec.object('operation'));
  if (kind === 'approval' && operation === undefined && !spec.has('rules')) problems.add('spec.operation', 'required unless spec.rules asks for break-glass rules');
  if (kind === 'break-glass' && spec.has('operation')) problems.add('spec.operation', 'set either spec.operation (approval) or spec.rules (break-glass), not both');
  const specDuration = readDuration(spec, 'duration', true);
  const justification = spec.string('justification', { maxLength: 4096 }) ?? '';
  if (kind === 'break-glass' && justification.trim() === '') problems.add('spec.justification', 'required for break-glass (spec.rules is set)');
  const uses = spec.integer('uses', { min: 0, max: 1_000_000 }) ?? 0;
  if (kind === 'break-glass' && uses > 0) problems.add('spec.uses', 'applies to approval requests only (spec.operation), not break-glass');
  const origin = readOrigin(spec.object('origin'));
  const state = status?.enumString('state', STATES, 'Pending') ?? 'Pending';
  const approvedBy = status?.string('approvedBy', { maxLength: 512 }) ?? '';
  const statusDuration = status === undefined ? undefined : readDuration(status, 'duration', false);
  const expiresAtMs = status === undefined ? 0 : readTime(status, 'expiresAt', problems);
  if (state === 'Approved' && expiresAtMs === 0) problems.add('status.expiresAt', 'required when status.state is Approved');
  if (!problems.empty) throw new PolicyError(source, object, problems.list);
  const duration = statusDuration ?? specDuration;
  return {
    name, namespace, uid, source,
    ...(pod === undefined ? {} : { pod }),
    ...(selectorReader === undefined ? {} : { podSelector: readSelector(selectorReader) }),
    serviceAccount,
    ...(operation === undefined || kind !== 'approval' ? {} : { operation }),
    rules, kind,
    duration: duration?.text ?? '', durationMs: duration?.ms ?? 0,
    justification, uses,
    ...(origin === undefined ? {} : { origin }),
    state, approvedBy, expiresAtMs,
  };
}

function readDuration(r: FieldReader, key: string, required: boolean): { readonly text: string; readonly ms: number } | undefined {
  const text = r.string(key, { required, maxLength: 32 });
  if (text === undefined) return undefined;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) {
    r.report(child(r.path, key), `"${text}" is not a positive duration such as 15m or 1h`);
    return undefined;
  }
  return { text, ms };
}

function readTime(r: FieldReader, key: string, problems: Problems): number {
  const text = r.string(key, { maxLength: 64 });
  if (text === undefined) return 0;
  const ms = RFC3339.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) {
    problems.add(child(r.path, key), `"${text}" is not an RFC 3339 time such as 2026-03-02T10:15:00Z`);
    return 0;
  }
  return ms;
}

function readOperation(op: FieldReader | undefined): OperationSpec | undefined {
  if (op === undefined) return undefined;
  op.rejectUnknown(['method', 'host', 'port', 'path', 'query', 'mcp']);
  const method = op.string('method', { required: true, maxLength: 7 }) ?? '';
  if (method !== '' && !(HTTP_METHODS as readonly string[]).includes(method)) op.report(child(op.path, 'method'), `must be one of ${HTTP_METHODS.join(', ')} (upper case), got "${method}"`);
  const host = op.string('host', { required: true, maxLength: 253, pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$|^\[[0-9a-f:.]+\]$/, patternHint: 'a lower-case host name without port' }) ?? '';
  const port = op.integer('port', { required: true, min: 1, max: 65535 }) ?? 0;
  const path = op.string('path', { required: true, maxLength: 8192, pattern: /^\/[^?#]*$/, patternHint: 'a path starting with "/", without query' }) ?? '';
  const query = op.string('query', { maxLength: 8192, pattern: /^[^#]*$/, patternHint: 'a raw query string without "?"', default: '' }) ?? '';
  const mcp = op.object('mcp');
  if (mcp === undefined) return { method, host, port, path, query };
  mcp.rejectUnknown(['method', 'tool', 'arguments']);
  const mcpMethod = mcp.string('method', { maxLength: 128, pattern: MCP_METHOD, patternHint: 'a JSON-RPC method name', default: 'tools/call' }) ?? 'tools/call';
  const tool = mcp.string('tool', { maxLength: 1024, default: '' }) ?? '';
  const args = mcp.object('arguments');
  const argsValue: unknown = args === undefined ? {} : mcp.raw('arguments');
  return { method, host, port, path, query, mcp: { method: mcpMethod, tool, arguments: argsValue as Readonly<Record<string, unknown>> } };
}

function readOrigin(o: FieldReader | undefined): AccessRequest['origin'] {
  if (o === undefined) return undefined;
  o.rejectUnknown(['policy', 'rule', 'decisionId']);
  return {
    policy: o.string('policy', { required: true, maxLength: 253 }) ?? '',
    rule: o.string('rule', { required: true, maxLength: 63 }) ?? '',
    decisionId: o.string('decisionId', { maxLength: 128 }) ?? '',
  };
}

/** Whether `request` is for `pod`: same namespace and ServiceAccount, and its pod name or selector. */
export function grantSelects(request: AccessRequest, pod: PodIdentity): boolean {
  if (request.namespace !== pod.namespace || request.serviceAccount !== pod.serviceAccount) return false;
  if (request.pod !== undefined) return request.pod === pod.name;
  return request.podSelector !== undefined && selectorMatches(request.podSelector, pod.labels);
}

/** The approved, unexpired requests for `pod` at `nowMs`: what its snapshot carries as grants. */
export function activeGrants(requests: readonly AccessRequest[], pod: PodIdentity, nowMs: number): AccessRequest[] {
  return requests.filter((r) => r.state === 'Approved' && r.expiresAtMs > nowMs && grantSelects(r, pod));
}
