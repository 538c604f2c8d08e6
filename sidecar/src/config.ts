// The sidecar's configuration: flags and environment are read here and nowhere
// else. Returns a frozen, typed object; defaults are documented per field.
import { DEFAULT_OTLP_SERIALIZER, isOtlpSerializer, OTLP_SERIALIZERS, type OtlpSerializer } from './telemetry/serializer.js';
import { DEFAULT_SPAN_QUEUE, isSpanQueue, SPAN_QUEUES, type SpanQueue } from './telemetry/span-sink.js';
import { DEFAULT_OTLP_TRANSPORT, isOtlpTransport, OTLP_TRANSPORTS, type OtlpTransport } from './telemetry/transport.js';
import { otlpHttpOptionsFromEnv, type OtlpHttpOptions } from './telemetry/otlp-http-options.js';
import { AUTHZ_SERVER_IMPLS, DEFAULT_AUTHZ_LISTEN, DEFAULT_AUTHZ_SERVER_IMPL, type AuthzServerImpl } from './authz/server-api.js';
import { DEFAULT_OTLP_PROTOCOL, isOtlpProtocol, OTLP_PROTOCOLS, type OtlpProtocol } from './telemetry/protocol.js';
import { commandHelp, defineCommand, parseCommand } from '../../common/flags.js';
// The session store's module alone (no imports of its own), not the policy core.
import { DEFAULT_MAX_SESSIONS, DEFAULT_MAX_TAINTS_PER_SESSION } from '../../policy/src/session-store.js';
// The anomaly detector's bounds (type-only imports of its own) and the duration parser (none).
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
  /** Count V8's collections on /metrics (telemetry/runtime-metrics.ts: a per-collection observer, off by default). */
  readonly gcMetrics: boolean;
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
  /** Where decided spans wait for export: batches (reused buffers) or sdk (the SDK's BatchSpanProcessor). Default batches (AGENTWARDEN_SPAN_QUEUE). */
  readonly spanQueue: SpanQueue;
  /** http/protobuf batches: the sidecar's transport or the SDK's export delegate (fallback). Default sidecar (AGENTWARDEN_OTLP_TRANSPORT). */
  readonly otlpTransport: OtlpTransport;
  /** http/protobuf export: endpoint, headers, timeout, compression, certificates (OTEL_EXPORTER_OTLP_*); undefined for other protocols or export off. */
  readonly otlpHttp: OtlpHttpOptions | undefined;
  /** Controller mode: how often the operation summary (issue 17) goes to the controller, ms. Default 30000. */
  readonly anomalySummaryIntervalMs: number;
  /** Operations this sidecar learns while its baseline learns; beyond, dropped and counted. Default 4096. */
  readonly maxBaselineOperations: number;
}

export class ConfigError extends Error {}

const MIB = 1024 * 1024;

/** `agentwarden sidecar`: its flags (parsed and listed by --help from this one table) and the environment read here. */
export const SIDECAR_COMMAND = defineCommand({
  name: 'sidecar',
  usage: [
    'agentwarden sidecar --controller <addr> --pod-name <name> --namespace <ns> [flags]   (controller mode)',
    'agentwarden sidecar --policy <file|dir> [--policy ...] --pod <pod.yaml> [flags]   (standalone mode)',
  ],
  summary: 'Runs the ext_authz sidecar Envoy asks about each request: policies come from the controller (controller mode) or from files (standalone mode).',
  flags: {
    controller: { type: 'string', value: 'host:port', help: 'controller mode: the controller\'s PolicyDistribution address' },
    'controller-ca': { type: 'string', value: 'file', help: 'controller mode: CA bundle of the controller\'s certificate; required unless the controller is on loopback' },
    'token-file': { type: 'string', value: 'file', default: '/var/run/secrets/agentwarden/token', help: 'controller mode: projected ServiceAccount token (audience agentwarden)' },
    'pod-name': { type: 'string', value: 'name', env: 'POD_NAME', help: 'the pod this sidecar serves (downward API)' },
    namespace: { type: 'string', value: 'ns', env: 'POD_NAMESPACE', help: 'the namespace of that pod (downward API)' },
    policy: { type: 'string', multiple: true, value: 'file|dir', help: 'standalone mode: AgentPolicy files or folders' },
    pod: { type: 'string', value: 'pod.yaml', help: 'standalone mode: the Pod manifest this sidecar stands for' },
    'secrets-dir': { type: 'string', value: 'dir', shownDefault: 'none', help: 'standalone mode: folder of Secrets as <secret-name>/<key> files' },
    listen: { type: 'string', value: 'addr', default: DEFAULT_AUTHZ_LISTEN, help: 'ext_authz gRPC listen address, unix:/path or host:port' },
    'allow-tcp-credentials': { type: 'boolean', help: 'serve snapshots that carry credentials on a TCP --listen, which every process in the pod can reach (without it they are refused)' },
    'admin-listen': { type: 'string', value: 'addr', default: '127.0.0.1:15021', help: 'admin HTTP (healthz, readyz, metrics), host:port' },
    'gc-metrics': { type: 'boolean', help: "count V8's collections on /metrics (nodejs_gc_*, heap after the latest full collection); off by default: Node makes objects for every collection it reports, and under load they reach the old generation and bring full collections (make soak)" },
    'debug-snapshot': { type: 'boolean', help: 'serve /debug/snapshot (the rules in force, no credential values) to loopback clients on the admin port' },
    'grpc-impl': { type: 'string', value: AUTHZ_SERVER_IMPLS.join('|'), default: DEFAULT_AUTHZ_SERVER_IMPL, help: 'ext_authz gRPC server implementation' },
    'max-request-bytes': { type: 'string', value: 'n', default: String(16 * MIB), help: 'largest CheckRequest decoded, bytes; larger ones are denied' },
    'max-sessions': { type: 'string', value: 'n', default: String(DEFAULT_MAX_SESSIONS), help: 'sessions whose taints are kept; the least recently used beyond it are dropped and counted' },
    'max-taints-per-session': { type: 'string', value: 'n', default: String(DEFAULT_MAX_TAINTS_PER_SESSION), help: 'taints kept per session' },
    'anomaly-summary-interval': { type: 'string', value: 'duration', default: '30s', env: 'AGENTWARDEN_ANOMALY_SUMMARY_INTERVAL', help: 'controller mode: how often the operation summary (spec.anomaly baselines) goes to the controller' },
    'max-baseline-operations': { type: 'string', value: 'n', default: String(DEFAULT_MAX_OPERATIONS), help: 'operations learned while the baseline learns; beyond it they are dropped and counted' },
  },
  env: [
    { name: 'AGENTWARDEN_LOG_LEVEL', default: 'info', text: 'debug, info, warn or error' },
    { name: 'OTEL_TRACES_EXPORTER', default: 'otlp', text: '"none" turns audit span export off' },
    { name: 'OTEL_SDK_DISABLED', default: 'false', text: '"true" turns audit span export off' },
    { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', default: 'http/protobuf', text: 'grpc, http/protobuf or http/json; OTEL_EXPORTER_OTLP_TRACES_PROTOCOL wins' },
    { name: 'OTEL_EXPORTER_OTLP_*', text: 'endpoint, headers, timeout, compression, certificates (_TRACES_ ones win): read by the OTLP exporter at start' },
    { name: 'OTEL_BSP_MAX_QUEUE_SIZE', default: '2048', text: 'spans queued for export; more are dropped and counted' },
    { name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', default: '512', text: 'spans per export request' },
    { name: 'OTEL_BSP_SCHEDULE_DELAY', default: '1000', text: 'batch export delay, ms' },
    { name: 'AGENTWARDEN_OTLP_SERIALIZER', default: DEFAULT_OTLP_SERIALIZER, text: `${OTLP_SERIALIZERS.join(' or ')}: the sidecar's OTLP protobuf serializer or the SDK's (fallback)` },
    { name: 'AGENTWARDEN_SIDECAR_GC', default: 'serial-scavenge', text: "read by bin/agentwarden (the image's entrypoint): serial-scavenge (V8 scavenges on the main thread alone), single-threaded (all of V8's GC on the main thread) or parallel (V8's default)" },
    { name: 'AGENTWARDEN_SIDECAR_JIT', default: 'early-turbofan', text: "read by bin/agentwarden: early-turbofan (V8's optimizing compiler from a function's 300th call, no Maglev: less memory, lower tail latency) or v8-default (Maglev from the 400th call, Turbofan from the 3,000th)" },
    { name: 'AGENTWARDEN_SIDECAR_V8_FLAGS', text: "read by bin/agentwarden: more V8 flags for the sidecar's node, after the launcher's (the last of a flag wins)" },
    { name: 'AGENTWARDEN_SPAN_QUEUE', default: DEFAULT_SPAN_QUEUE, text: `${SPAN_QUEUES.join(' or ')}: spans wait for export in reused batch buffers, or as objects in the SDK's BatchSpanProcessor (as before; http/json and the SDK serializer always use it)` },
    { name: 'AGENTWARDEN_OTLP_TRANSPORT', default: DEFAULT_OTLP_TRANSPORT, text: `${OTLP_TRANSPORTS.join(' or ')}: http/protobuf batches go out through the sidecar's own transport, or the SDK's export delegate (fallback)` },
  ],
  exits: [[0, 'stopped by SIGTERM or SIGINT'], [1, 'failed while starting or running (a listen address taken, the policies unreadable)'], [2, 'invalid flags or environment']],
});

/** `agentwarden sidecar --help`. */
export const SIDECAR_HELP = commandHelp(SIDECAR_COMMAND);

export function readSidecarConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SidecarConfig {
  const { values } = parseCommand(SIDECAR_COMMAND, argv, env);
  const policyPaths = values.policy;
  const podName = values['pod-name'] ?? '';
  const namespace = values.namespace ?? '';
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
  const spanQueue = env['AGENTWARDEN_SPAN_QUEUE'] ?? DEFAULT_SPAN_QUEUE;
  if (!isSpanQueue(spanQueue)) throw new ConfigError(`AGENTWARDEN_SPAN_QUEUE: "${spanQueue}" is not ${SPAN_QUEUES.join(' or ')}`);
  const otlpTransport = env['AGENTWARDEN_OTLP_TRANSPORT'] ?? DEFAULT_OTLP_TRANSPORT;
  if (!isOtlpTransport(otlpTransport)) throw new ConfigError(`AGENTWARDEN_OTLP_TRANSPORT: "${otlpTransport}" is not ${OTLP_TRANSPORTS.join(' or ')}`);
  let otlpHttp: OtlpHttpOptions | undefined;
  try {
    otlpHttp = !disabled && protocol === 'http/protobuf' ? otlpHttpOptionsFromEnv(env) : undefined;
  } catch (e: unknown) {
    throw new ConfigError(e instanceof Error ? e.message : String(e), { cause: e });
  }
  return Object.freeze({
    listen: values.listen,
    allowTcpCredentials: values['allow-tcp-credentials'],
    grpcImpl,
    adminListen: values['admin-listen'],
    debugSnapshot: values['debug-snapshot'],
    gcMetrics: values['gc-metrics'],
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
    spanQueue,
    otlpTransport,
    otlpHttp,
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
