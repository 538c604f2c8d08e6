// The policy core: model, manifests, compiler, loader, evaluator. Pure: no
// network, Kubernetes client, files, clock or telemetry inside.
export type * from './model.js';
export type * from './decision.js';
export { MAX_SESSION_LINKS, RULE_CLUSTER_CEILING, RULE_DEFAULT_DENY, RULE_INVALID_REQUEST, RULE_NO_POLICY_LOADED } from './decision.js';
export { PolicyError } from './errors.js';
export { parseAgentPolicy, parseClusterAgentPolicy, parseAnyPolicy, parsePod, isAgentPolicyManifest, isClusterAgentPolicyManifest, API_VERSION } from './manifest.js';
export { compileSnapshot, checkPolicy, checkAccessRequest, policyObjectName, snapshotVersion, AggregateCompileError, type CompileOptions, type SecretResolver, type SecretRevision } from './compile.js';
export { loadSnapshot, SnapshotLoadError, type HeldToken, type LoadedSnapshot } from './load.js';
export { evaluate, type EvaluateContext } from './evaluate.js';
export type * from './check-request.js';
export { decodeCheckRequest } from './check-request-wire.js';
export { headerMapValue } from './request.js';
export { TokenBuckets, type RateLimiter } from './ratelimit.js';
export { SessionStore, DEFAULT_MAX_SESSIONS, DEFAULT_MAX_TAINTS_PER_SESSION, type SessionStoreOptions, type SessionStats, type TaintEntry, type TaintOrigin } from './session-store.js';
export { traceIdOf } from './session-facts.js';
export { governingPolicies, governs, selectorMatches, NAMESPACE_NAME_LABEL } from './selector.js';
export { parseAccessRequest, isAccessRequestManifest, activeGrants, grantSelects, ACCESS_REQUEST_KIND } from './access-request.js';
export { operationOf, canonicalJson, redactedJson, approvalRequestName, operationSummary, operationKeyOf, SECRET_LOOKING_KEY, REDACTED } from './operation.js';
export { GrantLedger, type GrantUse, type LedgerGrant } from './grant-ledger.js';
export { REASON_APPROVAL_REQUIRED } from './decision.js';
export type { LoadedGrant } from './load.js';
export type { RequestView } from './request-view.js';
export { credentialSecret, effectiveScopes, tokenUrlProblem, SCOPE_TOKEN } from './oauth2-manifest.js';
export { OAUTH2_CLIENT_ID_KEY, OAUTH2_CLIENT_SECRET_KEY } from './model.js';
export { REASON_CREDENTIAL_UNAVAILABLE } from './decision.js';
export type { TokenLease, TokenResolver } from './compile.js';
