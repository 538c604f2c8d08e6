// Entry point of bin/agentwarden: finds the command in the table
// (commands.ts), runs it and maps what it throws to an exit code. Each
// command loads only its own modules.
import { EXIT_FAILED, EXIT_INPUT, EXIT_OK } from './exit-codes.js';
import { HelpRequested } from '../../common/help.js';
import { isUsageError } from '../../common/flags.js';
import { findCommand, type CommandIo } from './commands.js';

// `agentwarden help <command>` is `agentwarden <command> --help`, as with kubectl.
const given = process.argv.slice(2);
const argv = given[0] === 'help' && given.length === 2 ? [given[1] ?? '', '--help'] : given;
const [first, ...rest] = argv;
const io: CommandIo = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`), env: process.env };
const entry = findCommand(first === '--version' ? 'version' : first);

function exitCodeOf(e: unknown): number {
  const input = isUsageError(e) || (e instanceof Error && (e.name === 'PolicyError' || ['PolicyError', 'InputError', 'ConfigError'].includes(e.constructor.name)));
  return input ? EXIT_INPUT : EXIT_FAILED;
}

if (entry === undefined) {
  // No command, --help, or an unknown word: main() prints the usage.
  const { main } = await import('./main.js');
  process.exitCode = main(argv, io.out, io.err);
} else {
  try {
    process.exitCode = await entry.run(rest, io);
  } catch (e: unknown) {
    if (e instanceof HelpRequested) {
      io.out(e.text);
      process.exitCode = EXIT_OK;
    } else {
      const code = exitCodeOf(e);
      io.err(`agentwarden ${entry.name}: ${e instanceof Error ? e.message : String(e)}${code === EXIT_INPUT ? ` (agentwarden ${entry.name} --help lists the flags)` : ''}`);
      process.exitCode = code;
    }
  }
}
