// Admission webhooks: /mutate-pods (injection), /validate-agentpolicies,
// /validate-pods (pod guard), and the AgentAccessRequest webhooks
// (/validate-agentaccessrequests, /validate-agentaccessrequests-status,
// /mutate-agentaccessrequests-status). Pure deciders plus an HTTPS shell.
export { createWebhookApp, WEBHOOK_PATHS, type WebhookDeps, type WebhookLog } from './app.js';
export { startWebhookServer, type WebhookServerOptions, type RunningWebhookServer } from './server.js';
export { freshNamespaceLabels, DEFAULT_NAMESPACE_TIMEOUT_MS, type NamespaceLabels, type FreshNamespaceOptions } from './namespaces.js';
export { WebhookMetrics, type ReviewOutcome } from './metrics.js';
export { parseReview, allow, deny, reviewResponse, REVIEW_API_VERSION, type AdmissionRequest, type AdmissionResponse, type Operation } from './review.js';
export { reviewPodMutation } from './mutate.js';
export { reviewAgentPolicy, type PoliciesInScope } from './validate-policy.js';
export { policiesInScopeOf } from './policies-in-scope.js';
export { policyWarnings } from './policy-warnings.js';
export { guardPod, type GuardInput } from './pod-guard.js';
export { reviewAccessRequest, mutateAccessRequestStatus, validateAccessRequestStatus, type AccessRequestWebhookDeps, type PodLookup } from './access-requests.js';
