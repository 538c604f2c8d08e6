// The admission webhooks as an express app (no TLS here: server.ts serves it
// over HTTPS; tests may call it over plain HTTP).
//
// A body that is not an AdmissionReview v1 with a request.uid is answered with
// HTTP 400 and a plain-text reason: there is no uid to answer to, and the API
// server rejects a response whose uid does not match anyway. With failurePolicy
// Fail the API server then refuses the object, so a malformed review never
// fails open. A well-formed review that cannot be decided (a namespace lookup
// fails, an unexpected error) is answered allowed: false with the reason, so
// the user sees it in kubectl's message.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { V1Pod } from '@kubernetes/client-node';
import type { InjectOptions } from '../inject/index.js';
import { allow, deny, parseReview, reviewResponse, type AdmissionRequest, type AdmissionResponse } from './review.js';
import { reviewPodMutation, podName } from './mutate.js';
import { reviewAgentPolicy, type PoliciesInScope } from './validate-policy.js';
import { guardPod } from './pod-guard.js';
import type { NamespaceLabels } from './namespaces.js';
import { WebhookMetrics, type ReviewOutcome } from './metrics.js';
import { mutateAccessRequestStatus, reviewAccessRequest, validateAccessRequestStatus, type AccessRequestWebhookDeps } from './access-requests.js';

export type WebhookLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface WebhookDeps {
  readonly inject: InjectOptions;
  readonly namespaceLabels: NamespaceLabels;
  readonly log?: WebhookLog;
  /** Largest AdmissionReview accepted, bytes (a pod and its old version). Default 3 MiB. */
  readonly maxBodyBytes?: number;
  readonly metrics?: WebhookMetrics;
  /** The AgentAccessRequest webhooks; without them their paths are not served (404: the API server fails closed). */
  readonly accessRequests?: AccessRequestWebhookDeps;
  /** Policies whose taints a reviewed policy's conditions may read (warnings); without it, only its own rules count. */
  readonly policiesInScope?: PoliciesInScope;
}

export const WEBHOOK_PATHS = {
  mutatePods: '/mutate-pods', validateAgentPolicies: '/validate-agentpolicies', validatePods: '/validate-pods',
  validateAccessRequests: '/validate-agentaccessrequests',
  validateAccessRequestStatus: '/validate-agentaccessrequests-status',
  mutateAccessRequestStatus: '/mutate-agentaccessrequests-status',
} as const;
const DEFAULT_MAX_BODY = 3 * 1024 * 1024;

type Decide = (request: AdmissionRequest) => Promise<{ readonly response: AdmissionResponse; readonly summary: string }>;

export function createWebhookApp(deps: WebhookDeps): express.Express {
  const log: WebhookLog = deps.log ?? ((): void => undefined);
  const metrics = deps.metrics ?? new WebhookMetrics();
  const maxBody = deps.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok\n'); });

  type Labels = { readonly ok: true; readonly labels: Readonly<Record<string, string>> } | { readonly ok: false; readonly response: AdmissionResponse };
  const labelsOf = async (request: AdmissionRequest): Promise<Labels> => {
    try {
      return { ok: true, labels: (await deps.namespaceLabels(request.namespace)) ?? {} };
    } catch (e: unknown) {
      return { ok: false, response: deny(request.uid, 500, 'InternalError', `agentwarden: cannot read the labels of namespace ${request.namespace}, try again: ${e instanceof Error ? e.message : String(e)}`) };
    }
  };

  const mutate: Decide = async (request) => {
    if (request.kind.kind !== 'Pod' || request.operation !== 'CREATE') return reviewPodMutation(request, undefined, deps.inject);
    const ns = await labelsOf(request);
    if (!ns.ok) return { response: ns.response, summary: 'denied: namespace lookup failed' };
    return reviewPodMutation(request, ns.labels, deps.inject);
  };
  const validatePolicy: Decide = (request) => {
    const response = reviewAgentPolicy(request, deps.policiesInScope);
    return Promise.resolve({ response, summary: response.allowed ? `allowed${response.warnings === undefined ? '' : ` with ${response.warnings.length} warning(s)`}` : `denied: ${response.status?.message ?? ''}` });
  };
  const validatePod: Decide = async (request) => {
    if (request.kind.kind !== 'Pod' || request.object === undefined) return { response: allow(request.uid), summary: 'skipped: not a pod write' };
    const ns = await labelsOf(request);
    if (!ns.ok) return { response: ns.response, summary: 'denied: namespace lookup failed' };
    const pod = request.object as V1Pod;
    const reasons = guardPod({ operation: request.operation, namespace: request.namespace, pod, oldPod: request.oldObject, namespaceLabels: ns.labels, proxyUid: deps.inject.proxyUid, allowProxyEnv: deps.inject.allowProxyEnv });
    if (reasons.length === 0) return { response: allow(request.uid), summary: 'allowed' };
    const message = `agentwarden: pod ${podName(request, pod)} is refused: ${reasons.join('; ')}`;
    return { response: deny(request.uid, 403, 'Forbidden', message), summary: `denied: ${reasons.join('; ')}` };
  };

  const json = express.json({ limit: maxBody, type: ['application/json', 'application/*+json'] });
  const endpoint = (name: string, decide: Decide) => async (req: Request, res: Response): Promise<void> => {
    const parsed = parseReview(req.body);
    if (!parsed.ok) {
      metrics.count(name, 'malformed');
      log('warn', 'malformed admission review', { webhook: name, error: parsed.error });
      res.status(400).type('text/plain').send(`agentwarden ${name}: not an AdmissionReview: ${parsed.error}\n`);
      return;
    }
    const request = parsed.request;
    let outcome: ReviewOutcome;
    let response: AdmissionResponse;
    try {
      const decided = await decide(request);
      response = decided.response;
      outcome = !response.allowed ? 'denied' : response.patch !== undefined ? 'patched' : 'allowed';
      log(response.allowed ? 'debug' : 'info', 'admission review', { webhook: name, uid: request.uid, operation: request.operation, kind: request.kind.kind, namespace: request.namespace, name: request.name, dryRun: request.dryRun, result: decided.summary });
    } catch (e: unknown) {
      outcome = 'error';
      const message = e instanceof Error ? e.message : String(e);
      log('error', 'admission review failed', { webhook: name, uid: request.uid, error: message });
      response = deny(request.uid, 500, 'InternalError', `agentwarden ${name}: internal error: ${message}`);
    }
    metrics.count(name, outcome);
    res.json(reviewResponse(response));
  };
  app.post(WEBHOOK_PATHS.mutatePods, json, endpoint('mutate-pods', mutate));
  app.post(WEBHOOK_PATHS.validateAgentPolicies, json, endpoint('validate-agentpolicies', validatePolicy));
  app.post(WEBHOOK_PATHS.validatePods, json, endpoint('validate-pods', validatePod));
  const ar = deps.accessRequests;
  if (ar !== undefined) {
    const summary = (response: AdmissionResponse): string => (response.allowed ? (response.patch === undefined ? 'allowed' : 'stamped') : `denied: ${response.status?.message ?? ''}`);
    app.post(WEBHOOK_PATHS.validateAccessRequests, json, endpoint('validate-agentaccessrequests', async (request) => {
      const response = await reviewAccessRequest(request, ar);
      return { response, summary: summary(response) };
    }));
    app.post(WEBHOOK_PATHS.validateAccessRequestStatus, json, endpoint('validate-agentaccessrequests-status', (request) => {
      const response = validateAccessRequestStatus(request, ar);
      return Promise.resolve({ response, summary: summary(response) });
    }));
    app.post(WEBHOOK_PATHS.mutateAccessRequestStatus, json, endpoint('mutate-agentaccessrequests-status', (request) => {
      const response = mutateAccessRequestStatus(request, ar);
      return Promise.resolve({ response, summary: summary(response) });
    }));
  }

  // body-parser errors: malformed JSON (400), too large (413), bad encoding (415).
  app.use((err: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) { next(err); return; }
    const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 500;
    const type = typeof err === 'object' && err !== null && 'type' in err ? String(err.type) : '';
    const message = type === 'entity.too.large' ? `the AdmissionReview is larger than ${maxBody} bytes`
      : type === 'entity.parse.failed' ? `the body is not valid JSON: ${err instanceof Error ? err.message : ''}`
        : err instanceof Error ? err.message : String(err);
    metrics.count(req.path.replace(/^\//, ''), status >= 500 ? 'error' : 'malformed');
    log(status >= 500 ? 'error' : 'warn', 'rejected webhook request', { path: req.path, status, error: message });
    res.status(status).type('text/plain').send(`agentwarden: ${message}\n`);
  });
  return app;
}
