// The controller's configuration: flags and environment are read here only.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';

export interface ControllerConfig {
  /** Kubeconfig file; unset: in-cluster ServiceAccount, else the default loading rules. */
  readonly kubeconfig: string | undefined;
  /** PolicyDistribution gRPC listen address. Default :15012. */
  readonly distributionListen: string;
  /** Metrics and health HTTP listen address. Default :8080. */
  readonly metricsListen: string;
  /** TLS for the distribution port; required unless it listens on loopback only. */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** Admission webhooks (HTTPS) listen address. Default :9443. */
  readonly webhookListen: string;
  /** Webhook serving certificate and key; without them the webhooks are off. Re-read when they change. */
  readonly webhookCert: string | undefined;
  readonly webhookKey: string | undefined;
  /** Injection settings (images, resources, ports, body limits) as YAML; default the built-in ones. */
  readonly injectConfig: string | undefined;
  /** Namespace of the leader-election Lease. Default agentwarden-system (POD_NAMESPACE). */
  readonly namespace: string;
  /** Leader identity. Default the pod name (POD_NAME) or host name. */
  readonly identity: string;
  /** Write status only as the Lease holder. Default true. */
  readonly leaderElect: boolean;
  /** Coalesce changes: wait for this much quiet, ms. Default 100. */
  readonly debounceQuietMs: number;
  /** ... but never longer than this after the first change, ms. Default 1000. */
  readonly debounceMaxMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export class ConfigError extends Error {}

export function readControllerConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ControllerConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      kubeconfig: { type: 'string' },
      'distribution-listen': { type: 'string', default: ':15012' },
      'metrics-listen': { type: 'string', default: ':8080' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'webhook-listen': { type: 'string', default: ':9443' },
      'webhook-cert': { type: 'string' },
      'webhook-key': { type: 'string' },
      'inject-config': { type: 'string' },
      namespace: { type: 'string' },
      identity: { type: 'string' },
      'leader-elect': { type: 'string', default: 'true' },
    },
    strict: true,
  });
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new ConfigError('controller: --tls-cert and --tls-key go together');
  if ((values['webhook-cert'] === undefined) !== (values['webhook-key'] === undefined)) throw new ConfigError('controller: --webhook-cert and --webhook-key go together');
  const level = env['AGENTWARDEN_LOG_LEVEL'] ?? 'info';
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') throw new ConfigError(`AGENTWARDEN_LOG_LEVEL: "${level}" is not debug, info, warn or error`);
  if (values['leader-elect'] !== 'true' && values['leader-elect'] !== 'false') throw new ConfigError('--leader-elect: true or false');
  return Object.freeze({
    kubeconfig: values.kubeconfig ?? env['KUBECONFIG'],
    distributionListen: values['distribution-listen'],
    metricsListen: values['metrics-listen'],
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    webhookListen: values['webhook-listen'],
    webhookCert: values['webhook-cert'],
    webhookKey: values['webhook-key'],
    injectConfig: values['inject-config'],
    namespace: values.namespace ?? env['POD_NAMESPACE'] ?? 'agentwarden-system',
    identity: values.identity ?? env['POD_NAME'] ?? hostname(),
    leaderElect: values['leader-elect'] === 'true',
    debounceQuietMs: 100,
    debounceMaxMs: 1000,
    logLevel: level,
  });
}
