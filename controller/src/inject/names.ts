// Labels, annotations and the names of everything the injector adds. These
// are public interface (DESIGN.md: labels and annotations live under
// agentwarden.io/); extend them, do not rename them.

/** Namespace or pod label (pod annotation too): "enabled" injects, "disabled" opts out. */
export const INJECT_LABEL = 'agentwarden.io/inject';
/** Pod annotation: the JSON record of what was injected (see InjectedRecord). */
export const INJECTED_ANNOTATION = 'agentwarden.io/injected';
/**
 * Pod label, value "true", set with the annotation on every pod the injector
 * injects: the controller lists and watches only pods so labelled (a label
 * selector cannot read annotations) and refuses a sidecar whose pod lacks it.
 */
export const INJECTED_LABEL = 'agentwarden.io/injected';
export const INJECTED_LABEL_VALUE = 'true';
/** Pod annotation: "iptables" (default) or "proxy-env". */
export const CAPTURE_ANNOTATION = 'agentwarden.io/capture';
/**
 * Namespace label: "true" lets pods there choose agentwarden.io/capture=proxy-env
 * (cooperative capture). Namespaces are cluster-scoped, so a namespace admin
 * cannot set it; the platform team does, or allows proxy-env everywhere with the
 * chart's inject.allowProxyEnv.
 */
export const ALLOW_PROXY_ENV_LABEL = 'agentwarden.io/allow-proxy-env';
/** Pod annotation: comma-separated "host" or "host:port" (default port 443) to reach over TLS that Envoy originates. */
export const TLS_ORIGINATION_ANNOTATION = 'agentwarden.io/tls-origination';

export const ENVOY_CONTAINER = 'agentwarden-envoy';
export const SIDECAR_CONTAINER = 'agentwarden-sidecar';
export const INIT_CONTAINER = 'agentwarden-init';
export const TOKEN_VOLUME = 'agentwarden-token';
export const TOKEN_DIR = '/var/run/secrets/agentwarden';
export const TOKEN_AUDIENCE = 'agentwarden';
/**
 * Envoy reaches the sidecar's ext_authz over a Unix socket in a memory volume
 * mounted into those two containers only: on loopback TCP the agent, which shares
 * the pod's network namespace, could call Check itself and read the credential
 * headers an allow carries.
 */
export const AUTHZ_SOCKET_VOLUME = 'agentwarden-authz';
export const AUTHZ_SOCKET_DIR = '/var/run/agentwarden-authz';
export const AUTHZ_SOCKET = `${AUTHZ_SOCKET_DIR}/authz.sock`;
/** Envoy's admin interface: a Unix socket in the same volume, never a TCP port the agent could reach. */
export const ENVOY_ADMIN_SOCKET = `${AUTHZ_SOCKET_DIR}/envoy-admin.sock`;

/** Containers and volumes the injector adds are all named so; an app's own may not be. */
export const RESERVED_PREFIX = 'agentwarden-';

export const PROXY_ENV_NAMES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'] as const;

/** Everything the injector may add; a record naming anything else is not trusted. */
export const RESERVED = Object.freeze({
  containers: new Set<string>([ENVOY_CONTAINER, SIDECAR_CONTAINER]),
  initContainers: new Set<string>([INIT_CONTAINER, SIDECAR_CONTAINER, ENVOY_CONTAINER]),
  volumes: new Set<string>([TOKEN_VOLUME, AUTHZ_SOCKET_VOLUME]),
  env: new Set<string>(PROXY_ENV_NAMES),
});

/** What one injection added, stored in the agentwarden.io/injected annotation. */
export interface InjectedRecord {
  readonly containers: readonly string[];
  readonly initContainers: readonly string[];
  readonly volumes: readonly string[];
  /** Environment variables set on every app container (proxy-env capture). */
  readonly env: readonly string[];
}

/**
 * Reads the agentwarden.io/injected annotation, keeping only names the injector
 * itself uses (so a forged record cannot make the injector or the pod guard
 * treat an app container as injected). Undefined when absent or unreadable.
 */
export function readInjectedRecord(annotations: Readonly<Record<string, string>> | undefined): InjectedRecord | undefined {
  const text = annotations?.[INJECTED_ANNOTATION];
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const names = (key: keyof InjectedRecord, allowed: ReadonlySet<string>): string[] => {
    const list = v[key];
    return Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string' && allowed.has(n)) : [];
  };
  return {
    containers: names('containers', RESERVED.containers),
    initContainers: names('initContainers', RESERVED.initContainers),
    volumes: names('volumes', RESERVED.volumes),
    env: names('env', RESERVED.env),
  };
}
