// bin/agentwarden controller: the launcher runs the controller with the memory
// settings it was measured with (issue 20, make bench-propagation: V8's old
// generation grown by 20% over the live heap instead of up to 4x, two glibc
// malloc arenas, 4 MB semi-spaces), and settings the caller gave win. Read from
// the running process (/proc/<pid>/cmdline and environ), so Linux only. The
// kubeconfig points at a closed port: the controller starts and keeps retrying
// its lists, which is all this needs.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LAUNCHER = join(ROOT, 'bin', 'agentwarden');
const onLinux = existsSync('/proc/self/environ') ? it : it.skip;

const children: ChildProcess[] = [];
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aw-launcher-'));
  writeFileSync(join(dir, 'kubeconfig'), [
    'apiVersion: v1', 'kind: Config', 'current-context: none',
    'clusters: [{name: none, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
    'users: [{name: none, user: {token: none}}]',
    'contexts: [{name: none, context: {cluster: none, user: none}}]', '',
  ].join('\n'));
});

afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

afterEach(() => {
  // SIGKILL: nothing of its shutdown is under test, and a killed process holds no port.
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Launched { readonly argv: readonly string[]; readonly env: ReadonlyMap<string, string> }

/** Starts `bin/agentwarden controller` and resolves with its node arguments and environment once it has started. */
async function controllerProcess(env: Readonly<Record<string, string>>): Promise<Launched> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'MALLOC_ARENA_MAX' && k !== 'NODE_OPTIONS' && k !== 'AGENTWARDEN_CONTROLLER_V8_FLAGS'));
  const child = spawn(LAUNCHER, [
    'controller', '--kubeconfig', join(dir, 'kubeconfig'), '--distribution-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--leader-elect', 'false',
  ], { env: { ...inherited, AGENTWARDEN_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  const exited = new Promise<never>((_, reject) => { child.once('exit', (code) => { reject(new Error(`bin/agentwarden controller exited with ${String(code)} before starting`)); }); });
  const started = (async (): Promise<void> => {
    if (child.stderr === null) throw new Error('no stderr');
    for await (const line of createInterface({ input: child.stderr })) if (line.includes('"controller started"')) return;
  })();
  await Promise.race([started, exited]);
  // The launcher execs node, so the child's pid is the controller's.
  const read = (what: string): string[] => readFileSync(`/proc/${String(child.pid)}/${what}`, 'utf8').split('\0').filter((e) => e !== '');
  return { argv: read('cmdline'), env: new Map(read('environ').filter((e) => e.includes('=')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) };
}

describe('bin/agentwarden controller', () => {
  onLinux('runs the controller with a 20% old-generation growth, two malloc arenas and 4 MB semi-spaces', async () => {
    const p = await controllerProcess({});
    expect(p.argv.slice(1, 3)).toEqual(['--heap-growing-percent=20', join(ROOT, 'dist/cli/src/run.js')]);
    expect(p.env.get('MALLOC_ARENA_MAX')).toBe('2');
    expect(p.env.get('NODE_OPTIONS')?.trim()).toBe('--max-semi-space-size=4');
  }, 30_000);

  onLinux('keeps the V8 flags, malloc arena count and Node options the caller gave (an empty AGENTWARDEN_CONTROLLER_V8_FLAGS: none)', async () => {
    const p = await controllerProcess({ AGENTWARDEN_CONTROLLER_V8_FLAGS: '--heap-growing-percent=50 --optimize-for-size', MALLOC_ARENA_MAX: '4', NODE_OPTIONS: '--max-semi-space-size=8' });
    expect(p.argv.slice(1, 4)).toEqual(['--heap-growing-percent=50', '--optimize-for-size', join(ROOT, 'dist/cli/src/run.js')]);
    expect(p.env.get('MALLOC_ARENA_MAX')).toBe('4');
    // Later flags win: the caller's come after the launcher's.
    expect(p.env.get('NODE_OPTIONS')).toBe('--max-semi-space-size=4 --max-semi-space-size=8');
    const none = await controllerProcess({ AGENTWARDEN_CONTROLLER_V8_FLAGS: '' });
    expect(none.argv[1]).toBe(join(ROOT, 'dist/cli/src/run.js'));
  }, 30_000);
});
