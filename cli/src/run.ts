// Entry point of bin/agentwarden. Long-running programs are loaded only when
// asked for, so `check` and `test` stay light.
import { main, EXIT_INPUT } from './main.js';

const [command, ...rest] = process.argv.slice(2);
if (command === 'sidecar') {
  const { sidecarCommand } = await import('../../sidecar/src/main.js');
  const { ConfigError } = await import('../../sidecar/src/config.js');
  try {
    process.exitCode = await sidecarCommand(rest);
  } catch (e: unknown) {
    process.stderr.write(`agentwarden sidecar: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof ConfigError || (e instanceof Error && e.name === 'PolicyError') ? EXIT_INPUT : 1;
  }
} else {
  process.exitCode = main(process.argv.slice(2), (s) => process.stdout.write(`${s}\n`), (s) => process.stderr.write(`${s}\n`));
}
