// The test servers as the pod harness runs them: child processes that print {"ready":true,...},
// then one JSON line per request, and exit 0 on SIGTERM. The Go upstream is built first
// (gojson-upstream/build.sh, a no-op when up to date).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url)); // dist/e2e/pod/test
const repo = join(here, '../../../..');
const podDist = join(here, '..');

interface Child {
  readonly process: ChildProcess;
  /** The next stdout line as JSON; rejects after 20 s or when the child exits first. */
  next(): Promise<Record<string, unknown>>;
}

function start(command: string, args: readonly string[]): Child {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((line: string | null) => void)[] = [];
  const rl = createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  rl.on('close', () => {
    for (const waiter of waiters.splice(0)) waiter(null);
  });
  const next = (): Promise<Record<string, unknown>> => {
    const line = lines.shift();
    if (line !== undefined) return Promise.resolve(JSON.parse(line) as Record<string, unknown>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command}: no output line within 20 s`)), 20_000);
      waiters.push((got) => {
        clearTimeout(timer);
        if (got === null) reject(new Error(`${command}: exited before printing a line`));
        else resolve(JSON.parse(got) as Record<string, unknown>);
      });
    });
  };
  return { process: child, next };
}

function exited(child: Child): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null) resolve(child.process.exitCode);
    else child.process.once('exit', (code) => resolve(code));
  });
}

function stop(child: Child): Promise<number | null> {
  const exit = exited(child);
  child.process.kill('SIGTERM');
  return exit;
}

function portOf(ready: Record<string, unknown>): string {
  const listen = ready.listen as string[];
  return listen[0]!.split(':').at(-1)!;
}

describe('CLIs', () => {
  test('http-upstream prints ready, one line per request, and exits 0 on SIGTERM', async () => {
    const child = start(process.execPath, [join(podDist, 'upstreams/http-upstream.js'), '--listen', '127.0.0.1:0', '--status', '/flaky=503']);
    try {
      const ready = await child.next();
      expect(ready).toMatchObject({ ready: true, kind: 'http' });
      const response = await fetch(`http://127.0.0.1:${portOf(ready)}/flaky?x=1`);
      expect(response.status).toBe(503);
      expect(await child.next()).toMatchObject({ method: 'GET', target: '/flaky?x=1', status: 503 });
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  test('https-upstream prints the CA file in its ready line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-test-'));
    const child = start(process.execPath, [join(podDist, 'upstreams/https-upstream.js'), '--listen', '127.0.0.1:0', '--name', 'api.example.test', '--ca-dir', dir]);
    try {
      expect(await child.next()).toMatchObject({ ready: true, kind: 'https', caFile: join(dir, 'ca/ca.crt') });
    } finally {
      expect(await stop(child)).toBe(0);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a server that cannot listen prints ready:false and exits 2', async () => {
    const child = start(process.execPath, [join(podDist, 'upstreams/mcp-server.js'), '--listen', 'not-an-ip:80']);
    expect(await child.next()).toMatchObject({ ready: false, error: expect.stringContaining('not-an-ip') as unknown });
    expect(await exited(child)).toBe(2);
  });

  test('gojson-upstream decodes concatenated messages with case-insensitive, last-wins keys', async () => {
    const binDir = await mkdtemp(join(tmpdir(), 'gojson-bin-'));
    try {
      await promisify(execFile)(join(repo, 'e2e/pod/gojson-upstream/build.sh'), [], { env: { ...process.env, E2E_BIN_DIR: binDir }, timeout: 120_000 });
      const child = start(join(binDir, 'gojson-upstream'), ['--listen', '127.0.0.1:0']);
      try {
        const ready = await child.next();
        expect(ready).toMatchObject({ ready: true, kind: 'gojson' });
        const body =
          '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_tickets","arguments":{"query":"q"}}}' +
          '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_tickets","Name":"delete_customer","arguments":{"id":"c1"}}}';
        const response = await fetch(`http://127.0.0.1:${portOf(ready)}/mcp`, { method: 'POST', headers: { authorization: 'Bearer t' }, body });
        expect(response.status).toBe(200);
        expect(await response.json()).toHaveLength(2);
        expect(await child.next()).toMatchObject({ index: 0, tool: 'search_tickets', authorization: 'Bearer t' });
        expect(await child.next()).toMatchObject({ index: 1, id: 2, tool: 'delete_customer', arguments: { id: 'c1' } });
      } finally {
        expect(await stop(child)).toBe(0);
      }
    } finally {
      await rm(binDir, { recursive: true, force: true });
    }
  });
});
