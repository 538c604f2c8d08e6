// `agentwarden <command> --help` through bin/agentwarden, as a user runs it:
// every command prints its flags with their defaults on stdout and exits 0.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The compiled test runs from dist/cli/test/: the repository root is three levels up.
const BIN = fileURLToPath(new URL('../../../bin/agentwarden', import.meta.url));

function help(...argv: string[]) {
  const r = spawnSync(BIN, argv, { encoding: 'utf8', timeout: 20_000, env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Each command's flags, and a default or environment variable its help must name. */
const COMMANDS: readonly (readonly [string, readonly string[], readonly string[]])[] = [
  ['check', ['--policy', '--pod', '--request', '--now'], ['the current time']],
  ['test', ['--help'], []],
  ['inject', ['-f, --filename', '--options', '--namespace-labels', '-o, --output'], ['(default: yaml)', '(default: the built-in injection options)']],
  ['sidecar', ['--controller', '--controller-ca', '--token-file', '--pod-name', '--namespace', '--policy', '--pod', '--secrets-dir', '--listen', '--allow-tcp-credentials', '--admin-listen', '--debug-snapshot', '--grpc-impl', '--max-request-bytes'],
    ['(default: unix:/var/run/agentwarden-authz/authz.sock)', '(default: 127.0.0.1:15021)', '(default: http2)', '(default: 16777216)', '(default: /var/run/secrets/agentwarden/token)', 'AGENTWARDEN_LOG_LEVEL', 'OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_EXPORTER_OTLP_PROTOCOL']],
  ['approve', ['--for', '--reason', '-n, --namespace', '--kubeconfig', '--context'], ["(default: the request's spec.duration)", '(default: $KUBECONFIG, else ~/.kube/config)', 'KUBECONFIG']],
  ['deny', ['--reason', '-n, --namespace', '--kubeconfig', '--context'], ['KUBECONFIG']],
  ['review', ['--notes', '-n, --namespace', '--kubeconfig', '--context'], ['KUBECONFIG']],
  ['grant', ['--pod', '--selector', '--service-account', '--rule-file', '--for', '--justification', '--name', '-n, --namespace', '--kubeconfig', '--context'], ['(default: break-glass-<pod or service account>-<6 hex>)', 'KUBECONFIG']],
  ['requests', ['-A, --all-namespaces', '--state', '-n, --namespace', '--kubeconfig', '--context'], ['(default: Pending,Approved,ReviewRequired)', 'KUBECONFIG']],
  ['controller', ['--kubeconfig', '--distribution-listen', '--metrics-listen', '--tls-cert', '--tls-key', '--webhook-listen', '--webhook-cert', '--webhook-key', '--inject-config', '--ca-root-file', '--ca-root-configmap', '--ca-root-namespace-labels', '--ca-root-exclude-namespaces', '--namespace', '--identity', '--leader-elect'],
    ['(default: :15012)', '(default: :8080)', '(default: :9443)', '(default: agentwarden-ca-root)', '(default: true)', 'KUBECONFIG', 'POD_NAMESPACE', 'AGENTWARDEN_LOG_LEVEL']],
];

describe.each(COMMANDS)('agentwarden %s --help', (command, flags, defaults) => {
  it.each(['--help', '-h'])(`prints the usage with every flag and its default on stdout and exits 0 (%s)`, (flag) => {
    const r = help(command, flag);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    expect(r.out).toMatch(new RegExp(`^usage: agentwarden ${command} `));
    for (const f of [...flags, '-h, --help']) expect(r.out).toContain(f);
    for (const d of defaults) expect(r.out).toContain(d);
  });
});

describe('agentwarden --help', () => {
  it('names every command, inject included, and how to get its flags', () => {
    const r = help('--help');
    expect(r.code).toBe(0);
    for (const command of ['check', 'test', 'sidecar', 'controller', 'inject', 'approve', 'deny', 'review', 'grant', 'requests']) expect(r.out).toContain(`agentwarden ${command} `);
    expect(r.out).toContain('agentwarden <command> --help');
  });
});
