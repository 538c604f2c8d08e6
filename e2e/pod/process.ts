// Child processes of the harness: started with a bounded log, stopped for sure.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last 64 KiB of stdout and stderr. */
  log(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

const LOG_BYTES = 64 * 1024;

export function startProcess(name: string, argv: readonly string[], env: Readonly<Record<string, string>> = {}): Managed {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error(`${name}: empty command`);
  const child = spawn(file, args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const append = (b: Buffer): void => { log = (log + b.toString()).slice(-LOG_BYTES); };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => { resolve(code); });
    child.once('error', (e) => { append(Buffer.from(`spawn failed: ${e.message}\n`)); resolve(-1); });
  });
  return {
    name, child, exited,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => { child.kill('SIGKILL'); }, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
