// `agentwarden check --policy <file|dir> --pod <pod.yaml> --request <checkrequest.json> [--request ...] [--grant <file|dir>] [--now RFC3339]`
// Several requests are decided in order against one sidecar state: rate limits, grant uses, session taints.
import { readFileSync } from 'node:fs';
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { CheckRequestSchema, type CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { compileSnapshot, evaluate, GrantLedger, loadSnapshot, SessionStore, TokenBuckets, type Decision } from '../../policy/src/index.js';
import { loadGrants } from '../../policy/io/access-requests.js';
import { InputError, loadPod, loadPolicyManifests, withNamespaceLabels } from '../../policy/io/manifests.js';
import { placeholderSecrets } from './secrets.js';

export interface CheckArgs {
  readonly policy: readonly string[];
  readonly pod: string;
  /** CheckRequest JSON files, decided in order. */
  readonly request: readonly string[];
  readonly now: string | undefined;
  /** AgentAccessRequest files or folders: Approved requests, compiled in as the pod's active grants. */
  readonly grant?: readonly string[];
}

/**
 * The JSON the CLI prints for a decision (no credential values). A decision a
 * grant made adds `grant` (its name) and `overriddenRule` ("policy/rule" or
 * null); a RequireApproval deny adds `approvalRequest` (the AgentAccessRequest's name);
 * a decision under a policy with sessions adds `session` {id, taints, added}.
 */
export function decisionJson(d: Decision): Record<string, unknown> {
  return {
    allowed: d.allowed, mode: d.mode, policy: d.policy, rule: d.rule, reason: d.reason, auditDecision: d.auditDecision,
    ...(d.grant === undefined ? {} : { grant: d.grant.name, overriddenRule: d.grant.overriddenRule }),
    ...(d.approval === undefined ? {} : { approvalRequest: d.approval.name }),
    ...(d.session === undefined ? {} : { session: { id: d.session.id, taints: d.session.taints, added: d.session.added } }),
  };
}

export function parseNow(text: string, field: string): number {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) throw new InputError(`${field}: "${text}" is not an RFC 3339 time such as 2026-03-02T10:00:00+01:00`);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InputError(`${field}: "${text}" is not a valid time`);
  return ms;
}

/** The decisions of args.request, in order, against one state (rate limits, grants, sessions). */
export function runCheck(args: CheckArgs, clockMs: number): Decision[] {
  const bare = loadPod(args.pod);
  // ClusterAgentPolicies come with the AgentPolicies; Namespace manifests there give the labels their namespaceSelectors see.
  const manifests = loadPolicyManifests(args.policy, bare.namespace);
  const grants = loadGrants(args.grant ?? []);
  const loaded = loadSnapshot(compileSnapshot(manifests.policies, withNamespaceLabels(bare, manifests), { resolveSecret: placeholderSecrets, grants }));
  const checks = args.request.map((file) => readCheckRequest(file));
  const nowMs = args.now === undefined ? clockMs : parseNow(args.now, '--now');
  // Grants end by this clock (--now), as by the sidecar's own: never by the request's time.
  const ctx = { nowMs, rateLimiter: new TokenBuckets(), grants: new GrantLedger(), sessions: new SessionStore() };
  return checks.map((check) => evaluate(loaded, check, ctx));
}

function readCheckRequest(file: string): CheckRequest {
  let json: JsonValue;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as JsonValue;
  } catch (e: unknown) {
    throw new InputError(`${file}: not a JSON CheckRequest: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  try {
    return fromJson(CheckRequestSchema, json);
  } catch (e: unknown) {
    throw new InputError(`${file}: invalid CheckRequest: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
