// Entry point of bin/agentwarden.
import { main } from './main.js';

process.exitCode = main(process.argv.slice(2), (s) => process.stdout.write(`${s}\n`), (s) => process.stderr.write(`${s}\n`));
