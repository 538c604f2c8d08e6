// The flag tables of the CLI's own commands (check, test, inject): parsing and
// `--help` both come from them. The sidecar and the controller keep theirs in
// their config modules.
import { defineCommand } from '../../common/flags.js';
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from './exit-codes.js';

export const CHECK_COMMAND = defineCommand({
  name: 'check',
  usage: ['agentwarden check --policy <file|dir> [--policy ...] --pod <pod.yaml> --request <checkrequest.json> [--request ...] [--grant <file|dir> ...] [--now RFC3339]'],
  summary: [
    'Decides one Envoy CheckRequest against the policies selecting the pod, as the sidecar would, and prints the decision as JSON {allowed, mode, policy, rule, reason, auditDecision}.',
    'A decision a grant made adds grant (the AgentAccessRequest\'s name) and overriddenRule (the Deny or RequireApproval rule it overrode, "policy/rule", else null);',
    'a RequireApproval deny adds approvalRequest (the AgentAccessRequest a human approves); under a policy with sessions, session {id, taints (before the request), added}.',
    'With --request given more than once, the requests are decided in order against one sidecar state (rate limits, grant uses, session taints) and each',
    'decision prints as one compact JSON line.',
  ].join('\n'),
  exits: [[EXIT_OK, 'decided, whatever the decision'], [EXIT_INPUT, 'invalid input (flags, policy, pod or request files), naming the file and field']],
  flags: {
    policy: { type: 'string', multiple: true, value: 'file|dir', help: 'AgentPolicy and ClusterAgentPolicy files or folders (searched recursively; Namespace manifests there give the labels namespaceSelectors see); required' },
    pod: { type: 'string', value: 'pod.yaml', help: 'the Pod the request comes from; required' },
    request: { type: 'string', multiple: true, value: 'checkrequest.json', help: 'an Envoy CheckRequest as JSON, decided in order, one line each; required' },
    grant: { type: 'string', multiple: true, value: 'file|dir', shownDefault: 'none', help: 'AgentAccessRequest files or folders (searched recursively): each must be Approved with status.expiresAt; those selecting the pod are its active grants, ended at expiresAt by the --now clock (never by the request\'s time)' },
    now: { type: 'string', value: 'RFC3339', shownDefault: 'the current time', help: 'the time to decide at, when the request carries none; grants end by this time alone' },
  },
});

export const TEST_COMMAND = defineCommand({
  name: 'test',
  positionals: true,
  usage: ['agentwarden test <dir|file.test.yaml>...'],
  summary: [
    'Runs policy test suites (*.test.yaml, folders searched recursively) and prints PASS or FAIL per case. The cases of a suite run in order against one',
    'sidecar state (rate limits, grant uses, session taints); a case\'s session: names the session its request belongs to (the session header\'s value, or a',
    'trace id), and expect: may check sessionId, taints (before the request) and added.',
  ].join('\n'),
  exits: [[EXIT_OK, 'every case passed'], [EXIT_FAILED, 'a case failed'], [EXIT_INPUT, 'a suite cannot run (invalid suite, policy or request), or no suite found']],
  flags: {},
});

export const INJECT_COMMAND = defineCommand({
  name: 'inject',
  usage: ['agentwarden inject -f <file|-> [--options <file>] [--namespace-labels k=v,...] [-o yaml|json]'],
  summary: [
    'Prints the manifests with the proxy injected exactly as the admission webhook would inject them (like istioctl kube-inject).',
    'A Pod is injected; Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job and CronJob get their pod template injected;',
    'other kinds are printed unchanged. An object the webhook would not inject (not enabled, agentwarden.io/inject=disabled, hostNetwork)',
    'is printed unchanged with a note on stderr.',
  ].join('\n'),
  exits: [[EXIT_OK, 'printed'], [EXIT_INPUT, 'invalid input, naming the file, document, object and field']],
  flags: {
    filename: { type: 'string', short: 'f', value: 'file|-', help: 'YAML manifests, one or more documents; "-" reads stdin; required' },
    options: { type: 'string', value: 'file', shownDefault: 'the built-in injection options', help: 'injection options YAML, as the Helm chart renders it for the controller\'s --inject-config (the inject.yaml key of the chart\'s ...-controller-inject ConfigMap)' },
    'namespace-labels': { type: 'string', value: 'k=v,...', shownDefault: 'none', help: 'labels of the namespace the objects go to: agentwarden.io/inject=enabled injects pods that do not opt in themselves' },
    output: { type: 'string', short: 'o', value: 'yaml|json', default: 'yaml', help: 'output format; JSON prints several objects as a v1 List' },
  },
});
