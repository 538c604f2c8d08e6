// What every test-server CLI shares: one JSON object per stdout line, repeated --listen
// flags, and a clean close on SIGTERM/SIGINT so the harness can stop a child by its pid.
import { parseListen, type ListenAddress } from './listen.js';

export function printLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function listenFlags(values: readonly string[] | undefined): ListenAddress[] {
  if (values === undefined || values.length === 0) throw new Error('--listen IP:PORT is required (repeatable)');
  return values.map(parseListen);
}

/** Closes the server on SIGTERM or SIGINT, then exits 0. Install it before printing ready: the harness may stop the child as soon as it reads that line. */
export function closeOnSignal(close: () => Promise<void>): void {
  const stop = (): void => {
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`close failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** Runs a CLI's main; a start failure prints {"ready":false,"error":...} and exits 2. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    printLine({ ready: false, error: error instanceof Error ? error.message : String(error) });
    process.exit(2);
  });
}
