// `agentwarden explain`: its flag table (parsing and --help come from it).
import { defineCommand } from '../../../common/flags.js';
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from '../exit-codes.js';
import { KUBE_ENV_HELP, KUBE_FLAGS } from '../access/flags.js';

export const DEFAULT_JAEGER_URL = 'http://127.0.0.1:16686';

export const EXPLAIN_COMMAND = defineCommand({
  name: 'explain',
  positionals: true,
  usage: ['agentwarden explain <decision-id> [--jaeger-url <url>] [-o text|json] [--kubeconfig file] [--context name] [--skip-api-server]'],
  summary: [
    'Explains one decision: why it fell as it did. The decision id is what a denied agent got back (the response body\'s decisionId, the',
    'x-agentwarden-decision-id header): the trace id of the decision\'s span. explain reads that span from Jaeger\'s query API and prints the',
    'decision, the request as the sidecar read it, the policy and rule, the snapshot version it ran on, the reason, the Audit policies\' verdict,',
    'the session (id, taints before, taints added) and any grant or approval request; then, from the API server with your kubeconfig, the rule as',
    'it reads now and where the AgentAccessRequest stands. When the API server cannot be reached, that part says so.',
  ].join('\n'),
  flags: {
    'jaeger-url': { type: 'string', value: 'url', env: 'AGENTWARDEN_JAEGER_URL', default: DEFAULT_JAEGER_URL, help: 'Jaeger\'s query API (what serves /api/traces/<id>)' },
    output: { type: 'string', short: 'o', value: 'text|json', default: 'text', help: 'text, or JSON: the decisions and what the API server said' },
    'skip-api-server': { type: 'boolean', help: 'print only what the span recorded: no rule text, no AgentAccessRequest' },
    kubeconfig: KUBE_FLAGS.kubeconfig,
    context: KUBE_FLAGS.context,
  },
  env: KUBE_ENV_HELP,
  exits: [
    [EXIT_OK, 'the decision was found and explained'],
    [EXIT_FAILED, 'Jaeger cannot be reached, or holds no decision with that id (yet: spans arrive after the sidecar\'s export delay)'],
    [EXIT_INPUT, 'invalid flags, or not a decision id (32 hex digits)'],
  ],
});
