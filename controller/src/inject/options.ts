// What the injector adds to a pod is parameterised here: images, ports,
// resources, body limits. The Helm chart renders these values into a file the
// controller reads (parseInjectOptions); every field has a documented default.
import { Problems } from '../../../policy/src/errors.js';
import { FieldReader, isPlain, type Plain } from '../../../policy/src/fields.js';

/** Kubernetes resource quantities, e.g. {cpu: "50m", memory: "64Mi"}. */
export interface Resources {
  readonly requests: Readonly<Record<string, string>>;
  readonly limits: Readonly<Record<string, string>>;
}

export interface InjectPorts {
  /** Envoy's outbound listener (loopback; iptables REDIRECT target). Default 15001. */
  readonly outbound: number;
  /**
   * Envoy admin's former loopback port. Injected Envoys serve admin on a Unix socket
   * (names.ts ENVOY_ADMIN_SOCKET) instead; iptables capture still refuses this port to
   * every UID. Kept so existing values files stay valid. Default 15000.
   */
  readonly envoyAdmin: number;
  /**
   * The sidecar's ext_authz gRPC port. Injected pods no longer use it: Envoy reaches
   * the sidecar over a Unix socket the agent cannot reach (names.ts AUTHZ_SOCKET).
   * Kept so existing values files stay valid. Default 15011.
   */
  readonly authz: number;
  /** The sidecar's health and metrics port (probed by the kubelet on the pod IP). Default 15021. */
  readonly sidecarAdmin: number;
}

export interface InjectOptions {
  /** Default docker.io/envoyproxy/envoy:v1.40.0 (the version the pod harness runs). */
  readonly envoyImage: string;
  /** The agentwarden image; its entrypoint is `agentwarden`. Default docker.io/agentwarden/agentwarden:0.1.0. */
  readonly sidecarImage: string;
  /** Image of the traffic-capture init container; needs `sh` and `iptables`. Default docker.io/agentwarden/agentwarden-init:0.1.0. */
  readonly initImage: string;
  /** Default IfNotPresent. */
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** The controller's PolicyDistribution address. Default agentwarden-controller.agentwarden-system.svc:15012. */
  readonly controllerAddress: string;
  /**
   * ConfigMap (in the pod's namespace) whose key ca.crt holds the CA of the
   * controller's certificate; '' for none (a controller on loopback only).
   * Default agentwarden-ca-root.
   */
  readonly controllerCaConfigMap: string;
  /** UID of Envoy and the sidecar; its traffic is exempt from capture. Default 1337. */
  readonly proxyUid: number;
  /**
   * UID the app's containers run as when the pod sets no runAsUser (the pod-level
   * securityContext gets it), so the image's USER never decides: an image whose
   * USER is the proxy UID would escape capture. Never 0, never proxyUid. Default 1000.
   */
  readonly agentUid: number;
  /**
   * Whether pods in every agent namespace may choose agentwarden.io/capture=proxy-env
   * (cooperative: an agent that ignores HTTP_PROXY is not governed). When false, only
   * namespaces labelled agentwarden.io/allow-proxy-env=true may. Default false.
   */
  readonly allowProxyEnv: boolean;
  readonly ports: InjectPorts;
  /** Largest request body Envoy buffers for the sidecar (MCP messages), bytes. Default 1048576 (1 MiB). */
  readonly maxRequestBytes: number;
  /** ext_authz call timeout, ms. Default 500. */
  readonly authzTimeoutMs: number;
  /** CA bundle in the Envoy image used to verify originated TLS. Default /etc/ssl/certs/ca-certificates.crt. */
  readonly upstreamCaFile: string;
  /** Envoy worker threads. Default 2. */
  readonly envoyConcurrency: number;
  /** Envoy --log-level. Default warning. */
  readonly envoyLogLevel: 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'critical' | 'off';
  /**
   * Default: envoy 50m/64Mi requests, 256Mi limit; sidecar 20m/128Mi, 256Mi; init 10m/16Mi, 64Mi.
   * The sidecar (bin/agentwarden sidecar, with the launcher's heap flags) measured 88 MiB idle
   * and 126 MiB at peak under h2load saturation with span export on (make bench, 2026-11-29).
   */
  readonly resources: { readonly envoy: Resources; readonly sidecar: Resources; readonly init: Resources };
  /** Extra environment of the sidecar container (OTEL_EXPORTER_OTLP_*, AGENTWARDEN_LOG_LEVEL). Default none. */
  readonly sidecarEnv: readonly { readonly name: string; readonly value: string }[];
  /** proxy-env capture: hosts added to NO_PROXY after the loopback ones. Default none. */
  readonly noProxy: readonly string[];
  /** Lifetime of the projected token (audience agentwarden), seconds. Default 3600. */
  readonly tokenExpirationSeconds: number;
}

export const DEFAULT_INJECT_OPTIONS: InjectOptions = Object.freeze({
  envoyImage: 'docker.io/envoyproxy/envoy:v1.40.0',
  sidecarImage: 'docker.io/agentwarden/agentwarden:0.1.0',
  initImage: 'docker.io/agentwarden/agentwarden-init:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  controllerAddress: 'agentwarden-controller.agentwarden-system.svc:15012',
  controllerCaConfigMap: 'agentwarden-ca-root',
  proxyUid: 1337,
  agentUid: 1000,
  allowProxyEnv: false,
  ports: Object.freeze({ outbound: 15001, envoyAdmin: 15000, authz: 15011, sidecarAdmin: 15021 }),
  maxRequestBytes: 1024 * 1024,
  authzTimeoutMs: 500,
  upstreamCaFile: '/etc/ssl/certs/ca-certificates.crt',
  envoyConcurrency: 2,
  envoyLogLevel: 'warning',
  resources: Object.freeze({
    envoy: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    sidecar: { requests: { cpu: '20m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    init: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
  }),
  sidecarEnv: [],
  noProxy: [],
  tokenExpirationSeconds: 3600,
});

export class InjectOptionsError extends Error {
  constructor(readonly source: string, readonly problems: readonly { readonly field: string; readonly message: string }[]) {
    super(problems.map((p) => `${source}: ${p.field}: ${p.message}`).join('\n'));
    this.name = 'InjectOptionsError';
  }
}

const IMAGE = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const HOST_PORT = /^[a-zA-Z0-9.\-[\]:]+:[0-9]{1,5}$/;
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const PORT = { min: 1, max: 65535 };

/**
 * Reads injection options (decoded YAML/JSON, every field optional) over the
 * defaults. Throws InjectOptionsError naming `source` and each bad field.
 */
export function parseInjectOptions(value: unknown, source: string): InjectOptions {
  const problems = new Problems();
  const root = FieldReader.of(problems, '', value ?? {});
  if (root === undefined) throw new InjectOptionsError(source, problems.list);
  const d = DEFAULT_INJECT_OPTIONS;
  root.rejectUnknown(Object.keys(d));
  const image = (key: string, fallback: string): string => root.string(key, { maxLength: 512, pattern: IMAGE, patternHint: 'an image reference', default: fallback }) ?? fallback;
  const ports = root.object('ports');
  ports?.rejectUnknown(Object.keys(d.ports));
  const resources = root.object('resources');
  resources?.rejectUnknown(Object.keys(d.resources));
  const options: InjectOptions = {
    envoyImage: image('envoyImage', d.envoyImage),
    sidecarImage: image('sidecarImage', d.sidecarImage),
    initImage: image('initImage', d.initImage),
    imagePullPolicy: root.enumString('imagePullPolicy', ['Always', 'IfNotPresent', 'Never'], d.imagePullPolicy),
    controllerAddress: root.string('controllerAddress', { maxLength: 512, pattern: HOST_PORT, patternHint: 'host:port', default: d.controllerAddress }) ?? d.controllerAddress,
    controllerCaConfigMap: root.string('controllerCaConfigMap', { maxLength: 253, pattern: /^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, patternHint: 'a ConfigMap name or ""', default: d.controllerCaConfigMap }) ?? d.controllerCaConfigMap,
    proxyUid: root.integer('proxyUid', { min: 1, max: 2147483647 }) ?? d.proxyUid,
    agentUid: root.integer('agentUid', { min: 1, max: 2147483647 }) ?? d.agentUid,
    allowProxyEnv: readBoolean(problems, value, 'allowProxyEnv', d.allowProxyEnv),
    ports: {
      outbound: ports?.integer('outbound', PORT) ?? d.ports.outbound,
      envoyAdmin: ports?.integer('envoyAdmin', PORT) ?? d.ports.envoyAdmin,
      authz: ports?.integer('authz', PORT) ?? d.ports.authz,
      sidecarAdmin: ports?.integer('sidecarAdmin', PORT) ?? d.ports.sidecarAdmin,
    },
    maxRequestBytes: root.integer('maxRequestBytes', { min: 1024, max: 64 * 1024 * 1024 }) ?? d.maxRequestBytes,
    authzTimeoutMs: root.integer('authzTimeoutMs', { min: 10, max: 60_000 }) ?? d.authzTimeoutMs,
    upstreamCaFile: root.string('upstreamCaFile', { maxLength: 1024, pattern: /^\/\S*$/, patternHint: 'an absolute path', default: d.upstreamCaFile }) ?? d.upstreamCaFile,
    envoyConcurrency: root.integer('envoyConcurrency', { min: 1, max: 64 }) ?? d.envoyConcurrency,
    envoyLogLevel: root.enumString('envoyLogLevel', ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'], d.envoyLogLevel),
    resources: {
      envoy: readResources(resources, 'envoy', d.resources.envoy),
      sidecar: readResources(resources, 'sidecar', d.resources.sidecar),
      init: readResources(resources, 'init', d.resources.init),
    },
    sidecarEnv: root.has('sidecarEnv') ? root.list('sidecarEnv', { max: 64 }, (v, path) => {
      const e = root.reader(path, v);
      if (e === undefined) return undefined;
      e.rejectUnknown(['name', 'value']);
      const name = e.string('name', { required: true, maxLength: 256, pattern: ENV_NAME, patternHint: 'an environment variable name' });
      const val = e.string('value', { maxLength: 4096, default: '' }) ?? '';
      return name === undefined ? undefined : { name, value: val };
    }) : d.sidecarEnv,
    noProxy: root.has('noProxy') ? root.stringList('noProxy', { max: 64, maxLength: 253, pattern: /^[^,\s]+$/, patternHint: 'a host, domain suffix or CIDR without commas' }) : d.noProxy,
    tokenExpirationSeconds: root.integer('tokenExpirationSeconds', { min: 600, max: 86400 }) ?? d.tokenExpirationSeconds,
  };
  const used = Object.entries(options.ports).filter(([, p]) => Object.values(options.ports).filter((q) => q === p).length > 1);
  if (used.length > 0) problems.add('ports', `each port must differ: ${used.map(([k, p]) => `${k}=${p}`).join(', ')}`);
  if (options.agentUid === options.proxyUid) problems.add('agentUid', `must differ from proxyUid (${options.proxyUid}): the capture lets the proxy UID's traffic through`);
  if (!problems.empty) throw new InjectOptionsError(source, problems.list);
  return deepFreeze(options);
}

function readBoolean(problems: Problems, value: unknown, key: string, fallback: boolean): boolean {
  const v = isPlain(value) ? value[key] : undefined;
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  problems.add(key, 'must be true or false');
  return fallback;
}

function readResources(parent: FieldReader | undefined, key: string, fallback: Resources): Resources {
  const r = parent?.object(key);
  if (r === undefined) return fallback;
  r.rejectUnknown(['requests', 'limits']);
  const quantities = (k: 'requests' | 'limits'): Record<string, string> => {
    const map = r.stringMap(k, { maxLength: 64 });
    for (const name of Object.keys(map)) if (!NAME.test(name)) r.report(`${r.path}.${k}.${name}`, 'is not a resource name');
    return r.has(k) ? map : { ...fallback[k] };
  };
  return { requests: quantities('requests'), limits: quantities('limits') };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value as Plain)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
