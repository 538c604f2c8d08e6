// `agentwarden version` (and `agentwarden --version`): the package's version
// from the package.json beside bin/, and the Node that runs it.
import { readFileSync } from 'node:fs';
import { defineCommand, parseCommand } from '../../common/flags.js';
import { EXIT_OK } from './exit-codes.js';

export const VERSION_COMMAND = defineCommand({
  name: 'version',
  usage: ['agentwarden version [--short]', 'agentwarden --version'],
  summary: 'Prints the version of agentwarden (package.json) and of the Node.js running it.',
  flags: {
    short: { type: 'boolean', help: 'print the version number alone' },
  },
  exits: [[EXIT_OK, 'printed']],
});

/** package.json's version; the compiled file runs from dist/cli/src/, three levels below the root. */
export function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
  if (typeof version !== 'string') throw new Error('package.json: no version');
  return version;
}

export function runVersion(argv: readonly string[], io: { readonly out: (line: string) => void }): Promise<number> {
  const { values } = parseCommand(VERSION_COMMAND, argv);
  io.out(values.short ? packageVersion() : `agentwarden ${packageVersion()} (node ${process.version})`);
  return Promise.resolve(EXIT_OK);
}
