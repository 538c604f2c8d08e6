// `--help` of the access commands (approve, deny, review, grant, requests):
// every flag with its default, and the environment they read.
import { formatHelp } from '../../../common/help.js';
import { DEFAULT_STATES, STATES } from './requests.js';
import { KUBE_ENV_HELP, KUBE_FLAGS_HELP } from './flags.js';

const EXITS = 'Exits 0 when done; 2 on invalid input or an unknown request; 1 when the API server refuses (its message, a webhook\'s included, is printed) or cannot be reached.';

export const APPROVE_HELP = formatHelp({
  usage: ['agentwarden approve <namespace>/<name> [--for 15m] [--reason …] [--kubeconfig file] [--context name]'],
  summary: `Approves a Pending AgentAccessRequest: a status update (agentaccessrequests/status) as you; the webhook records who approved and when the grant expires, and refuses the agent's own ServiceAccount, an expired request and a duration over the maximum. ${EXITS}`,
  flags: [
    { name: 'for', value: 'duration', default: 'the request\'s spec.duration', text: 'how long the grant lasts, a Go duration (15m, 1h); at most the controller\'s maximum (chart approvals.maxGrantDuration)' },
    { name: 'reason', value: 'text', default: 'none', text: 'why, recorded in status.reason' },
    ...KUBE_FLAGS_HELP,
  ],
  env: KUBE_ENV_HELP,
});

export const DENY_HELP = formatHelp({
  usage: ['agentwarden deny <namespace>/<name> [--reason …] [--kubeconfig file] [--context name]'],
  summary: `Denies a Pending AgentAccessRequest, or revokes an Approved one before it expires: a status update as you; the webhook records who. ${EXITS}`,
  flags: [
    { name: 'reason', value: 'text', default: 'none', text: 'why, recorded in status.reason' },
    ...KUBE_FLAGS_HELP,
  ],
  env: KUBE_ENV_HELP,
});

export const REVIEW_HELP = formatHelp({
  usage: ['agentwarden review <namespace>/<name> --notes … [--kubeconfig file] [--context name]'],
  summary: `Closes the post-incident review of an ended break-glass grant (ReviewRequired -> Reviewed): a status update as you with your notes; the webhook records who and when. ${EXITS}`,
  flags: [
    { name: 'notes', value: 'text', text: 'what was done with the grant and why; required' },
    ...KUBE_FLAGS_HELP,
  ],
  env: KUBE_ENV_HELP,
});

export const GRANT_HELP = formatHelp({
  usage: ['agentwarden grant (--pod <name> | --selector k=v,...) -n <namespace> --service-account <sa> --rule-file <file> --for <duration> --justification … [--name name]'],
  summary: `Break-glass: creates an AgentAccessRequest for the rules in the file (AgentPolicy rule schema, action Allow; credentials named must be declared by a policy governing the pods) and approves it as you, through the status subresource. The grant overrides namespaced Deny and RequireApproval rules until it expires, every decision it allows is recorded in full, and afterwards it waits for agentwarden review. ${EXITS}`,
  flags: [
    { name: 'pod', value: 'name', text: 'the pod the grant is for; this or --selector' },
    { name: 'selector', value: 'k=v,...', text: 'labels of the pods the grant is for (a workload); this or --pod' },
    { name: 'service-account', value: 'sa', text: 'the ServiceAccount the pods run as; required (a pod running as another gets nothing)' },
    { name: 'rule-file', value: 'file', text: 'YAML: a list of rules, an object with rules:, or an AgentPolicy (its spec.rules); required' },
    { name: 'for', value: 'duration', text: 'how long, a Go duration (1h, 30m); at most the controller\'s maximum; required' },
    { name: 'justification', value: 'text', text: 'why the grant is needed (the incident); required' },
    { name: 'name', value: 'name', default: 'break-glass-<pod or service account>-<6 hex>', text: 'name of the AgentAccessRequest' },
    ...KUBE_FLAGS_HELP,
  ],
  env: KUBE_ENV_HELP,
});

export const REQUESTS_HELP = formatHelp({
  usage: ['agentwarden requests [-n <namespace> | -A] [--state <state>,...] [--kubeconfig file] [--context name]'],
  summary: `Lists AgentAccessRequests as a table: NAMESPACE NAME AGENT OPERATION STATE EXPIRES APPROVED-BY AGE. ${EXITS}`,
  flags: [
    { name: 'all-namespaces', short: 'A', text: 'list the requests of every namespace' },
    { name: 'state', value: 'state,...', default: DEFAULT_STATES.join(','), text: `states to list, among ${STATES.join(', ')}, or all` },
    ...KUBE_FLAGS_HELP,
  ],
  env: KUBE_ENV_HELP,
});
