// Entry point of bin/agentwarden. Long-running programs are loaded only when
// asked for, so `check` and `test` stay light and the sidecar never loads the
// controller's Kubernetes client.
import { main, EXIT_INPUT } from './main.js';

const [command, ...rest] = process.argv.slice(2);

async function serve(name: string, run: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await run();
  } catch (e: unknown) {
    process.stderr.write(`agentwarden ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    const input = e instanceof Error && (e.name === 'PolicyError' || e.constructor.name === 'ConfigError' || ('code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')));
    process.exitCode = input ? EXIT_INPUT : 1;
  }
}

if (command === 'sidecar') {
  await serve('sidecar', async () => (await import('../../sidecar/src/main.js')).sidecarCommand(rest));
} else if (command === 'controller') {
  await serve('controller', async () => (await import('../../controller/src/main.js')).controllerCommand(rest));
} else {
  process.exitCode = main(process.argv.slice(2), (s) => process.stdout.write(`${s}\n`), (s) => process.stderr.write(`${s}\n`));
}
