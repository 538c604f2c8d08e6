// Pod injection: decide, inject, patch. Pure; the admission webhook is the shell.
export { injectPod, stripInjection, mutatePod, type MutationResult } from './inject.js';
export { patchFor, pointerToken, type JsonPatchOperation } from './patch.js';
export { envoyBootstrap, tlsClusterName, AUTHZ_CLUSTER, FORWARD_PROXY_CLUSTER, TLS_ORIGINATION_EXTENSION } from './bootstrap.js';
export { captureScript } from './capture.js';
export { injectionDecision, readPodSettings, InjectionError, type CaptureMode, type PodSettings, type TlsOrigination, type InjectDecision } from './settings.js';
export { DEFAULT_INJECT_OPTIONS, parseInjectOptions, InjectOptionsError, type InjectOptions, type InjectPorts, type Resources } from './options.js';
export * from './names.js';
export type { JsonValue, JsonObject } from './json.js';
