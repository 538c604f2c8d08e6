// The sidecar's configuration: flags and environment are read here and nowhere
// else. Returns a frozen, typed object; defaults are documented per field.
import { parseArgs } from 'node:util';
import { AUTHZ_SERVER_IMPLS, type AuthzServerImpl } from './authz/server.js';

export type OtlpProtocol = 'grpc' | 'http/protobuf' | 'http/json';

export interface SidecarConfig {
  /** ext_authz gRPC listen address: "host:port" or "unix:/path". Default 127.0.0.1:15011. */
  readonly listen: string;
  /** ext_authz gRPC server implementation: http2 (own HTTP/2 framing, authz/http2-server.ts) or grpc-js. Default http2. */
  readonly grpcImpl: AuthzServerImpl;
  /** Admin HTTP (healthz, readyz, metrics, debug): "host:port". Default 127.0.0.1:15021. */
  readonly adminListen: string;
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
}

export class ConfigError extends Error {}

const MIB = 1024 * 1024;

export function readSidecarConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SidecarConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      listen: { type: 'string', default: '127.0.0.1:15011' },
      'admin-listen': { type: 'string', default: '127.0.0.1:15021' },
      'grpc-impl': { type: 'string', default: 'http2' },
      policy: { type: 'string', multiple: true },
      pod: { type: 'string' },
      'secrets-dir': { type: 'string' },
      'max-request-bytes': { type: 'string', default: String(16 * MIB) },
      controller: { type: 'string' },
      'token-file': { type: 'string', default: '/var/run/secrets/agentwarden/token' },
      'controller-ca': { type: 'string' },
      'pod-name': { type: 'string' },
      namespace: { type: 'string' },
    },
    strict: true,
  });
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
  const protocol = env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'] ?? 'http/protobuf';
  if (!disabled && !isProtocol(protocol)) {
    throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not grpc, http/protobuf or http/json`);
  }
  const grpcImpl = AUTHZ_SERVER_IMPLS.find((i) => i === values['grpc-impl']);
  if (grpcImpl === undefined) throw new ConfigError(`--grpc-impl: "${values['grpc-impl']}" is not ${AUTHZ_SERVER_IMPLS.join(' or ')}`);
  const level = env['AGENTWARDEN_LOG_LEVEL'] ?? 'info';
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') throw new ConfigError(`AGENTWARDEN_LOG_LEVEL: "${level}" is not debug, info, warn or error`);
  return Object.freeze({
    listen: values.listen,
    grpcImpl,
    adminListen: values['admin-listen'],
    controller: values.controller,
    tokenFile: values['token-file'],
    controllerCa: values['controller-ca'],
    podName,
    namespace,
    policyPaths,
    podFile: values.pod,
    secretsDir: values['secrets-dir'],
    maxRequestBytes: positiveInt(values['max-request-bytes'], '--max-request-bytes'),
    otlpProtocol: disabled || !isProtocol(protocol) ? undefined : protocol,
    spanQueueSize: positiveInt(env['OTEL_BSP_MAX_QUEUE_SIZE'] ?? '2048', 'OTEL_BSP_MAX_QUEUE_SIZE'),
    spanExportBatchSize: positiveInt(env['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'] ?? '512', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    spanExportDelayMs: positiveInt(env['OTEL_BSP_SCHEDULE_DELAY'] ?? '1000', 'OTEL_BSP_SCHEDULE_DELAY'),
    reloadDebounceMs: 100,
    logLevel: level,
  });
}

function positiveInt(text: string, field: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) <= 0) throw new ConfigError(`${field}: "${text}" is not a positive integer`);
  return Number(text);
}

function isProtocol(p: string): p is OtlpProtocol {
  return p === 'grpc' || p === 'http/protobuf' || p === 'http/json';
}
