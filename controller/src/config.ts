// The controller's configuration: flags and environment are read here only.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { formatHelp, HelpRequested } from '../../common/help.js';
import type { CaRootConfig } from './caroot/options.js';
import { DEFAULT_CACHE_LIMITS, type CacheLimits } from './kube/limits.js';
import { DEFAULT_APPROVAL_OPTIONS, formatDuration, type ApprovalOptions } from './approvals/options.js';
import { parseDurationMs } from '../../policy/src/duration.js';
import { DEFAULT_OAUTH_OPTIONS, type OAuthOptions } from './oauth/options.js';

export type { CaRootConfig } from './caroot/options.js';

export interface ControllerConfig {
  /** Kubeconfig file; unset: in-cluster ServiceAccount, else the default loading rules. */
  readonly kubeconfig: string | undefined;
  /** PolicyDistribution gRPC listen address. Default :15012. */
  readonly distributionListen: string;
  /** Metrics and health HTTP listen address. Default :8080. */
  readonly metricsListen: string;
  /** TLS for the distribution port; required unless it listens on loopback only. */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** Admission webhooks (HTTPS) listen address. Default :9443. */
  readonly webhookListen: string;
  /** Webhook serving certificate and key; without them the webhooks are off. Re-read when they change. */
  readonly webhookCert: string | undefined;
  readonly webhookKey: string | undefined;
  /**
   * How often the certificate files (--tls-cert/--tls-key, --webhook-cert/--webhook-key) and
   * --ca-root-file are checked for a change, ms. Default 10000.
   */
  readonly fileReloadMs: number;
  /** Publishing of the distribution CA to the injected pods' namespaces; undefined: off (no --ca-root-file). */
  readonly caRoot: CaRootConfig | undefined;
  /** Injection settings (images, resources, ports, body limits) as YAML; default the built-in ones. */
  readonly injectConfig: string | undefined;
  /** Namespace of the leader-election Lease. Default agentwarden-system (POD_NAMESPACE). */
  readonly namespace: string;
  /** Leader identity. Default the pod name (POD_NAME) or host name. */
  readonly identity: string;
  /** Write status only as the Lease holder. Default true. */
  readonly leaderElect: boolean;
  /** Coalesce changes: wait for this much quiet, ms. Default 100. */
  readonly debounceQuietMs: number;
  /** ... but never longer than this after the first change, ms. Default 1000. */
  readonly debounceMaxMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** What one namespace may make the controller cache (kube/limits.ts); defaults DEFAULT_CACHE_LIMITS. */
  readonly cacheLimits: CacheLimits;
  /** The webhooks read a namespace's labels fresh for each review; a read slower than this denies, ms. Default 3000. */
  readonly namespaceReadTimeoutMs: number;
  /** Approvals and break-glass grants (approvals/options.ts); defaults DEFAULT_APPROVAL_OPTIONS. */
  readonly approvals: ApprovalOptions;
  /** Brokered OAuth credentials (oauth/options.ts); defaults DEFAULT_OAUTH_OPTIONS. */
  readonly oauth: OAuthOptions;
}

export class ConfigError extends Error {}

/** `agentwarden controller --help`: every flag below with its default, and the environment read here. */
export const CONTROLLER_HELP = formatHelp({
  usage: ['agentwarden controller [flags]'],
  summary: 'Runs the controller: compiles AgentPolicies per pod and serves them to the sidecars, writes policy status, and serves the admission webhooks (pod injection, policy and pod validation).',
  flags: [
    { name: 'kubeconfig', value: 'file', default: '$KUBECONFIG, else in-cluster', text: 'Kubernetes client configuration' },
    { name: 'distribution-listen', value: 'addr', default: ':15012', text: 'PolicyDistribution gRPC listen address' },
    { name: 'tls-cert', value: 'file', text: 'distribution TLS certificate (with --tls-key); required unless it listens on loopback only' },
    { name: 'tls-key', value: 'file', text: 'distribution TLS key' },
    { name: 'metrics-listen', value: 'addr', default: ':8080', text: 'metrics and health HTTP listen address' },
    { name: 'webhook-listen', value: 'addr', default: ':9443', text: 'admission webhooks HTTPS listen address' },
    { name: 'webhook-cert', value: 'file', default: 'none: webhooks off', text: 'webhook serving certificate (with --webhook-key); re-read when it changes' },
    { name: 'webhook-key', value: 'file', text: 'webhook serving key' },
    { name: 'inject-config', value: 'file', default: 'built-in injection options', text: 'injection options YAML (images, resources, ports, body limits) as the Helm chart renders it' },
    { name: 'ca-root-file', value: 'file', default: 'none: publishing off', text: 'PEM bundle the sidecars trust, published to the injected pods\' namespaces' },
    { name: 'ca-root-configmap', value: 'name', default: 'agentwarden-ca-root', text: 'ConfigMap written (key ca.crt)' },
    { name: 'ca-root-namespace-labels', value: 'k=v,...', default: 'none', text: 'publish only to namespaces with all these labels' },
    { name: 'ca-root-exclude-namespaces', value: 'a,b', default: 'none', text: 'never publish to these namespaces' },
    { name: 'namespace', value: 'ns', default: '$POD_NAMESPACE, else agentwarden-system', text: 'namespace of the leader-election Lease' },
    { name: 'identity', value: 'name', default: '$POD_NAME, else the host name', text: 'leader-election identity' },
    { name: 'leader-elect', value: 'true|false', default: 'true', text: 'write status only as the Lease holder' },
    { name: 'max-policy-bytes', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxPolicyBytes), text: 'an AgentPolicy whose spec (JSON) is larger is refused: status Compiled=False reason PolicyTooLarge, not compiled' },
    { name: 'max-policies-per-namespace', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxPoliciesPerNamespace), text: 'AgentPolicies kept per namespace; more are refused (reason NamespacePolicyLimit)' },
    { name: 'max-policy-bytes-per-namespace', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxPolicyBytesPerNamespace), text: 'bytes of AgentPolicy specs kept per namespace; past it, policies are refused (reason NamespacePolicyLimit)' },
    { name: 'max-credential-value-bytes', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxCredentialValueBytes), text: 'a credential value (a Secret key a policy reads) larger than this is refused: status Ready=False reason CredentialTooLarge' },
    { name: 'max-credential-secrets-per-namespace', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxCredentialSecretsPerNamespace), text: 'credential Secrets holding values kept per namespace; more are refused (reason NamespaceCredentialLimit)' },
    { name: 'max-credential-bytes-per-namespace', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxCredentialBytesPerNamespace), text: 'bytes of credential values (base64) kept per namespace; past it, Secrets are refused (reason NamespaceCredentialLimit)' },
    { name: 'list-page-size', value: 'n', default: String(DEFAULT_CACHE_LIMITS.listPageSize), text: 'objects per page when listing AgentPolicies and Secrets (the most full objects held at once)' },
    { name: 'namespace-read-timeout', value: 'ms', default: '3000', text: 'the webhooks read namespace labels fresh for each review; a slower read denies the review' },
    { name: 'max-access-request-bytes', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxAccessRequestBytes), text: 'an AgentAccessRequest whose spec (JSON) is larger is not cached and never becomes a grant' },
    { name: 'max-access-requests-per-namespace', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxAccessRequestsPerNamespace), text: 'AgentAccessRequests kept per namespace; more are not cached (never grants)' },
    { name: 'max-access-request-bytes-per-namespace', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxAccessRequestBytesPerNamespace), text: 'bytes of AgentAccessRequest specs kept per namespace' },
    { name: 'max-grant-duration', value: 'duration', default: formatDuration(DEFAULT_APPROVAL_OPTIONS.maxGrantDurationMs), text: 'longest grant an AgentAccessRequest may ask for or be approved for (spec.duration, status.duration)' },
    { name: 'approval-pending-ttl', value: 'duration', default: formatDuration(DEFAULT_APPROVAL_OPTIONS.pendingTtlMs), text: 'a request nobody approved or denied within this time after creation expires ("request expired")' },
    { name: 'max-pending-approvals-per-pod', value: 'n', default: String(DEFAULT_APPROVAL_OPTIONS.maxPendingPerPod), text: 'pending AgentAccessRequests the controller creates per pod; further ApprovalNeeded messages are counted, not created' },
    { name: 'approval-grant-uses', value: 'n', default: '0', text: 'spec.uses of the requests the controller creates: how many requests one approval allows (1: exactly once); 0 = any number until it expires' },
    { name: 'default-grant-duration', value: 'duration', default: formatDuration(DEFAULT_APPROVAL_OPTIONS.defaultDurationMs), text: 'spec.duration of the requests the controller creates (approvers may set another with approve --for)' },
    { name: 'notify-webhook-secret', value: 'ns/name', default: 'none: no webhook notifications', text: 'Secret whose key url is a Slack-compatible webhook; one JSON POST per created request (retried with backoff, never blocking)' },
    { name: 'controller-username', value: 'user', default: 'system:serviceaccount:<--namespace>:agentwarden-controller', text: 'the controller\'s own user as the API server authenticates it: the only one the webhook lets end grants (Expired, ReviewRequired)' },
    { name: 'oauth-ca-file', value: 'file', default: 'none: the system CAs (and NODE_EXTRA_CA_CERTS)', text: 'PEM CA bundle trusted for oauth2 token endpoints besides Node\'s bundled CAs (read at start)' },
    { name: 'oauth-token-timeout', value: 'duration', default: formatDuration(DEFAULT_OAUTH_OPTIONS.requestTimeoutMs), text: 'a token request (connect, TLS, answer) slower than this fails: status reason TokenEndpointTimeout' },
    { name: 'oauth-max-response-bytes', value: 'n', default: String(DEFAULT_OAUTH_OPTIONS.maxResponseBytes), text: 'a token endpoint answer larger than this fails: status reason TokenResponseTooLarge' },
    { name: 'oauth-max-concurrent-fetches', value: 'n', default: String(DEFAULT_OAUTH_OPTIONS.maxConcurrentFetches), text: 'token requests in flight at once (a new leader fetches what came due without a burst)' },
    { name: 'oauth-retry-max', value: 'duration', default: formatDuration(DEFAULT_OAUTH_OPTIONS.retryMaxMs), text: 'longest wait between retries of a failing token endpoint (backoff from 1s, doubling, jittered)' },
  ],
  env: [
    { name: 'KUBECONFIG', text: 'default of --kubeconfig' },
    { name: 'POD_NAMESPACE, POD_NAME', text: 'defaults of --namespace and --identity (downward API)' },
    { name: 'AGENTWARDEN_LOG_LEVEL', default: 'info', text: 'debug, info, warn or error' },
  ],
});

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** "k=v,k2=v2" as a label map; errors name the flag. */
function parseLabels(flag: string, text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of (text ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const k = pair.slice(0, eq);
    const v = pair.slice(eq + 1);
    if (eq < 0 || !LABEL_KEY.test(k) || !LABEL_VALUE.test(v)) throw new ConfigError(`controller: ${flag}: "${pair}" is not label=value`);
    labels[k] = v;
  }
  return labels;
}

function parseNamespaces(flag: string, text: string | undefined): string[] {
  const names = (text ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '');
  for (const n of names) if (!DNS_LABEL.test(n)) throw new ConfigError(`controller: ${flag}: "${n}" is not a namespace name`);
  return [...new Set(names)];
}

/** A flag that must be a whole number above 0; `fallback` when absent. */
function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text.trim()) || !Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`controller: --${flag}: "${text}" is not a whole number above 0`);
  return n;
}

/** A Go duration above 0 ("15m", "4h"); `fallback` ms when absent. */
function positiveDuration(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text.trim());
  if (ms === undefined || ms <= 0) throw new ConfigError(`controller: --${flag}: "${text}" is not a duration above 0 (e.g. 15m, 4h)`);
  return ms;
}

/** "namespace/name" of a Secret; undefined when absent. */
function secretRef(flag: string, text: string | undefined): { readonly namespace: string; readonly name: string } | undefined {
  if (text === undefined || text === '') return undefined;
  const [namespace = '', name = '', ...rest] = text.split('/');
  if (rest.length > 0 || !DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(name)) throw new ConfigError(`controller: --${flag}: "${text}" is not namespace/name of a Secret`);
  return Object.freeze({ namespace, name });
}

export function readControllerConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ControllerConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      kubeconfig: { type: 'string' },
      'distribution-listen': { type: 'string', default: ':15012' },
      'metrics-listen': { type: 'string', default: ':8080' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'webhook-listen': { type: 'string', default: ':9443' },
      'webhook-cert': { type: 'string' },
      'webhook-key': { type: 'string' },
      'inject-config': { type: 'string' },
      'ca-root-file': { type: 'string' },
      'ca-root-configmap': { type: 'string', default: 'agentwarden-ca-root' },
      'ca-root-namespace-labels': { type: 'string' },
      'ca-root-exclude-namespaces': { type: 'string' },
      namespace: { type: 'string' },
      identity: { type: 'string' },
      'leader-elect': { type: 'string', default: 'true' },
      'max-policy-bytes': { type: 'string' },
      'max-policies-per-namespace': { type: 'string' },
      'max-policy-bytes-per-namespace': { type: 'string' },
      'max-credential-value-bytes': { type: 'string' },
      'max-credential-secrets-per-namespace': { type: 'string' },
      'max-credential-bytes-per-namespace': { type: 'string' },
      'list-page-size': { type: 'string' },
      'namespace-read-timeout': { type: 'string' },
      'max-access-request-bytes': { type: 'string' },
      'max-access-requests-per-namespace': { type: 'string' },
      'max-access-request-bytes-per-namespace': { type: 'string' },
      'max-grant-duration': { type: 'string' },
      'approval-pending-ttl': { type: 'string' },
      'max-pending-approvals-per-pod': { type: 'string' },
      'default-grant-duration': { type: 'string' },
      'approval-grant-uses': { type: 'string' },
      'notify-webhook-secret': { type: 'string' },
      'controller-username': { type: 'string' },
      'oauth-ca-file': { type: 'string' },
      'oauth-token-timeout': { type: 'string' },
      'oauth-max-response-bytes': { type: 'string' },
      'oauth-max-concurrent-fetches': { type: 'string' },
      'oauth-retry-max': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) throw new HelpRequested(CONTROLLER_HELP);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new ConfigError('controller: --tls-cert and --tls-key go together');
  if ((values['webhook-cert'] === undefined) !== (values['webhook-key'] === undefined)) throw new ConfigError('controller: --webhook-cert and --webhook-key go together');
  const caRootFile = values['ca-root-file'];
  const configMapName = values['ca-root-configmap'];
  if (!DNS_SUBDOMAIN.test(configMapName)) throw new ConfigError(`controller: --ca-root-configmap: "${configMapName}" is not a ConfigMap name`);
  for (const flag of ['ca-root-namespace-labels', 'ca-root-exclude-namespaces'] as const) {
    if (values[flag] !== undefined && caRootFile === undefined) throw new ConfigError(`controller: --${flag} needs --ca-root-file`);
  }
  if (caRootFile === '') throw new ConfigError('controller: --ca-root-file: empty path');
  const caRoot: CaRootConfig | undefined = caRootFile === undefined ? undefined : Object.freeze({
    file: caRootFile,
    configMapName,
    namespaceLabels: Object.freeze(parseLabels('--ca-root-namespace-labels', values['ca-root-namespace-labels'])),
    excludeNamespaces: Object.freeze(parseNamespaces('--ca-root-exclude-namespaces', values['ca-root-exclude-namespaces'])),
  });
  const level = env['AGENTWARDEN_LOG_LEVEL'] ?? 'info';
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') throw new ConfigError(`AGENTWARDEN_LOG_LEVEL: "${level}" is not debug, info, warn or error`);
  if (values['leader-elect'] !== 'true' && values['leader-elect'] !== 'false') throw new ConfigError('--leader-elect: true or false');
  const d = DEFAULT_CACHE_LIMITS;
  const cacheLimits: CacheLimits = Object.freeze({
    maxPolicyBytes: positiveInt('max-policy-bytes', values['max-policy-bytes'], d.maxPolicyBytes),
    maxPoliciesPerNamespace: positiveInt('max-policies-per-namespace', values['max-policies-per-namespace'], d.maxPoliciesPerNamespace),
    maxPolicyBytesPerNamespace: positiveInt('max-policy-bytes-per-namespace', values['max-policy-bytes-per-namespace'], d.maxPolicyBytesPerNamespace),
    maxCredentialValueBytes: positiveInt('max-credential-value-bytes', values['max-credential-value-bytes'], d.maxCredentialValueBytes),
    maxCredentialSecretsPerNamespace: positiveInt('max-credential-secrets-per-namespace', values['max-credential-secrets-per-namespace'], d.maxCredentialSecretsPerNamespace),
    maxCredentialBytesPerNamespace: positiveInt('max-credential-bytes-per-namespace', values['max-credential-bytes-per-namespace'], d.maxCredentialBytesPerNamespace),
    listPageSize: positiveInt('list-page-size', values['list-page-size'], d.listPageSize),
    maxAccessRequestBytes: positiveInt('max-access-request-bytes', values['max-access-request-bytes'], d.maxAccessRequestBytes),
    maxAccessRequestsPerNamespace: positiveInt('max-access-requests-per-namespace', values['max-access-requests-per-namespace'], d.maxAccessRequestsPerNamespace),
    maxAccessRequestBytesPerNamespace: positiveInt('max-access-request-bytes-per-namespace', values['max-access-request-bytes-per-namespace'], d.maxAccessRequestBytesPerNamespace),
  });
  const namespace = values.namespace ?? env['POD_NAMESPACE'] ?? 'agentwarden-system';
  const a = DEFAULT_APPROVAL_OPTIONS;
  const maxGrantDurationMs = positiveDuration('max-grant-duration', values['max-grant-duration'], a.maxGrantDurationMs);
  const defaultDurationMs = positiveDuration('default-grant-duration', values['default-grant-duration'], a.defaultDurationMs);
  if (defaultDurationMs > maxGrantDurationMs) throw new ConfigError(`controller: --default-grant-duration ${formatDuration(defaultDurationMs)} is above --max-grant-duration ${formatDuration(maxGrantDurationMs)}`);
  const approvals: ApprovalOptions = Object.freeze({
    maxGrantDurationMs,
    pendingTtlMs: positiveDuration('approval-pending-ttl', values['approval-pending-ttl'], a.pendingTtlMs),
    maxPendingPerPod: positiveInt('max-pending-approvals-per-pod', values['max-pending-approvals-per-pod'], a.maxPendingPerPod),
    defaultDurationMs,
    grantUses: values['approval-grant-uses'] === '0' ? 0 : positiveInt('approval-grant-uses', values['approval-grant-uses'], a.grantUses),
    notifyWebhookSecret: secretRef('notify-webhook-secret', values['notify-webhook-secret']),
    controllerUsername: values['controller-username'] ?? `system:serviceaccount:${namespace}:agentwarden-controller`,
  });
  return Object.freeze({
    kubeconfig: values.kubeconfig ?? env['KUBECONFIG'],
    distributionListen: values['distribution-listen'],
    metricsListen: values['metrics-listen'],
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    webhookListen: values['webhook-listen'],
    webhookCert: values['webhook-cert'],
    webhookKey: values['webhook-key'],
    injectConfig: values['inject-config'],
    fileReloadMs: 10_000,
    caRoot,
    namespace,
    identity: values.identity ?? env['POD_NAME'] ?? hostname(),
    leaderElect: values['leader-elect'] === 'true',
    debounceQuietMs: 100,
    debounceMaxMs: 1000,
    logLevel: level,
    cacheLimits,
    namespaceReadTimeoutMs: positiveInt('namespace-read-timeout', values['namespace-read-timeout'], 3000),
    approvals,
    oauth: readOAuthOptions(values),
  });
}

function readOAuthOptions(values: Readonly<Record<string, string | boolean | undefined>>): OAuthOptions {
  const o = DEFAULT_OAUTH_OPTIONS;
  const text = (flag: string): string | undefined => (typeof values[flag] === 'string' ? values[flag] : undefined);
  const caFile = text('oauth-ca-file');
  if (caFile === '') throw new ConfigError('controller: --oauth-ca-file: empty path');
  return Object.freeze({
    ...o,
    caFile,
    requestTimeoutMs: positiveDuration('oauth-token-timeout', text('oauth-token-timeout'), o.requestTimeoutMs),
    maxResponseBytes: positiveInt('oauth-max-response-bytes', text('oauth-max-response-bytes'), o.maxResponseBytes),
    maxConcurrentFetches: positiveInt('oauth-max-concurrent-fetches', text('oauth-max-concurrent-fetches'), o.maxConcurrentFetches),
    retryMaxMs: positiveDuration('oauth-retry-max', text('oauth-retry-max'), o.retryMaxMs),
  });
}
