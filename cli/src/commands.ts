// The commands of bin/agentwarden, one line each: adding a command is adding a
// line here (and its module). Each entry loads its flag table and its code
// only when asked, so `check` stays light, the sidecar never loads the
// Kubernetes client, and neither long-running program loads the CLI's modules.
import type { CommandSpec } from '../../common/flags.js';

import type { CommandIo } from './command-io.js';

export type { CommandIo } from './command-io.js';

export interface CommandEntry {
  readonly name: string;
  /** One line for `agentwarden --help`. */
  readonly synopsis: string;
  /** The command's flag table: what its parser accepts and its --help lists. */
  readonly spec: () => Promise<CommandSpec>;
  /** Runs the command (argv after the command word); resolves to the exit code. */
  readonly run: (argv: readonly string[], io: CommandIo) => Promise<number>;
}

async function local(name: 'check' | 'test' | 'inject', argv: readonly string[], io: CommandIo): Promise<number> {
  return (await import('./local.js')).localCommand(name, argv, io.out, io.err);
}

async function access(name: 'approve' | 'deny' | 'review' | 'grant' | 'requests', argv: readonly string[], io: CommandIo): Promise<number> {
  return (await import('./access/main.js')).accessCommand(name, argv, io);
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'check', synopsis: 'decide Envoy CheckRequests against policy files, as the sidecar would', spec: async () => (await import('./help.js')).CHECK_COMMAND, run: (a, io) => local('check', a, io) },
  { name: 'test', synopsis: 'run policy test suites (*.test.yaml)', spec: async () => (await import('./help.js')).TEST_COMMAND, run: (a, io) => local('test', a, io) },
  { name: 'inject', synopsis: 'print manifests with the proxy injected, as the admission webhook would', spec: async () => (await import('./help.js')).INJECT_COMMAND, run: (a, io) => local('inject', a, io) },
  { name: 'sidecar', synopsis: 'run the ext_authz sidecar (controller or standalone mode)', spec: async () => (await import('../../sidecar/src/config.js')).SIDECAR_COMMAND, run: async (a) => (await import('../../sidecar/src/main.js')).sidecarCommand(a) },
  { name: 'controller', synopsis: 'run the controller (policy distribution, status, admission webhooks)', spec: async () => (await import('../../controller/src/config.js')).CONTROLLER_COMMAND, run: async (a) => (await import('../../controller/src/main.js')).controllerCommand(a) },
  { name: 'approve', synopsis: 'approve a pending AgentAccessRequest', spec: async () => (await import('./access/help.js')).APPROVE_COMMAND, run: (a, io) => access('approve', a, io) },
  { name: 'deny', synopsis: 'deny a pending AgentAccessRequest, or revoke an approved one', spec: async () => (await import('./access/help.js')).DENY_COMMAND, run: (a, io) => access('deny', a, io) },
  { name: 'review', synopsis: 'close the review of an ended break-glass grant', spec: async () => (await import('./access/help.js')).REVIEW_COMMAND, run: (a, io) => access('review', a, io) },
  { name: 'grant', synopsis: 'break-glass: create and approve an AgentAccessRequest', spec: async () => (await import('./access/help.js')).GRANT_COMMAND, run: (a, io) => access('grant', a, io) },
  { name: 'requests', synopsis: 'list AgentAccessRequests', spec: async () => (await import('./access/help.js')).REQUESTS_COMMAND, run: (a, io) => access('requests', a, io) },
  { name: 'explain', synopsis: 'why a decision fell as it did: its span from Jaeger, the rule as it reads now', spec: async () => (await import('./explain/command.js')).EXPLAIN_COMMAND, run: async (a, io) => (await import('./explain/main.js')).runExplain(a, io) },
  { name: 'status', synopsis: 'per pod: the snapshot version its sidecar runs, ACK/NACK state and age (from the controller)', spec: async () => (await import('./status/command.js')).STATUS_COMMAND, run: async (a, io) => (await import('./status/main.js')).runStatus(a, io) },
  { name: 'baseline', synopsis: 'baseline accept: add operations to an agent identity\'s AgentBaseline (spec.anomaly)', spec: async () => (await import('./baseline/help.js')).BASELINE_COMMAND, run: async (a, io) => (await import('./baseline/main.js')).baselineCommand('baseline', a, io) },
  { name: 'release', synopsis: 'end the quarantine of a pod (spec.anomaly)', spec: async () => (await import('./baseline/help.js')).RELEASE_COMMAND, run: async (a, io) => (await import('./baseline/main.js')).baselineCommand('release', a, io) },
  { name: 'version', synopsis: 'print the version of agentwarden (also --version)', spec: async () => (await import('./version.js')).VERSION_COMMAND, run: async (a, io) => (await import('./version.js')).runVersion(a, io) },
];

export function findCommand(name: string | undefined): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name);
}
