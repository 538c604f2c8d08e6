// The containers and volume the injector adds (pure). Envoy and the sidecar
// are native sidecars (init containers with restartPolicy Always): they start
// before the app's containers, the app's own init containers included, and
// stop after them, so Jobs complete and nothing the app sends escapes them.
import type { V1Container, V1EnvVar, V1SecurityContext, V1Volume } from '@kubernetes/client-node';
import { envoyBootstrap } from './bootstrap.js';
import { captureScript } from './capture.js';
import { AUTHZ_SOCKET, AUTHZ_SOCKET_DIR, AUTHZ_SOCKET_VOLUME, ENVOY_CONTAINER, INIT_CONTAINER, SIDECAR_CONTAINER, TOKEN_AUDIENCE, TOKEN_DIR, TOKEN_VOLUME } from './names.js';
import type { InjectOptions, Resources } from './options.js';
import type { PodSettings } from './settings.js';

const CA_FILE = 'ca.crt';
const TOKEN_FILE = 'token';

function resources(r: Resources): V1Container['resources'] {
  return { requests: { ...r.requests }, limits: { ...r.limits } };
}

/** Envoy and the sidecar: unprivileged, as the proxy UID whose traffic capture lets through. */
function proxySecurityContext(options: InjectOptions): V1SecurityContext {
  return {
    runAsUser: options.proxyUid,
    runAsGroup: options.proxyUid,
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function envoyContainer(settings: PodSettings, options: InjectOptions): V1Container {
  return {
    name: ENVOY_CONTAINER,
    image: options.envoyImage,
    imagePullPolicy: options.imagePullPolicy,
    restartPolicy: 'Always',
    command: ['envoy'],
    args: [
      '--config-yaml', JSON.stringify(envoyBootstrap(settings, options)),
      '--log-level', options.envoyLogLevel,
      '--concurrency', String(options.envoyConcurrency),
      '--disable-hot-restart',
    ],
    resources: resources(options.resources.envoy),
    securityContext: proxySecurityContext(options),
    volumeMounts: [{ name: AUTHZ_SOCKET_VOLUME, mountPath: AUTHZ_SOCKET_DIR }],
  };
}

export function sidecarContainer(options: InjectOptions): V1Container {
  const fieldEnv = (name: string, fieldPath: string): V1EnvVar => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  return {
    name: SIDECAR_CONTAINER,
    image: options.sidecarImage,
    imagePullPolicy: options.imagePullPolicy,
    restartPolicy: 'Always',
    args: [
      'sidecar',
      '--controller', options.controllerAddress,
      '--token-file', `${TOKEN_DIR}/${TOKEN_FILE}`,
      '--pod-name', '$(POD_NAME)',
      '--namespace', '$(POD_NAMESPACE)',
      ...(options.controllerCaConfigMap === '' ? [] : ['--controller-ca', `${TOKEN_DIR}/${CA_FILE}`]),
      '--listen', `unix:${AUTHZ_SOCKET}`,
      // Envoy sends at most max_request_bytes of body; headers and attributes fit in the extra MiB.
      // Beyond this the sidecar denies in-band, and its hard cap (4x) bounds what a stream may buffer.
      '--max-request-bytes', String(options.maxRequestBytes + 1024 * 1024),
      // The kubelet probes the pod IP, not loopback.
      '--admin-listen', `0.0.0.0:${options.ports.sidecarAdmin}`,
    ],
    env: [fieldEnv('POD_NAME', 'metadata.name'), fieldEnv('POD_NAMESPACE', 'metadata.namespace'), ...options.sidecarEnv.map((e) => ({ name: e.name, value: e.value }))],
    ports: [{ name: 'aw-admin', containerPort: options.ports.sidecarAdmin, protocol: 'TCP' }],
    readinessProbe: { httpGet: { path: '/readyz', port: options.ports.sidecarAdmin }, periodSeconds: 5, failureThreshold: 3 },
    resources: resources(options.resources.sidecar),
    securityContext: proxySecurityContext(options),
    volumeMounts: [{ name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true }, { name: AUTHZ_SOCKET_VOLUME, mountPath: AUTHZ_SOCKET_DIR }],
  };
}

/** The memory volume holding the ext_authz socket: Envoy and the sidecar only, never the app. */
export function authzSocketVolume(): V1Volume {
  return { name: AUTHZ_SOCKET_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } };
}

/** iptables capture: the only injected container with NET_ADMIN and NET_RAW, and it exits once the rules are in. */
export function initContainer(options: InjectOptions): V1Container {
  return {
    name: INIT_CONTAINER,
    image: options.initImage,
    imagePullPolicy: options.imagePullPolicy,
    command: ['/bin/sh', '-c', captureScript(options)],
    resources: resources(options.resources.init),
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

/** The sidecar's projected ServiceAccount token (audience agentwarden) and the controller's CA. */
export function tokenVolume(options: InjectOptions): V1Volume {
  return {
    name: TOKEN_VOLUME,
    projected: {
      sources: [
        { serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: options.tokenExpirationSeconds, path: TOKEN_FILE } },
        ...(options.controllerCaConfigMap === '' ? [] : [{ configMap: { name: options.controllerCaConfigMap, items: [{ key: CA_FILE, path: CA_FILE }] } }]),
      ],
    },
  };
}

/** proxy-env capture: the variables that send the app's HTTP(S) through Envoy, in both spellings tools read. */
export function proxyEnv(options: InjectOptions): V1EnvVar[] {
  const proxy = `http://127.0.0.1:${options.ports.outbound}`;
  const noProxy = ['localhost', '127.0.0.1', '::1', ...options.noProxy].join(',');
  return [
    { name: 'HTTP_PROXY', value: proxy },
    { name: 'HTTPS_PROXY', value: proxy },
    { name: 'NO_PROXY', value: noProxy },
    { name: 'http_proxy', value: proxy },
    { name: 'https_proxy', value: proxy },
    { name: 'no_proxy', value: noProxy },
  ];
}
