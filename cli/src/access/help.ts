// The flag tables of the access commands (approve, deny, review, grant,
// requests): parsing and `--help` both come from them.
import { defineCommand, type ExitCode } from '../../../common/flags.js';
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from '../exit-codes.js';
import { DEFAULT_STATES, STATES } from './states.js';
import { KUBE_ENV_HELP, KUBE_FLAGS } from './flags.js';

const EXITS: readonly ExitCode[] = [
  [EXIT_OK, 'done'],
  [EXIT_FAILED, 'the API server refused (its message, a webhook\'s included, is printed) or cannot be reached'],
  [EXIT_INPUT, 'invalid input or an unknown request'],
];

export const APPROVE_COMMAND = defineCommand({
  name: 'approve',
  positionals: true,
  usage: ['agentwarden approve <namespace>/<name> [--for 15m] [--reason …] [--kubeconfig file] [--context name]'],
  summary: 'Approves a Pending AgentAccessRequest: a status update (agentaccessrequests/status) as you; the webhook records who approved and when the grant expires, and refuses the agent\'s own ServiceAccount, an expired request and a duration over the maximum.',
  flags: {
    for: { type: 'string', value: 'duration', shownDefault: 'the request\'s spec.duration', help: 'how long the grant lasts, a Go duration (15m, 1h); at most the controller\'s maximum (chart approvals.maxGrantDuration)' },
    reason: { type: 'string', value: 'text', shownDefault: 'none', help: 'why, recorded in status.reason' },
    ...KUBE_FLAGS,
  },
  env: KUBE_ENV_HELP,
  exits: EXITS,
});

export const DENY_COMMAND = defineCommand({
  name: 'deny',
  positionals: true,
  usage: ['agentwarden deny <namespace>/<name> [--reason …] [--kubeconfig file] [--context name]'],
  summary: 'Denies a Pending AgentAccessRequest, or revokes an Approved one before it expires: a status update as you; the webhook records who.',
  flags: {
    reason: { type: 'string', value: 'text', shownDefault: 'none', help: 'why, recorded in status.reason' },
    ...KUBE_FLAGS,
  },
  env: KUBE_ENV_HELP,
  exits: EXITS,
});

export const REVIEW_COMMAND = defineCommand({
  name: 'review',
  positionals: true,
  usage: ['agentwarden review <namespace>/<name> --notes … [--kubeconfig file] [--context name]'],
  summary: 'Closes the post-incident review of an ended break-glass grant (ReviewRequired -> Reviewed): a status update as you with your notes; the webhook records who and when.',
  flags: {
    notes: { type: 'string', value: 'text', help: 'what was done with the grant and why; required' },
    ...KUBE_FLAGS,
  },
  env: KUBE_ENV_HELP,
  exits: EXITS,
});

export const GRANT_COMMAND = defineCommand({
  name: 'grant',
  usage: ['agentwarden grant (--pod <name> | --selector k=v,...) -n <namespace> --service-account <sa> --rule-file <file> --for <duration> --justification … [--name name]'],
  summary: 'Break-glass: creates an AgentAccessRequest for the rules in the file (AgentPolicy rule schema, action Allow; credentials named must be declared by a policy governing the pods) and approves it as you, through the status subresource. The grant overrides namespaced Deny and RequireApproval rules until it expires, every decision it allows is recorded in full, and afterwards it waits for agentwarden review.',
  flags: {
    pod: { type: 'string', value: 'name', help: 'the pod the grant is for; this or --selector' },
    selector: { type: 'string', value: 'k=v,...', help: 'labels of the pods the grant is for (a workload); this or --pod' },
    'service-account': { type: 'string', value: 'sa', help: 'the ServiceAccount the pods run as; required (a pod running as another gets nothing)' },
    'rule-file': { type: 'string', value: 'file', help: 'YAML: a list of rules, an object with rules:, or an AgentPolicy (its spec.rules); required' },
    for: { type: 'string', value: 'duration', help: 'how long, a Go duration (1h, 30m); at most the controller\'s maximum; required' },
    justification: { type: 'string', value: 'text', help: 'why the grant is needed (the incident); required' },
    name: { type: 'string', value: 'name', shownDefault: 'break-glass-<pod or service account>-<6 hex>', help: 'name of the AgentAccessRequest' },
    ...KUBE_FLAGS,
  },
  env: KUBE_ENV_HELP,
  exits: EXITS,
});

export const REQUESTS_COMMAND = defineCommand({
  name: 'requests',
  usage: ['agentwarden requests [-n <namespace> | -A] [--state <state>,...] [--kubeconfig file] [--context name]'],
  summary: 'Lists AgentAccessRequests as a table: NAMESPACE NAME AGENT OPERATION STATE EXPIRES APPROVED-BY AGE.',
  flags: {
    'all-namespaces': { type: 'boolean', short: 'A', help: 'list the requests of every namespace' },
    state: { type: 'string', value: 'state,...', shownDefault: DEFAULT_STATES.join(','), help: `states to list, among ${STATES.join(', ')}, or all` },
    ...KUBE_FLAGS,
  },
  env: KUBE_ENV_HELP,
  exits: EXITS,
});
