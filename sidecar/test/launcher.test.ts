// bin/agentwarden sidecar: the launcher sets the memory settings the sidecar was
// measured with (small V8 generations, two glibc malloc arenas), and settings
// the caller already gave win; the sidecar it starts leaves the lazy parts of
// Node's built-ins unloaded. Read from the running process's environment
// (/proc/<pid>/environ), so Linux only.
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LAUNCHER = join(ROOT, 'bin', 'agentwarden');
const BENCH = join(ROOT, 'bench', 'peers', 'agentwarden');
const onLinux = existsSync('/proc/self/environ') ? it : it.skip;

const children: ChildProcess[] = [];

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) {
      resolve();
      return;
    }
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  })));
});

/** Starts `bin/agentwarden sidecar` and resolves with its environment once it listens. */
async function sidecarEnvironment(env: Readonly<Record<string, string>>): Promise<Map<string, string>> {
  return (await startSidecar(env)).env;
}

/** Starts `bin/agentwarden sidecar` and resolves with its environment and node's arguments once it listens. */
async function startSidecar(env: Readonly<Record<string, string>>): Promise<{ env: Map<string, string>; argv: string[]; child: ChildProcess }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MALLOC_') && k !== 'NODE_OPTIONS'));
  const child = spawn(LAUNCHER, [
    'sidecar', '--policy', join(BENCH, 'policy.yaml'), '--pod', join(BENCH, 'pod.yaml'),
    '--listen', '127.0.0.1:0', '--allow-tcp-credentials', '--admin-listen', '127.0.0.1:0',
  ], { env: { ...inherited, OTEL_TRACES_EXPORTER: 'none', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('"sidecar listening"')) resolve();
    });
    child.once('exit', (code) => { reject(new Error(`bin/agentwarden sidecar exited with ${String(code)} before listening:\n${log}`)); });
  });
  // The launcher execs node, so the child's pid is the sidecar's.
  const environ = readFileSync(`/proc/${String(child.pid)}/environ`, 'utf8');
  const argv = readFileSync(`/proc/${String(child.pid)}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  return { env: new Map(environ.split('\0').filter((e) => e.includes('=')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])), argv, child };
}

/** The launcher's exit code and stderr for `sidecar --help` with these variables. */
async function refused(env: Record<string, string>): Promise<[number | null, string]> {
  const child = spawn(LAUNCHER, ['sidecar', '--help'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => { err += c.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return [code, err];
}

describe('bin/agentwarden sidecar', () => {
  onLinux('runs the sidecar with two malloc arenas, fixed malloc thresholds and small V8 generations', async () => {
    const env = await sidecarEnvironment({});
    expect(env.get('MALLOC_ARENA_MAX')).toBe('2');
    expect(env.get('MALLOC_TRIM_THRESHOLD_')).toBe('131072');
    expect(env.get('MALLOC_MMAP_THRESHOLD_')).toBe('131072');
    expect(env.get('NODE_OPTIONS')?.trim()).toBe('--max-semi-space-size=2 --max-old-space-size=96');
  });

  onLinux('runs node with Turbofan early and no Maglev unless AGENTWARDEN_SIDECAR_JIT says otherwise, scavenges on the main thread alone without pretenuring and with ordinary memory-reducer GCs unless AGENTWARDEN_SIDECAR_GC does, then AGENTWARDEN_SIDECAR_V8_FLAGS (V8 flags NODE_OPTIONS does not take: on the command line)', async () => {
    const run = join(ROOT, 'dist', 'cli', 'src', 'run.js');
    const jit = ['--no-maglev', '--invocation-count-for-turbofan=300'];
    const serial = await startSidecar({});
    expect(serial.argv.slice(1, 7)).toEqual([...jit, '--no-parallel-scavenge', '--no-allocation-site-pretenuring', '--no-memory-reducer-favors-memory', run]);
    const single = await startSidecar({ AGENTWARDEN_SIDECAR_GC: 'single-threaded' });
    expect(single.argv.slice(1, 7)).toEqual([...jit, '--single-threaded-gc', '--no-allocation-site-pretenuring', '--no-memory-reducer-favors-memory', run]);
    const parallel = await startSidecar({ AGENTWARDEN_SIDECAR_GC: 'parallel' });
    expect(parallel.argv.slice(1, 4)).toEqual([...jit, run]);
    const v8Tiers = await startSidecar({ AGENTWARDEN_SIDECAR_JIT: 'v8-default', AGENTWARDEN_SIDECAR_GC: 'parallel' });
    expect(v8Tiers.argv.slice(1, 2)).toEqual([run]);
    const more = await startSidecar({ AGENTWARDEN_SIDECAR_V8_FLAGS: '--allocation-site-pretenuring --stack-size=900' });
    expect(more.argv.slice(1, 9)).toEqual([...jit, '--no-parallel-scavenge', '--no-allocation-site-pretenuring', '--no-memory-reducer-favors-memory', '--allocation-site-pretenuring', '--stack-size=900', run]);
  });

  onLinux('refuses an AGENTWARDEN_SIDECAR_GC or AGENTWARDEN_SIDECAR_JIT it does not know, before starting node', async () => {
    expect(await refused({ AGENTWARDEN_SIDECAR_GC: 'concurrent' })).toEqual([2, expect.stringContaining('AGENTWARDEN_SIDECAR_GC: "concurrent" is not serial-scavenge, single-threaded or parallel')]);
    expect(await refused({ AGENTWARDEN_SIDECAR_JIT: 'maglev' })).toEqual([2, expect.stringContaining('AGENTWARDEN_SIDECAR_JIT: "maglev" is not early-turbofan or v8-default')]);
  });

  onLinux('leaves the lazy parts of Node\'s built-ins unloaded at idle: undici, fs/promises with readline and the REPL history, WebCrypto', async () => {
    // Preloaded: Node's internal module list on stderr at SIGUSR2 (no spaces: NODE_OPTIONS splits on them).
    const probe = "--import=data:text/javascript,process.on('SIGUSR2',()=>process.stderr.write('internal-modules='+process.moduleLoadList.join(',')+'\\n'))";
    const { child } = await startSidecar({ NODE_OPTIONS: probe });
    const listed = new Promise<string[]>((resolve) => {
      let log = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        const m = /internal-modules=(.*)\n/.exec(log);
        if (m?.[1] !== undefined) resolve(m[1].split(',').map((e) => e.replace(/^NativeModule /, '')));
      });
    });
    child.kill('SIGUSR2');
    const loaded = await listed;
    expect(loaded).toContain('net');
    const lazy = ['internal/deps/undici/undici', 'internal/fs/promises', 'internal/repl/history', 'internal/crypto/webcrypto'];
    expect(loaded.filter((m) => lazy.includes(m))).toEqual([]);
  });

  onLinux('keeps the malloc arena count and the Node options the caller gave', async () => {
    const env = await sidecarEnvironment({ MALLOC_ARENA_MAX: '4', MALLOC_TRIM_THRESHOLD_: '262144', NODE_OPTIONS: '--max-old-space-size=128' });
    expect(env.get('MALLOC_ARENA_MAX')).toBe('4');
    expect(env.get('MALLOC_TRIM_THRESHOLD_')).toBe('262144');
    // Later flags win: the caller's come after the launcher's.
    expect(env.get('NODE_OPTIONS')).toBe('--max-semi-space-size=2 --max-old-space-size=96 --max-old-space-size=128');
  });
});
