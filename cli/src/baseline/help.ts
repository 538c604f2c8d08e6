// `--help` of `agentwarden baseline accept` and `agentwarden release` (issue 17).
import { formatHelp } from '../../../common/help.js';
import { KUBE_ENV_HELP, KUBE_FLAGS_HELP } from '../access/flags.js';

const EXITS = 'Exits 0 when done; 2 on invalid input; 1 when the API server refuses or cannot be reached, or there is no AgentBaseline.';

export const BASELINE_HELP = formatHelp({
  usage: ['agentwarden baseline accept <namespace>/<serviceaccount> --operation "<operation>" [--operation …] [--kubeconfig file] [--context name]'],
  summary: 'Adds operations to the AgentBaseline of an agent identity (spec.accepted): the controller pushes them to every sidecar of that ServiceAccount, which no longer finds them novel. '
    + 'An operation is written as the sidecar fingerprints it: "GET api.example.com/v1/items/{id}", "MCP mcp.internal tools/call create_ticket" or "TLS host:443" '
    + `(kubectl get agentbaseline <sa> -o yaml lists the learned ones; an anomaly's Event and span name it). ${EXITS}`,
  flags: [
    { name: 'operation', value: 'operation', default: 'required, repeatable', text: 'an operation fingerprint to accept' },
    ...KUBE_FLAGS_HELP,
  ],
  env: KUBE_ENV_HELP,
});

export const RELEASE_HELP = formatHelp({
  usage: ['agentwarden release <namespace>/<pod> [--kubeconfig file] [--context name]'],
  summary: 'Ends the quarantine of a pod (every request denied with rule quarantined after spec.anomaly.quarantineAfter anomalies): records the release in spec.releases of the AgentBaseline of the pod\'s ServiceAccount; '
    + `the controller pushes it to the pod's sidecar, which lifts a quarantine that began before it. ${EXITS}`,
  flags: [...KUBE_FLAGS_HELP],
  env: KUBE_ENV_HELP,
});
