// `--help` of the CLI's own commands (check, test, inject): every flag with its
// default. The sidecar and the controller keep theirs in their config modules.
import { formatHelp } from '../../common/help.js';

export const CHECK_HELP = formatHelp({
  usage: ['agentwarden check --policy <file|dir> [--policy ...] --pod <pod.yaml> --request <checkrequest.json> [--request ...] [--grant <file|dir> ...] [--now RFC3339]'],
  summary: [
    'Decides one Envoy CheckRequest against the policies selecting the pod, as the sidecar would, and prints the decision as JSON {allowed, mode, policy, rule, reason, auditDecision}.',
    'A decision a grant made adds grant (the AgentAccessRequest\'s name) and overriddenRule (the Deny or RequireApproval rule it overrode, "policy/rule", else null);',
    'a RequireApproval deny adds approvalRequest (the AgentAccessRequest a human approves); under a policy with sessions, session {id, taints (before the request), added}.',
    'With --request given more than once, the requests are decided in order against one sidecar state (rate limits, grant uses, session taints) and each',
    'decision prints as one compact JSON line. Exits 0 whatever the decision; 2 on invalid input.',
  ].join('\n'),
  flags: [
    { name: 'policy', value: 'file|dir', text: 'AgentPolicy and ClusterAgentPolicy files or folders (searched recursively; Namespace manifests there give the labels namespaceSelectors see); repeatable; required' },
    { name: 'pod', value: 'pod.yaml', text: 'the Pod the request comes from; required' },
    { name: 'request', value: 'checkrequest.json', text: 'an Envoy CheckRequest as JSON; repeatable (decided in order, one line each); required' },
    { name: 'grant', value: 'file|dir', default: 'none', text: 'AgentAccessRequest files or folders (searched recursively): each must be Approved with status.expiresAt; those selecting the pod are its active grants, ended at expiresAt by the --now clock (never by the request\'s time); repeatable' },
    { name: 'now', value: 'RFC3339', default: 'the current time', text: 'the time to decide at, when the request carries none; grants end by this time alone' },
  ],
});

export const TEST_HELP = formatHelp({
  usage: ['agentwarden test <dir|file.test.yaml>...'],
  summary: [
    'Runs policy test suites (*.test.yaml, folders searched recursively) and prints PASS or FAIL per case. The cases of a suite run in order against one',
    'sidecar state (rate limits, grant uses, session taints); a case\'s session: names the session its request belongs to (the session header\'s value, or a',
    'trace id), and expect: may check sessionId, taints (before the request) and added. Exits 0 when all pass, 1 when a case fails, 2 when a suite cannot run.',
  ].join('\n'),
  flags: [],
});

export const INJECT_HELP = formatHelp({
  usage: ['agentwarden inject -f <file|-> [--options <file>] [--namespace-labels k=v,...] [-o yaml|json]'],
  summary: [
    'Prints the manifests with the proxy injected exactly as the admission webhook would inject them (like istioctl kube-inject).',
    'A Pod is injected; Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job and CronJob get their pod template injected;',
    'other kinds are printed unchanged. An object the webhook would not inject (not enabled, agentwarden.io/inject=disabled, hostNetwork)',
    'is printed unchanged with a note on stderr. Exits 2 on invalid input, naming the file, document, object and field.',
  ].join('\n'),
  flags: [
    { name: 'filename', short: 'f', value: 'file|-', text: 'YAML manifests, one or more documents; "-" reads stdin; required' },
    { name: 'options', value: 'file', default: 'the built-in injection options', text: 'injection options YAML, as the Helm chart renders it for the controller\'s --inject-config (the inject.yaml key of the chart\'s ...-controller-inject ConfigMap)' },
    { name: 'namespace-labels', value: 'k=v,...', default: 'none', text: 'labels of the namespace the objects go to: agentwarden.io/inject=enabled injects pods that do not opt in themselves' },
    { name: 'output', short: 'o', value: 'yaml|json', default: 'yaml', text: 'output format; JSON prints several objects as a v1 List' },
  ],
});
