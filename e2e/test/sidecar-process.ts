// `agentwarden sidecar` as its own process, as a pod runs it: started with the
// given flags and environment (OTLP export settings), its stdout and stderr
// kept, and the addresses it bound read from its "sidecar listening" log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, waitFor } from './cluster.js';

export interface SidecarProcess {
  readonly child: ChildProcess;
  /** ext_authz and admin addresses. */
  readonly extAuthz: string;
  readonly admin: string;
  /** Everything it wrote so far (JSON log lines). */
  log(): string;
  /** SIGTERM, and waits for it to exit. */
  stop(): Promise<void>;
}

export async function startSidecarProcess(args: readonly string[], env: Readonly<Record<string, string>>): Promise<SidecarProcess> {
  const child = spawn(join(ROOT, 'bin/agentwarden'), ['sidecar', ...args], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const append = (b: Buffer): void => { log += b.toString(); };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const listening = await waitFor('the sidecar listening', () => {
    if (child.exitCode !== null) throw new Error(`the sidecar exited: ${log}`);
    const line = log.split('\n').find((l) => l.includes('"sidecar listening"'));
    return line === undefined ? undefined : (JSON.parse(line) as { extAuthz: string; admin: string });
  }, 60_000);
  return {
    child, extAuthz: listening.extAuthz, admin: listening.admin,
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
