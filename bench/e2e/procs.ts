// The processes of make bench-e2e (Envoys, the sidecar) and of make soak-floor (the floors):
// in a log file, polled until ready (never a fixed sleep), and all stopped when
// the run ends, fails or is interrupted (SIGINT, SIGTERM).
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import * as http from 'node:http';
import { connect } from 'node:net';

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
  alive(): boolean;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5000;
const POLL_MS = 5;
const MAX_BODY = 1024 * 1024;
/** What stopAll stops: every Proc, and what track() was given. */
const running = new Set<{ stop(): Promise<void> }>();

/** Has stopAll (and so SIGINT) stop `s` too, e.g. a process some other module spawned; `s.stop` must be safe to call twice. */
export function track<T extends { stop(): Promise<void> }>(s: T): T {
  running.add(s);
  return s;
}

export function untrack(s: { stop(): Promise<void> }): void {
  running.delete(s);
}

export async function spawnLogged(name: string, command: string, args: readonly string[], log: string, env: Readonly<Record<string, string>> = {}): Promise<Proc> {
  const out = createWriteStream(log);
  await new Promise<void>((resolve, reject) => out.on('open', () => resolve()).on('error', reject));
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => { exited = true; resolve(); }));
  child.on('error', () => { exited = true; });
  let stopping: Promise<void> | undefined;
  const proc: Proc = {
    name, pid: child.pid ?? 0, log,
    alive: () => !exited,
    // One stop for every caller (the run's end and a signal may both ask): each waits for the same exit.
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (!exited) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
          await exit;
          clearTimeout(killer);
        }
        out.end();
        running.delete(proc);
      })();
      return stopping;
    },
  };
  running.add(proc);
  return proc;
}

/** Stops every process still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** On SIGINT or SIGTERM: stop every process, run `cleanup`, exit 130 / 143. */
export function stopAllOnSignal(cleanup: () => void): void {
  const on = (signal: NodeJS.Signals, code: number): void => {
    process.once(signal, () => {
      process.stderr.write(`bench: e2e: ${signal}, stopping ${running.size} processes\n`);
      void stopAll().finally(() => { cleanup(); process.exit(code); });
    });
  };
  on('SIGINT', 130);
  on('SIGTERM', 143);
}

/** GET path over TCP (`127.0.0.1:port`) or a Unix socket: status and body (at most 1 MiB), or status 0 when the connection fails. */
export function httpGet(target: { socketPath: string } | { port: number }, path: string, timeoutMs = 500): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const where = 'socketPath' in target ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port };
    const req = http.get({ ...where, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (body.length < MAX_BODY) body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** True once something accepts connections on the Unix socket (a path) or on 127.0.0.1:port. */
export function accepts(where: string | number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = typeof where === 'string' ? connect(where) : connect(where, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => { c.destroy(); resolve(false); });
  });
}

export async function getStatus(target: { socketPath: string } | { port: number }, path: string): Promise<number> {
  return (await httpGet(target, path)).status;
}

/** Polls until `ready()` is true; fails when the process exits first or the deadline passes. */
export async function waitReady(p: Proc, what: string, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!p.alive()) throw new Error(`bench: e2e: ${p.name} exited before ${what} (log: ${p.log})`);
    if (await ready()) return;
    if (performance.now() > deadline) throw new Error(`bench: e2e: ${p.name}: no ${what} within ${timeoutMs} ms (log: ${p.log})`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
