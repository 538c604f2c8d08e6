// Test helpers for approvals and break-glass: AgentAccessRequest manifests
// written as YAML, and an agent whose snapshot carries grants and whose
// decisions go through one GrantLedger, as the sidecar's do.
import {
  compileSnapshot, evaluate, GrantLedger, loadSnapshot, parseAccessRequest, TokenBuckets,
  type AccessRequest, type AgentPolicy, type Decision, type LoadedSnapshot, type PodIdentity,
} from '../src/index.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import { fakeSecrets, NAMESPACE, POD, TUESDAY_10_BERLIN, yaml } from './helpers.js';

export const NOW = TUESDAY_10_BERLIN;
export const MINUTE = 60_000;

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** An AgentAccessRequest named `name` with `spec` written as YAML, approved (expiring 15 minutes after NOW) unless `status` says otherwise. */
export function accessRequest(name: string, spec: string, status: Record<string, unknown> = { state: 'Approved', approvedBy: 'alice', expiresAt: iso(NOW + 15 * MINUTE) }): AccessRequest {
  return parseAccessRequest({ apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name, namespace: NAMESPACE, uid: `uid-${name}` }, spec: yaml(spec), status }, `${name}.yaml`);
}

export interface GrantedAgent {
  readonly loaded: LoadedSnapshot;
  readonly ledger: GrantLedger;
  /** Decides `request` at the sidecar's clock `clock` (default NOW); `time` is the request's attributes.request.time. */
  check(request: RequestShorthand, opts?: { readonly clock?: number; readonly time?: number }): Decision;
}

export function grantedAgent(policies: readonly AgentPolicy[], grants: readonly AccessRequest[], pod: PodIdentity = POD): GrantedAgent {
  const loaded = loadSnapshot(compileSnapshot(policies, pod, { resolveSecret: fakeSecrets, grants }));
  const ledger = new GrantLedger();
  const limiter = new TokenBuckets();
  return {
    loaded, ledger,
    check: (request, opts = {}) => evaluate(loaded, checkRequestFrom(request, opts.time), { nowMs: opts.clock ?? NOW, rateLimiter: limiter, grants: ledger }),
  };
}
