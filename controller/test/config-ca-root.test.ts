// The controller's CA root flags, read by readControllerConfig: off without
// --ca-root-file, the chart's form of the scope flags, and errors naming the flag.
import { describe, expect, it } from '@jest/globals';
import { readControllerConfig } from '../src/config.js';

describe('readControllerConfig: CA root publishing', () => {
  it('is off without --ca-root-file, and re-reads files every 10 s by default', () => {
    const config = readControllerConfig([], {});
    expect(config.caRoot).toBeUndefined();
    expect(config.fileReloadMs).toBe(10_000);
  });

  it('reads the file, the ConfigMap name (default agentwarden-ca-root) and the webhooks\' scope as the chart passes them', () => {
    expect(readControllerConfig(['--ca-root-file=/etc/agentwarden/ca-root/ca.crt'], {}).caRoot).toEqual({
      file: '/etc/agentwarden/ca-root/ca.crt', configMapName: 'agentwarden-ca-root', namespaceLabels: {}, excludeNamespaces: [],
    });
    const config = readControllerConfig(['--ca-root-file=/ca.crt', '--ca-root-configmap=agentwarden-ca', '--ca-root-namespace-labels=agentwarden-e2e/helm=awh-1,tier=', '--ca-root-exclude-namespaces=kube-system,agentwarden-system,kube-system'], {});
    expect(config.caRoot).toEqual({
      file: '/ca.crt', configMapName: 'agentwarden-ca', namespaceLabels: { 'agentwarden-e2e/helm': 'awh-1', tier: '' }, excludeNamespaces: ['kube-system', 'agentwarden-system'],
    });
    expect(Object.isFrozen(config.caRoot)).toBe(true);
  });

  it('refuses malformed values and scope flags without a file, naming the flag', () => {
    expect(() => readControllerConfig(['--ca-root-file=/ca.crt', '--ca-root-configmap=CA_Root'], {})).toThrow('controller: --ca-root-configmap: "CA_Root" is not a ConfigMap name');
    expect(() => readControllerConfig(['--ca-root-file=/ca.crt', '--ca-root-namespace-labels=team'], {})).toThrow('controller: --ca-root-namespace-labels: "team" is not label=value');
    expect(() => readControllerConfig(['--ca-root-file=/ca.crt', '--ca-root-exclude-namespaces=Kube_System'], {})).toThrow('controller: --ca-root-exclude-namespaces: "Kube_System" is not a namespace name');
    expect(() => readControllerConfig(['--ca-root-exclude-namespaces=kube-system'], {})).toThrow('controller: --ca-root-exclude-namespaces needs --ca-root-file');
    expect(() => readControllerConfig(['--ca-root-file='], {})).toThrow('controller: --ca-root-file: empty path');
  });
});
