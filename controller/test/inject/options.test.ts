// parseInjectOptions: the values the Helm chart renders, over documented
// defaults; a bad value names the file and field.
import { DEFAULT_INJECT_OPTIONS, parseInjectOptions } from '../../src/inject/index.js';

describe('injection options', () => {
  it('are the defaults when nothing is given', () => {
    expect(parseInjectOptions(undefined, 'inject.yaml')).toEqual(DEFAULT_INJECT_OPTIONS);
    expect(DEFAULT_INJECT_OPTIONS).toMatchObject({ proxyUid: 1337, maxRequestBytes: 1048576, ports: { outbound: 15001, envoyAdmin: 15000, authz: 15011, sidecarAdmin: 15021 } });
  });

  it('override only what is given and come back frozen', () => {
    const o = parseInjectOptions({ maxRequestBytes: 4194304, ports: { outbound: 16001 }, resources: { envoy: { limits: { memory: '512Mi' } } } }, 'inject.yaml');
    expect(o.maxRequestBytes).toBe(4194304);
    expect(o.ports).toEqual({ ...DEFAULT_INJECT_OPTIONS.ports, outbound: 16001 });
    expect(o.resources.envoy).toEqual({ requests: DEFAULT_INJECT_OPTIONS.resources.envoy.requests, limits: { memory: '512Mi' } });
    expect(Object.isFrozen(o.ports)).toBe(true);
  });

  it('name the file and each bad field', () => {
    expect(() => parseInjectOptions({ proxyUid: 0, ports: { authz: 70000 }, envoyImage: 'not an image', imagePullPolicy: 'Sometimes', sidecarEnv: [{ value: 'x' }], colour: 'red' }, '/etc/agentwarden/inject.yaml')).toThrow([
      '/etc/agentwarden/inject.yaml: colour: unknown field',
      '/etc/agentwarden/inject.yaml: envoyImage: "not an image" is not an image reference',
      '/etc/agentwarden/inject.yaml: imagePullPolicy: must be one of Always, IfNotPresent, Never, got "Sometimes"',
      '/etc/agentwarden/inject.yaml: proxyUid: must be between 1 and 2147483647, got 0',
      '/etc/agentwarden/inject.yaml: ports.authz: must be between 1 and 65535, got 70000',
      '/etc/agentwarden/inject.yaml: sidecarEnv[0].name: required',
    ].join('\n'));
  });

  it('default the agent UID to 1000 and proxy-env to not allowed; refuse an agent UID equal to the proxy UID', () => {
    expect(DEFAULT_INJECT_OPTIONS).toMatchObject({ agentUid: 1000, allowProxyEnv: false });
    expect(parseInjectOptions({ agentUid: 65532, allowProxyEnv: true }, 'inject.yaml')).toMatchObject({ agentUid: 65532, allowProxyEnv: true });
    expect(() => parseInjectOptions({ agentUid: 1337 }, 'inject.yaml')).toThrow("inject.yaml: agentUid: must differ from proxyUid (1337): the capture lets the proxy UID's traffic through");
    expect(() => parseInjectOptions({ allowProxyEnv: 'yes' }, 'inject.yaml')).toThrow('inject.yaml: allowProxyEnv: must be true or false');
  });

  it('refuse two ports that are the same', () => {
    expect(() => parseInjectOptions({ ports: { authz: 15001 } }, 'inject.yaml')).toThrow('inject.yaml: ports: each port must differ: outbound=15001, authz=15001');
  });
});
