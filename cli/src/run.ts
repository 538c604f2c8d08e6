// Entry point of bin/agentwarden. Each command loads only its own modules, so
// `check` and `test` stay light, only the access commands (approve, deny,
// review, grant, requests) and the controller load the Kubernetes client, the
// sidecar never does, and neither long-running program loads the CLI's
// (protobuf-es Envoy messages for JSON requests, test suites).
import { EXIT_INPUT, EXIT_OK } from './exit-codes.js';
import { HelpRequested } from '../../common/help.js';

const [command, ...rest] = process.argv.slice(2);

async function serve(name: string, run: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await run();
  } catch (e: unknown) {
    if (e instanceof HelpRequested) {
      process.stdout.write(`${e.text}\n`);
      process.exitCode = EXIT_OK;
      return;
    }
    process.stderr.write(`agentwarden ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    const input = e instanceof Error && (e.name === 'PolicyError' || e.constructor.name === 'ConfigError' || ('code' in e && typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')));
    process.exitCode = input ? EXIT_INPUT : 1;
  }
}

if (command === 'sidecar') {
  await serve('sidecar', async () => (await import('../../sidecar/src/main.js')).sidecarCommand(rest));
} else if (command === 'controller') {
  await serve('controller', async () => (await import('../../controller/src/main.js')).controllerCommand(rest));
} else if (command === 'approve' || command === 'deny' || command === 'review' || command === 'grant' || command === 'requests') {
  // The only commands that talk to the API server: client-node is loaded for them alone.
  const { accessCommand } = await import('./access/main.js');
  process.exitCode = await accessCommand(command, rest, { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) });
} else if (command === 'baseline' || command === 'release') {
  // Behaviour baselines (issue 17): AgentBaseline edits through the API server.
  const { baselineCommand } = await import('./baseline/main.js');
  process.exitCode = await baselineCommand(command, rest, { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) });
} else {
  const { main } = await import('./main.js');
  process.exitCode = main(process.argv.slice(2), (s) => process.stdout.write(`${s}\n`), (s) => process.stderr.write(`${s}\n`));
}
