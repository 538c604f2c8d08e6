// The flag tables of `agentwarden baseline accept` and `agentwarden release`
// (issue 17): parsing and `--help` both come from them.
import { defineCommand, type ExitCode } from '../../../common/flags.js';
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from '../exit-codes.js';
import { KUBE_ENV_HELP, KUBE_FLAGS } from '../access/flags.js';

const EXITS: readonly ExitCode[] = [
  [EXIT_OK, 'done'],
  [EXIT_FAILED, 'the API server refused or cannot be reached, or there is no AgentBaseline'],
  [EXIT_INPUT, 'invalid input'],
];

export const BASELINE_COMMAND = defineCommand({
  name: 'baseline',
  positionals: true,
  usage: ['agentwarden baseline accept <namespace>/<serviceaccount> --operation "<operation>" [--operation …] [--kubeconfig file] [--context name]'],
  summary: 'Adds operations to the AgentBaseline of an agent identity (spec.accepted): the controller pushes them to every sidecar of that ServiceAccount, which no longer finds them novel. '
    + 'An operation is written as the sidecar fingerprints it: "GET api.example.com/v1/items/{id}", "MCP mcp.internal tools/call create_ticket" or "TLS host:443" '
    + '(kubectl get agentbaseline <sa> -o yaml lists the learned ones; an anomaly\'s Event and span name it).',
  flags: {
    operation: { type: 'string', multiple: true, value: 'operation', shownDefault: 'none: at least one is required', help: 'an operation fingerprint to accept' },
    ...KUBE_FLAGS,
  },
  env: KUBE_ENV_HELP,
  exits: EXITS,
});

export const RELEASE_COMMAND = defineCommand({
  name: 'release',
  positionals: true,
  usage: ['agentwarden release <namespace>/<pod> [--kubeconfig file] [--context name]'],
  summary: 'Ends the quarantine of a pod (every request denied with rule quarantined after spec.anomaly.quarantineAfter anomalies): records the release in spec.releases of the AgentBaseline of the pod\'s ServiceAccount; '
    + 'the controller pushes it to the pod\'s sidecar, which lifts a quarantine that began before it.',
  flags: { ...KUBE_FLAGS },
  env: KUBE_ENV_HELP,
  exits: EXITS,
});
