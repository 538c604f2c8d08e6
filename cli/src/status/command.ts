// `agentwarden status`: its flag table (parsing and --help come from it).
import { defineCommand } from '../../../common/flags.js';
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from '../exit-codes.js';
import { KUBE_ENV_HELP, KUBE_FLAGS } from '../access/flags.js';

export const DEFAULT_CONTROLLER_NAMESPACE = 'agentwarden-system';
export const DEFAULT_CONTROLLER_SERVICE = 'agentwarden-controller-metrics';
export const DEFAULT_CONTROLLER_PORT = 'http-metrics';

export const STATUS_COMMAND = defineCommand({
  name: 'status',
  usage: ['agentwarden status [-n <namespace>] [-o table|json] [--controller-url <url> | --controller-namespace <ns> --controller-service <name>] [--kubeconfig file] [--context name]'],
  summary: [
    'Shows, per pod whose sidecar is connected, the snapshot version it runs and its sync state, from the controller (like istioctl proxy-status),',
    'in the states of the agentwarden_pod_sync metric: SYNCED (it ACKed the snapshot it should enforce), PENDING (not yet), NACKED (it rejected the',
    'latest; it keeps enforcing the version it ACKed) or STALE (its policies do not compile now; it keeps its last good snapshot), and how long ago',
    'its last ACK or NACK came. Every controller replica serves sidecars: the one that answers lists its own pods, then the other live',
    'replicas\' pods from their report Leases (states only), with a REPLICA column naming the replica serving each. The controller answers on its metrics port',
    '(/debug/syncz); the CLI reaches it through the API server\'s service proxy with your kubeconfig (needs get on services/proxy in the',
    'controller\'s namespace: the chart\'s Role <release>-agentwarden-controller-status-reader grants it), or directly with --controller-url.',
  ].join('\n'),
  flags: {
    namespace: { type: 'string', short: 'n', value: 'ns', shownDefault: 'every namespace', help: 'only the pods of this namespace' },
    output: { type: 'string', short: 'o', value: 'table|json', default: 'table', help: 'a table, or the controller\'s JSON answer' },
    'controller-url': { type: 'string', value: 'url', env: 'AGENTWARDEN_CONTROLLER_URL', shownDefault: 'through the API server', help: 'the controller\'s metrics address (http://host:port), for a controller run outside the cluster' },
    'controller-namespace': { type: 'string', value: 'ns', default: DEFAULT_CONTROLLER_NAMESPACE, help: 'namespace of the controller\'s metrics Service (the chart\'s release namespace)' },
    'controller-service': { type: 'string', value: 'name', default: DEFAULT_CONTROLLER_SERVICE, help: 'the controller\'s metrics Service (<release>-controller-metrics in the chart)' },
    'controller-port': { type: 'string', value: 'port', default: DEFAULT_CONTROLLER_PORT, help: 'the Service\'s port, by name or number' },
    kubeconfig: KUBE_FLAGS.kubeconfig,
    context: KUBE_FLAGS.context,
  },
  env: KUBE_ENV_HELP,
  exits: [
    [EXIT_OK, 'printed (whatever the pods\' states)'],
    [EXIT_FAILED, 'the controller or the API server cannot be reached, or refused'],
    [EXIT_INPUT, 'invalid flags'],
  ],
});
