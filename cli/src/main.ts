// bin/agentwarden in-process: the usage, and check | test | inject (run.ts
// dispatches every command through the table in commands.ts).
import { COMMANDS } from './commands.js';
import { localCommand } from './local.js';
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from './exit-codes.js';

/** `agentwarden --help`: every command of the table, how to get its flags, the exit codes. */
export const USAGE = [
  'usage: agentwarden <command> [flags]',
  '',
  'commands:',
  ...COMMANDS.map((c) => `  ${c.name.padEnd(Math.max(...COMMANDS.map((x) => x.name.length)))}  ${c.synopsis}`),
  '',
  'agentwarden <command> --help (or agentwarden help <command>) lists the command\'s flags, their defaults and environment variables.',
  'approve, deny, review, grant, requests, explain, status, baseline and release reach the API server with the kubeconfig as kubectl does',
  '(--kubeconfig, KUBECONFIG, --context).',
  '',
  'exit codes:',
  `  ${EXIT_OK}  done: the check decided, every test passed, the change was made`,
  `  ${EXIT_FAILED}  failed: a test case failed, the API server refused or is unreachable, a decision was not found, a server stopped on an error`,
  `  ${EXIT_INPUT}  bad input or usage: unknown command or flag, invalid file (named with its field)`,
].join('\n');

export { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from './exit-codes.js';

export function main(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  const [command, ...rest] = argv;
  switch (command) {
    case 'check': case 'test': case 'inject':
      return localCommand(command, rest, out, err);
    case undefined: case '-h': case '--help': case 'help':
      out(USAGE);
      return command === undefined ? EXIT_INPUT : EXIT_OK;
    default:
      err(`agentwarden: unknown command "${command}"\n${USAGE}`);
      return EXIT_INPUT;
  }
}
