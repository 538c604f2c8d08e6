// Entry of the access commands (approve, deny, review, grant, requests): the
// only CLI commands that talk to the API server, loaded only for them.
import { PolicyError } from '../../../policy/src/index.js';
import { InputError } from '../../../policy/io/manifests.js';
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from '../exit-codes.js';
import { HelpRequested } from '../../../common/help.js';
import { isUsageError } from '../../../common/flags.js';
import { runDecide } from './decide.js';
import { defaultReadFile, runGrant } from './grant.js';
import { runRequests } from './requests.js';
import { AccessApiError, connectAccessRequests, loadKubeConfig, type AccessRequestApi, type KubeTarget } from './kube.js';

export const ACCESS_COMMANDS = ['approve', 'deny', 'review', 'grant', 'requests'] as const;
export type AccessCommand = (typeof ACCESS_COMMANDS)[number];

export function isAccessCommand(command: string | undefined): command is AccessCommand {
  return (ACCESS_COMMANDS as readonly (string | undefined)[]).includes(command);
}

export interface AccessIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Default: the kubeconfig as kubectl finds it (kube.ts). */
  readonly connect?: (target: KubeTarget) => AccessRequestApi;
  readonly nowMs?: number;
}

/** Runs one access command; returns its exit code (EXIT_OK, EXIT_INPUT, EXIT_FAILED). */
export async function accessCommand(command: AccessCommand, argv: readonly string[], io: AccessIo): Promise<number> {
  const connect = io.connect ?? ((target: KubeTarget) => connectAccessRequests(loadKubeConfig(target)));
  try {
    switch (command) {
      case 'approve': case 'deny': case 'review':
        await runDecide(command, argv, { connect, out: io.out });
        break;
      case 'grant':
        await runGrant(argv, { connect, out: io.out, readFile: defaultReadFile });
        break;
      case 'requests':
        await runRequests(argv, { connect, out: io.out, nowMs: io.nowMs ?? Date.now() });
        break;
    }
    return EXIT_OK;
  } catch (e: unknown) {
    const code = errorExit(command, e, io.err, io.out);
    if (code === undefined) throw e;
    return code;
  }
}

/** The exit code of an expected failure of a CLI command that talks to the API server (or its --help), its message written; undefined for any other error. */
export function errorExit(command: string, e: unknown, err: (line: string) => void, out: (line: string) => void = err): number | undefined {
  if (e instanceof HelpRequested) {
    out(e.text);
    return EXIT_OK;
  }
  if (e instanceof InputError || e instanceof PolicyError) {
    err(e.message.startsWith('agentwarden ') ? e.message : `agentwarden ${command}: ${e.message}`);
    return EXIT_INPUT;
  }
  if (isUsageError(e)) {
    err(`agentwarden ${command}: ${e.message} (agentwarden ${command} --help lists the flags)`);
    return EXIT_INPUT;
  }
  if (e instanceof AccessApiError) {
    err(`agentwarden ${command}: ${e.status === 0 ? '' : `refused (HTTP ${e.status}): `}${e.message}`);
    return EXIT_FAILED;
  }
  return undefined;
}
