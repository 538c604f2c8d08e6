// Golden tests of the injector, as Istio's injector keeps them: each
// golden/<case>.yaml (a Namespace and a Pod) must inject into exactly
// golden/<case>.injected.yaml, and, when injected, produce the Envoy bootstrap
// golden/<case>.bootstrap.json. Cases are found by listing the folder, and a
// file there that no case produces fails the run (stale). After an intended
// change, regenerate (stale files are then removed) with:
//   npx tsc -p . && UPDATE_GOLDEN=1 npm run test:unit -- dist/controller/test/inject/
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import {
  envoyBootstrap, injectPod, mutatePod, patchFor, readPodSettings, INJECTED_ANNOTATION, ENVOY_CONTAINER, SIDECAR_CONTAINER, INIT_CONTAINER,
} from '../../src/inject/index.js';
import { CASES, GOLDEN_DIR, OPTIONS, applyPatch, readCase, staleGoldenFiles, toYaml } from './helpers.js';

function golden(file: string, actual: string): void {
  const path = `${GOLDEN_DIR}${file}`;
  if (process.env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

/** Every file the cases produce or read: the rest of the folder is stale. */
const produced = new Set<string>();

describe('the golden folder', () => {
  it('holds the cases, found by listing it', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(9);
    expect(CASES).toEqual(expect.arrayContaining(['plain', 'already-injected', 'proxy-env', 'opted-out', 'not-enabled', 'host-network']));
  });

  it('holds no stale golden file: each is a case, its .injected.yaml, or the .bootstrap.json of an injected case', () => {
    const stale = staleGoldenFiles(produced);
    if (process.env['UPDATE_GOLDEN'] === '1') for (const f of stale) rmSync(`${GOLDEN_DIR}${f}`);
    else expect(stale).toEqual([]);
  });
});

describe.each(CASES)('golden case %s', (name) => {
  const c = readCase(name);
  const result = mutatePod(c.pod, c.namespaceLabels, OPTIONS);
  produced.add(`${name}.yaml`).add(`${name}.injected.yaml`);
  if (result.injected) produced.add(`${name}.bootstrap.json`);

  it(`mutates into golden/${name}.injected.yaml`, () => {
    const header = `# ${result.injected ? 'injected' : 'not injected'}: ${result.reason}\n`;
    golden(`${name}.injected.yaml`, header + toYaml(result.injected ? result.pod : c.pod));
  });

  if (result.injected) {
    it(`writes the Envoy bootstrap golden/${name}.bootstrap.json`, () => {
      golden(`${name}.bootstrap.json`, `${JSON.stringify(envoyBootstrap(readPodSettings(result.pod), OPTIONS), null, 2)}\n`);
    });

    it('is idempotent: injecting the injected pod again changes nothing', () => {
      expect(injectPod(result.pod, OPTIONS)).toEqual(result.pod);
      expect(patchFor(result.pod, injectPod(result.pod, OPTIONS))).toEqual([]);
    });

    it('answers with a JSON patch that turns the original pod into the injected one', () => {
      expect(applyPatch(c.pod, patchFor(c.pod, result.pod))).toEqual(JSON.parse(JSON.stringify(result.pod)));
    });

    it('passes Envoy its bootstrap inline, the same one the golden file holds', () => {
      const envoy = result.pod.spec?.initContainers?.find((x) => x.name === ENVOY_CONTAINER);
      const args = envoy?.args ?? [];
      expect(JSON.parse(args[args.indexOf('--config-yaml') + 1] ?? 'null')).toEqual(envoyBootstrap(readPodSettings(result.pod), OPTIONS));
    });
  }
});

describe('the injector', () => {
  it('re-injects an injected pod from an older version into exactly what a fresh injection gives', () => {
    const fresh = mutatePod(readCase('plain').pod, readCase('plain').namespaceLabels, OPTIONS);
    const again = mutatePod(readCase('already-injected').pod, readCase('already-injected').namespaceLabels, OPTIONS);
    expect(again).toEqual(fresh);
  });

  it('records every name it added in the agentwarden.io/injected annotation', () => {
    const c = readCase('proxy-env');
    const pod = injectPod(c.pod, OPTIONS);
    expect(JSON.parse(pod.metadata?.annotations?.[INJECTED_ANNOTATION] ?? '{}')).toEqual({
      containers: [],
      initContainers: [SIDECAR_CONTAINER, ENVOY_CONTAINER],
      volumes: ['agentwarden-token', 'agentwarden-authz'],
      env: ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'],
    });
  });

  it('does not modify the pod it is given', () => {
    const c = readCase('plain');
    const before = structuredClone(c.pod);
    injectPod(c.pod, OPTIONS);
    expect(c.pod).toEqual(before);
  });

  it('gives NET_ADMIN and NET_RAW to the capture init container only', () => {
    const pod = injectPod(readCase('plain').pod, OPTIONS);
    const withCaps = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].filter((x) => (x.securityContext?.capabilities?.add ?? []).length > 0);
    expect(withCaps.map((x) => [x.name, x.securityContext?.capabilities?.add])).toEqual([[INIT_CONTAINER, ['NET_ADMIN', 'NET_RAW']]]);
  });

  it('adds no init container and no capability with proxy-env capture', () => {
    const pod = injectPod(readCase('proxy-env').pod, OPTIONS);
    expect(pod.spec?.initContainers?.map((x) => x.name)).toEqual([SIDECAR_CONTAINER, ENVOY_CONTAINER, 'fetch-prompts']);
    expect(JSON.stringify(pod)).not.toContain('NET_ADMIN');
  });

  it('keeps a forged injected record from removing the app\'s own containers', () => {
    const c = readCase('plain');
    const forged: V1Pod = { ...c.pod, metadata: { ...c.pod.metadata, annotations: { [INJECTED_ANNOTATION]: JSON.stringify({ containers: ['agent'], initContainers: [], volumes: ['config'], env: ['MODEL'] }) } } };
    const pod = injectPod(forged, OPTIONS);
    expect(pod.spec?.containers.map((x) => x.name)).toEqual(['agent']);
    expect(pod.spec?.containers[0]?.env).toEqual([{ name: 'MODEL', value: 'claude' }]);
    expect(pod.spec?.volumes?.map((v) => v.name)).toEqual(['config', 'agentwarden-token', 'agentwarden-authz']);
  });

  it.each([
    ['agentwarden.io/capture', 'ebpf', 'metadata.annotations["agentwarden.io/capture"]: "ebpf" is not iptables or proxy-env'],
    ['agentwarden.io/tls-origination', 'https://api.zendesk.com', 'metadata.annotations["agentwarden.io/tls-origination"]: "https://api.zendesk.com" is not a host name or host:port (no wildcards, no scheme)'],
    ['agentwarden.io/tls-origination', '*.zendesk.com', '"*.zendesk.com" is not a host name'],
    ['agentwarden.io/tls-origination', 'api.zendesk.com:70000', 'port must be between 1 and 65535'],
    ['agentwarden.io/tls-origination', 'api.zendesk.com,api.zendesk.com:8443', '"api.zendesk.com" is listed with two ports'],
  ])('refuses the annotation %s: %s', (key, value, message) => {
    const c = readCase('plain');
    const pod: V1Pod = { ...c.pod, metadata: { ...c.pod.metadata, annotations: { [key]: value } } };
    expect(() => injectPod(pod, OPTIONS)).toThrow(message);
  });

});
