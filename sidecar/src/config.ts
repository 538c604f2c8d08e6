// The sidecar's configuration: flags and environment are read here and nowhere
// else. Returns a frozen, typed object; defaults are documented per field.
import { DEFAULT_OTLP_SERIALIZER, isOtlpSerializer, OTLP_SERIALIZERS, type OtlpSerializer } from './telemetry/serializer.js';
import { parseArgs } from 'node:util';
import { AUTHZ_SERVER_IMPLS, DEFAULT_AUTHZ_LISTEN, DEFAULT_AUTHZ_SERVER_IMPL, type AuthzServerImpl } from './authz/server-api.js';
import { DEFAULT_OTLP_PROTOCOL, isOtlpProtocol, OTLP_PROTOCOLS, type OtlpProtocol } from './telemetry/protocol.js';
import { formatHelp, HelpRequested } from '../../common/help.js';
// The session store's module alone (no imports of its own), not the policy core.
import { DEFAULT_MAX_SESSIONS, DEFAULT_MAX_TAINTS_PER_SESSION } from '../../policy/src/session-store.js';
import { DEFAULT_MAX_OPERATIONS } from '../../policy/src/anomaly.js';
import { parseDurationMs } from '../../policy/src/duration.js';

export interface SidecarConfig {
  /**
   * ext_authz gRPC listen address: "unix:/path" or "host:port". Default
   * unix:/var/run/agentwarden-authz/authz.sock, the socket in the volume that the
   * injector mounts into Envoy and the sidecar only.
   */
  readonly listen: string;
  /**
   * Serve snapshots that carry credentials on a TCP listen address, which every
   * process of the pod can reach. Default false: such a snapshot is refused.
   */
  readonly allowTcpCredentials: boolean;
  /** ext_authz gRPC server implementation: http2 (own HTTP/2 framing, authz/http2-server.ts) or grpc-js. Default http2. */
  readonly grpcImpl: AuthzServerImpl;
  /** Admin HTTP (healthz, readyz, metrics, and debug when enabled): "host:port". Default 127.0.0.1:15021. */
  readonly adminListen: string;
  /** Serve /debug/snapshot (the rules in force) to loopback clients. Default false; the injector never sets it. */
  readonly debugSnapshot: boolean;
  /** Controller mode: the controller's PolicyDistribution address ("host:port"). */
  readonly controller: string | undefined;
  /** Controller mode: projected ServiceAccount token (audience agentwarden). Default /var/run/secrets/agentwarden/token. */
  readonly tokenFile: string;
  /** Controller mode: CA bundle of the controller's certificate; required unless the controller is on loopback. */
  readonly controllerCa: string | undefined;
  /** The pod this sidecar serves (downward API: POD_NAME, POD_NAMESPACE); standalone mode reads them from --pod. */
  readonly podName: string;
  readonly namespace: string;
  /** Standalone mode: policy files or folders. */
  readonly policyPaths: readonly string[];
  /** Standalone mode: the Pod manifest this sidecar stands for. */
  readonly podFile: string | undefined;
  /** Standalone mode: folder of mounted Secrets, files <secret-name>/<key>. Default none. */
  readonly secretsDir: string | undefined;
  /** Largest CheckRequest decoded, in bytes; larger ones are denied. Default 16 MiB. */
  readonly maxRequestBytes: number;
  /** Audit spans: exporter protocol, or undefined when export is off (OTEL_TRACES_EXPORTER=none / OTEL_SDK_DISABLED=true). */
  readonly otlpProtocol: OtlpProtocol | undefined;
  /** Batch span processor queue bound; spans beyond it are dropped and counted. Default 2048 (OTEL_BSP_MAX_QUEUE_SIZE). */
  readonly spanQueueSize: number;
  /** Spans per export request, at most. Default 512 (OTEL_BSP_MAX_EXPORT_BATCH_SIZE). */
  readonly spanExportBatchSize: number;
  /** Batch export delay in ms. Default 1000 (OTEL_BSP_SCHEDULE_DELAY). */
  readonly spanExportDelayMs: number;
  /** Quiet time after a policy file change before reloading, ms. Default 100. */
  readonly reloadDebounceMs: number;
  /** Log level: debug | info | warn | error. Default info (AGENTWARDEN_LOG_LEVEL). */
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Sessions kept (issue 16); the least recently used beyond it are dropped and counted. Default 10000. */
  readonly maxSessions: number;
  /** Taints kept per session. Default 32. */
  readonly maxTaintsPerSession: number;
  /** OTLP protobuf serializer: sidecar (otlp-trace-proto.ts) or sdk, the fallback. Default sidecar (AGENTWARDEN_OTLP_SERIALIZER). */
  readonly otlpSerializer: OtlpSerializer;
  /** Controller mode: how often the operation summary (issue 17) goes to the controller, ms. Default 30000. */
  readonly anomalySummaryIntervalMs: number;
  /** Operations this sidecar learns while its baseline learns; beyond, dropped and counted. Default 4096. */
  readonly maxBaselineOperations: number;
}

export class ConfigError extends Error {}

const MIB = 1024 * 1024;

/** `agentwarden sidecar --help`: every flag below with its default, and the environment read here. */
export const SIDECAR_HELP = formatHelp({
  usage: [
    'agentwarden sidecar --controller <addr> --pod-name <name> --namespace <ns> [flags]   (controller mode)',
    'agentwarden sidecar --policy <file|dir> [--policy ...] --pod <pod.yaml> [flags]   (standalone mode)',
  ],
  summary: 'Runs the ext_authz sidecar Envoy asks about each request: policies come from the controller (controller mode) or from files (standalone mode).',
  flags: [
    { name: 'controller', value: 'host:port', text: 'controller mode: the controller\'s PolicyDistribution address' },
    { name: 'controller-ca', value: 'file', text: 'controller mode: CA bundle of the controller\'s certificate; required unless the controller is on loopback' },
    { name: 'token-file', value: 'file', default: '/var/run/secrets/agentwarden/token', text: 'controller mode: projected ServiceAccount token (audience agentwarden)' },
    { name: 'pod-name', value: 'name', default: '$POD_NAME', text: 'the pod this sidecar serves' },
    { name: 'namespace', value: 'ns', default: '$POD_NAMESPACE', text: 'the namespace of that pod' },
    { name: 'policy', value: 'file|dir', text: 'standalone mode: AgentPolicy files or folders; repeatable' },
    { name: 'pod', value: 'pod.yaml', text: 'standalone mode: the Pod manifest this sidecar stands for' },
    { name: 'secrets-dir', value: 'dir', default: 'none', text: 'standalone mode: folder of Secrets as <secret-name>/<key> files' },
    { name: 'listen', value: 'addr', default: DEFAULT_AUTHZ_LISTEN, text: 'ext_authz gRPC listen address, unix:/path or host:port' },
    { name: 'allow-tcp-credentials', text: 'serve snapshots that carry credentials on a TCP --listen, which every process in the pod can reach (without it they are refused)' },
    { name: 'admin-listen', value: 'addr', default: '127.0.0.1:15021', text: 'admin HTTP (healthz, readyz, metrics), host:port' },
    { name: 'debug-snapshot', text: 'serve /debug/snapshot (the rules in force, no credential values) to loopback clients on the admin port' },
    { name: 'grpc-impl', value: AUTHZ_SERVER_IMPLS.join('|'), default: DEFAULT_AUTHZ_SERVER_IMPL, text: 'ext_authz gRPC server implementation' },
    { name: 'max-request-bytes', value: 'n', default: String(16 * MIB), text: 'largest CheckRequest decoded, bytes; larger ones are denied' },
    { name: 'max-sessions', value: 'n', default: String(DEFAULT_MAX_SESSIONS), text: 'sessions whose taints are kept; the least recently used beyond it are dropped and counted' },
    { name: 'max-taints-per-session', value: 'n', default: String(DEFAULT_MAX_TAINTS_PER_SESSION), text: 'taints kept per session' },
    { name: 'anomaly-summary-interval', value: 'duration', default: '30s', text: 'how often the operation summary (spec.anomaly baselines) goes to the controller' },
    { name: 'max-baseline-operations', value: 'n', default: String(DEFAULT_MAX_OPERATIONS), text: 'operations learned while the baseline learns; beyond it they are dropped and counted' },
  ],
  env: [
    { name: 'POD_NAME, POD_NAMESPACE', text: 'defaults of --pod-name and --namespace (downward API)' },
    { name: 'AGENTWARDEN_LOG_LEVEL', default: 'info', text: 'debug, info, warn or error' },
    { name: 'OTEL_TRACES_EXPORTER', default: 'otlp', text: '"none" turns audit span export off' },
    { name: 'OTEL_SDK_DISABLED', default: 'false', text: '"true" turns audit span export off' },
    { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', default: 'http/protobuf', text: 'grpc, http/protobuf or http/json; OTEL_EXPORTER_OTLP_TRACES_PROTOCOL wins' },
    { name: 'OTEL_EXPORTER_OTLP_*', text: 'endpoint, headers, timeout: read by the OpenTelemetry exporter' },
    { name: 'OTEL_BSP_MAX_QUEUE_SIZE', default: '2048', text: 'spans queued for export; more are dropped and counted' },
    { name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', default: '512', text: 'spans per export request' },
    { name: 'OTEL_BSP_SCHEDULE_DELAY', default: '1000', text: 'batch export delay, ms' },
    { name: 'AGENTWARDEN_OTLP_SERIALIZER', default: DEFAULT_OTLP_SERIALIZER, text: `${OTLP_SERIALIZERS.join(' or ')}: the sidecar's OTLP protobuf serializer or the SDK's (fallback)` },
  ],
});

export function readSidecarConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SidecarConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      listen: { type: 'string', default: DEFAULT_AUTHZ_LISTEN },
      'allow-tcp-credentials': { type: 'boolean', default: false },
      'admin-listen': { type: 'string', default: '127.0.0.1:15021' },
      'debug-snapshot': { type: 'boolean', default: false },
      'grpc-impl': { type: 'string', default: DEFAULT_AUTHZ_SERVER_IMPL },
      policy: { type: 'string', multiple: true },
      pod: { type: 'string' },
      'secrets-dir': { type: 'string' },
      'max-request-bytes': { type: 'string', default: String(16 * MIB) },
      'max-sessions': { type: 'string', default: String(DEFAULT_MAX_SESSIONS) },
      'max-taints-per-session': { type: 'string', default: String(DEFAULT_MAX_TAINTS_PER_SESSION) },
      'anomaly-summary-interval': { type: 'string', default: '30s' },
      'max-baseline-operations': { type: 'string', default: String(DEFAULT_MAX_OPERATIONS) },
      controller: { type: 'string' },
      'token-file': { type: 'string', default: '/var/run/secrets/agentwarden/token' },
      'controller-ca': { type: 'string' },
      'pod-name': { type: 'string' },
      namespace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) throw new HelpRequested(SIDECAR_HELP);
  const policyPaths = values.policy ?? [];
  const podName = values['pod-name'] ?? env['POD_NAME'] ?? '';
  const namespace = values.namespace ?? env['POD_NAMESPACE'] ?? '';
  if (values.controller !== undefined) {
    if (policyPaths.length > 0 || values.pod !== undefined) throw new ConfigError('sidecar: use either --controller (controller mode) or --policy/--pod (standalone mode), not both');
    if (podName === '' || namespace === '') throw new ConfigError('sidecar: controller mode needs --pod-name and --namespace (or POD_NAME and POD_NAMESPACE)');
  } else if (policyPaths.length === 0 || values.pod === undefined) {
    throw new ConfigError('sidecar: give --controller <addr> (controller mode) or --policy <file|dir> and --pod <pod.yaml> (standalone mode)');
  }
  const tracesExporter = (env['OTEL_TRACES_EXPORTER'] ?? 'otlp').toLowerCase();
  const disabled = (env['OTEL_SDK_DISABLED'] ?? '').toLowerCase() === 'true' || tracesExporter === 'none';
  const protocol = env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'] ?? DEFAULT_OTLP_PROTOCOL;
  if (!disabled && !isOtlpProtocol(protocol)) {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not ${OTLP_PROTOCOLS.join(', ')}`);
  }
  const grpcImpl = AUTHZ_SERVER_IMPLS.find((i) => i === values['grpc-impl']);
  if (grpcImpl === undefined) throw new ConfigError(`--grpc-impl: "${values['grpc-impl']}" is not ${AUTHZ_SERVER_IMPLS.join(' or ')}`);
  const level = env['AGENTWARDEN_LOG_LEVEL'] ?? 'info';
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') throw new ConfigError(`AGENTWARDEN_LOG_LEVEL: "${level}" is not debug, info, warn or error`);
  const otlpSerializer = env['AGENTWARDEN_OTLP_SERIALIZER'] ?? DEFAULT_OTLP_SERIALIZER;
  if (!isOtlpSerializer(otlpSerializer)) throw new ConfigError(`AGENTWARDEN_OTLP_SERIALIZER: "${otlpSerializer}" is not ${OTLP_SERIALIZERS.join(' or ')}`);
  return Object.freeze({
    listen: values.listen,
    allowTcpCredentials: values['allow-tcp-credentials'],
    grpcImpl,
    adminListen: values['admin-listen'],
    debugSnapshot: values['debug-snapshot'],
    controller: values.controller,
    tokenFile: values['token-file'],
    controllerCa: values['controller-ca'],
    podName,
    namespace,
    policyPaths,
    podFile: values.pod,
    secretsDir: values['secrets-dir'],
    maxRequestBytes: positiveInt(values['max-request-bytes'], '--max-request-bytes'),
    maxSessions: positiveInt(values['max-sessions'], '--max-sessions'),
    maxTaintsPerSession: positiveInt(values['max-taints-per-session'], '--max-taints-per-session'),
    otlpProtocol: disabled || !isOtlpProtocol(protocol) ? undefined : protocol,
    spanQueueSize: positiveInt(env['OTEL_BSP_MAX_QUEUE_SIZE'] ?? '2048', 'OTEL_BSP_MAX_QUEUE_SIZE'),
    spanExportBatchSize: positiveInt(env['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'] ?? '512', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    spanExportDelayMs: positiveInt(env['OTEL_BSP_SCHEDULE_DELAY'] ?? '1000', 'OTEL_BSP_SCHEDULE_DELAY'),
    reloadDebounceMs: 100,
    logLevel: level,
    otlpSerializer,
    anomalySummaryIntervalMs: positiveDuration(values['anomaly-summary-interval'], '--anomaly-summary-interval'),
    maxBaselineOperations: positiveInt(values['max-baseline-operations'], '--max-baseline-operations'),
  });
}

function positiveDuration(text: string, field: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) throw new ConfigError(`${field}: "${text}" is not a positive duration such as 30s`);
  return ms;
}

function positiveInt(text: string, field: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) <= 0) throw new ConfigError(`${field}: "${text}" is not a positive integer`);
  return Number(text);
}
