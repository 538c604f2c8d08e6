// The controller's configuration: flags and environment are read here only.
import { hostname } from 'node:os';
import { commandHelp, defineCommand, parseCommand } from '../../common/flags.js';
import type { CaRootConfig } from './caroot/options.js';
import { DEFAULT_CACHE_LIMITS, type CacheLimits } from './kube/limits.js';
import { DEFAULT_APPROVAL_OPTIONS, formatDuration, type ApprovalOptions } from './approvals/options.js';
import { parseDurationMs } from '../../policy/src/duration.js';
import { DEFAULT_OAUTH_OPTIONS, type OAuthOptions } from './oauth/options.js';
import { DEFAULT_MAX_CONCURRENT_PUSHES } from './distribution/push-queue.js';

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
  /** How often the leader writes the AgentBaselines that changed (issue 17), ms. Default 10000. */
  readonly baselineWriteIntervalMs: number;
  /** Operations one agent identity's baseline holds; beyond, dropped and counted. Default 2000. */
  readonly maxBaselineOperations: number;
  /** Brokered OAuth credentials (oauth/options.ts); defaults DEFAULT_OAUTH_OPTIONS. */
  readonly oauth: OAuthOptions;
  /** Snapshot pushes in flight at once (distribution/push-queue.ts). Default 100. */
  readonly maxConcurrentPushes: number;
}

export class ConfigError extends Error {}

/** `agentwarden controller`: its flags (parsed and listed by --help from this one table) and the environment read here. */
export const CONTROLLER_COMMAND = defineCommand({
  name: 'controller',
  usage: ['agentwarden controller [flags]'],
  summary: 'Runs the controller: compiles AgentPolicies per pod and serves them to the sidecars, writes policy status, and serves the admission webhooks (pod injection, policy and pod validation).',
  flags: {
    kubeconfig: { type: 'string', value: 'file', env: 'KUBECONFIG', shownDefault: 'in-cluster, else ~/.kube/config', help: 'Kubernetes client configuration' },
    'distribution-listen': { type: 'string', value: 'addr', default: ':15012', help: 'PolicyDistribution gRPC listen address' },
    'tls-cert': { type: 'string', value: 'file', help: 'distribution TLS certificate (with --tls-key); required unless it listens on loopback only' },
    'tls-key': { type: 'string', value: 'file', help: 'distribution TLS key' },
    'metrics-listen': { type: 'string', value: 'addr', default: ':8080', help: 'metrics and health HTTP listen address' },
    'webhook-listen': { type: 'string', value: 'addr', default: ':9443', help: 'admission webhooks HTTPS listen address' },
    'webhook-cert': { type: 'string', value: 'file', shownDefault: 'none: webhooks off', help: 'webhook serving certificate (with --webhook-key); re-read when it changes' },
    'webhook-key': { type: 'string', value: 'file', help: 'webhook serving key' },
    'inject-config': { type: 'string', value: 'file', shownDefault: 'built-in injection options', help: 'injection options YAML (images, resources, ports, body limits) as the Helm chart renders it' },
    'ca-root-file': { type: 'string', value: 'file', shownDefault: 'none: publishing off', help: 'PEM bundle the sidecars trust, published to the injected pods\' namespaces' },
    'ca-root-configmap': { type: 'string', value: 'name', default: 'agentwarden-ca-root', help: 'ConfigMap written (key ca.crt)' },
    'ca-root-namespace-labels': { type: 'string', value: 'k=v,...', shownDefault: 'none', help: 'publish only to namespaces with all these labels' },
    'ca-root-exclude-namespaces': { type: 'string', value: 'a,b', shownDefault: 'none', help: 'never publish to these namespaces' },
    namespace: { type: 'string', value: 'ns', env: 'POD_NAMESPACE', default: 'agentwarden-system', help: 'namespace of the leader-election Lease and of the replicas\' report Leases' },
    identity: { type: 'string', value: 'name', env: 'POD_NAME', shownDefault: 'the host name', help: 'leader-election identity; also names this replica\'s report Lease agentwarden-controller-replica-<identity>' },
    'leader-elect': { type: 'string', value: 'true|false', default: 'true', help: 'write status only as the Lease holder' },
    'max-policy-bytes': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxPolicyBytes), help: 'an AgentPolicy whose spec (JSON) is larger is refused: status Compiled=False reason PolicyTooLarge, not compiled' },
    'max-policies-per-namespace': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxPoliciesPerNamespace), help: 'AgentPolicies kept per namespace; more are refused (reason NamespacePolicyLimit)' },
    'max-policy-bytes-per-namespace': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxPolicyBytesPerNamespace), help: 'bytes of AgentPolicy specs kept per namespace; past it, policies are refused (reason NamespacePolicyLimit)' },
    'max-credential-value-bytes': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxCredentialValueBytes), help: 'a credential value (a Secret key a policy reads) larger than this is refused: status Ready=False reason CredentialTooLarge' },
    'max-credential-secrets-per-namespace': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxCredentialSecretsPerNamespace), help: 'credential Secrets holding values kept per namespace; more are refused (reason NamespaceCredentialLimit)' },
    'max-credential-bytes-per-namespace': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxCredentialBytesPerNamespace), help: 'bytes of credential values (base64) kept per namespace; past it, Secrets are refused (reason NamespaceCredentialLimit)' },
    'list-page-size': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.listPageSize), help: 'objects per page when listing AgentPolicies and Secrets (the most full objects held at once)' },
    'namespace-read-timeout': { type: 'string', value: 'ms', default: '3000', help: 'the webhooks read namespace labels fresh for each review; a slower read denies the review' },
    'max-access-request-bytes': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxAccessRequestBytes), help: 'an AgentAccessRequest whose spec (JSON) is larger is not cached and never becomes a grant' },
    'max-access-requests-per-namespace': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxAccessRequestsPerNamespace), help: 'AgentAccessRequests kept per namespace; more are not cached (never grants)' },
    'max-access-request-bytes-per-namespace': { type: 'string', value: 'n', default: String(DEFAULT_CACHE_LIMITS.maxAccessRequestBytesPerNamespace), help: 'bytes of AgentAccessRequest specs kept per namespace' },
    'max-grant-duration': { type: 'string', value: 'duration', default: formatDuration(DEFAULT_APPROVAL_OPTIONS.maxGrantDurationMs), help: 'longest grant an AgentAccessRequest may ask for or be approved for (spec.duration, status.duration)' },
    'approval-pending-ttl': { type: 'string', value: 'duration', default: formatDuration(DEFAULT_APPROVAL_OPTIONS.pendingTtlMs), help: 'a request nobody approved or denied within this time after creation expires ("request expired")' },
    'max-pending-approvals-per-pod': { type: 'string', value: 'n', default: String(DEFAULT_APPROVAL_OPTIONS.maxPendingPerPod), help: 'pending AgentAccessRequests the controller creates per pod; further ApprovalNeeded messages are counted, not created' },
    'approval-grant-uses': { type: 'string', value: 'n', default: '0', help: 'spec.uses of the requests the controller creates: how many requests one approval allows (1: exactly once); 0 = any number until it expires' },
    'default-grant-duration': { type: 'string', value: 'duration', default: formatDuration(DEFAULT_APPROVAL_OPTIONS.defaultDurationMs), help: 'spec.duration of the requests the controller creates (approvers may set another with approve --for)' },
    'notify-webhook-secret': { type: 'string', value: 'ns/name', shownDefault: 'none: no webhook notifications', help: 'Secret whose key url is a Slack-compatible webhook; one JSON POST per created request (retried with backoff, never blocking)' },
    'baseline-write-interval': { type: 'string', value: 'duration', default: '10s', help: 'how often the leader writes the AgentBaselines that changed (operation summaries from the sidecars)' },
    'max-baseline-operations': { type: 'string', value: 'n', default: '2000', help: 'operations one agent identity\'s baseline holds; beyond, dropped and counted in status.dropped' },
    'oauth-ca-file': { type: 'string', value: 'file', shownDefault: 'none: Node\'s CAs (and NODE_EXTRA_CA_CERTS)', help: 'PEM CA bundle trusted for oauth2 token endpoints besides Node\'s bundled CAs (read at start)' },
    'oauth-token-timeout': { type: 'string', value: 'duration', shownDefault: formatDuration(DEFAULT_OAUTH_OPTIONS.requestTimeoutMs), help: 'a token request (connect, TLS, answer) slower than this fails: status reason TokenEndpointTimeout' },
    'oauth-max-response-bytes': { type: 'string', value: 'n', shownDefault: String(DEFAULT_OAUTH_OPTIONS.maxResponseBytes), help: 'a token endpoint answer larger than this fails: status reason TokenResponseTooLarge' },
    'oauth-max-concurrent-fetches': { type: 'string', value: 'n', shownDefault: String(DEFAULT_OAUTH_OPTIONS.maxConcurrentFetches), help: 'token requests in flight at once (a new leader fetches what came due without a burst)' },
    'oauth-retry-max': { type: 'string', value: 'duration', shownDefault: formatDuration(DEFAULT_OAUTH_OPTIONS.retryMaxMs), help: 'longest wait between retries of a failing token endpoint (backoff from 1s, doubling, jittered)' },
    'max-concurrent-pushes': { type: 'string', value: 'n', default: String(DEFAULT_MAX_CONCURRENT_PUSHES), help: 'snapshot pushes in flight at once; the rest queue in order (one per stream, sending the newest snapshot) and the event loop is yielded to between slices, so a policy edit touching every pod keeps ACKs, health and metrics answering' },
    'debounce-quiet': { type: 'string', value: 'duration', default: '100ms', help: 'recompile and push once changes (policies, pods, Secrets, namespaces) have been quiet this long' },
    'debounce-max': { type: 'string', value: 'duration', default: '1s', help: '... but no later than this after the first change of a burst' },
    'controller-username': { type: 'string', value: 'user', shownDefault: 'system:serviceaccount:<--namespace>:agentwarden-controller', help: 'the controller\'s own user as the API server authenticates it: the only one the webhook lets end grants (Expired, ReviewRequired)' },
  },
  env: [
    { name: 'AGENTWARDEN_LOG_LEVEL', default: 'info', text: 'debug, info, warn or error' },
  ],
  exits: [[0, 'stopped by SIGTERM or SIGINT'], [1, 'failed while starting or running (a listen address taken, the API server unreachable at start)'], [2, 'invalid flags or environment']],
});

/** `agentwarden controller --help`. */
export const CONTROLLER_HELP = commandHelp(CONTROLLER_COMMAND);

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
  const { values } = parseCommand(CONTROLLER_COMMAND, argv, env);
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
  const namespace = values.namespace;
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
  const debounceQuietMs = positiveDuration('debounce-quiet', values['debounce-quiet'], 100);
  const debounceMaxMs = positiveDuration('debounce-max', values['debounce-max'], 1000);
  if (debounceMaxMs < debounceQuietMs) throw new ConfigError(`controller: --debounce-max ${debounceMaxMs}ms is below --debounce-quiet ${debounceQuietMs}ms`);
  return Object.freeze({
    kubeconfig: values.kubeconfig,
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
    identity: values.identity ?? hostname(),
    leaderElect: values['leader-elect'] === 'true',
    debounceQuietMs,
    debounceMaxMs,
    logLevel: level,
    cacheLimits,
    namespaceReadTimeoutMs: positiveInt('namespace-read-timeout', values['namespace-read-timeout'], 3000),
    approvals,
    baselineWriteIntervalMs: positiveDuration('baseline-write-interval', values['baseline-write-interval'], 10_000),
    maxBaselineOperations: positiveInt('max-baseline-operations', values['max-baseline-operations'], 2000),
    oauth: readOAuthOptions(values),
    maxConcurrentPushes: positiveInt('max-concurrent-pushes', values['max-concurrent-pushes'], DEFAULT_MAX_CONCURRENT_PUSHES),
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
