// Access to the local control plane that `make cluster-up` started: paths,
// kubectl, a client-node KubeConfig, and polling helpers. Every wait polls with
// a generous safety timeout; nothing sleeps to synchronise.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const KUBECONFIG = process.env['E2E_KUBECONFIG'] ?? join(ROOT, '.cache/e2e/kubeconfig');
export const BIN = process.env['E2E_BIN_DIR'] ?? join(ROOT, '.cache/bin');
export const JAEGER_QUERY = `http://127.0.0.1:${process.env['JAEGER_QUERY_PORT'] ?? '16686'}`;
export const JAEGER_OTLP_HTTP = `http://127.0.0.1:${process.env['JAEGER_OTLP_HTTP_PORT'] ?? '4318'}`;

export interface Run { readonly code: number; readonly stdout: string; readonly stderr: string }

/** Runs kubectl against the local cluster; never throws on a non-zero exit. */
export function kubectl(args: readonly string[], stdin?: string): Promise<Run> {
  return new Promise((resolvePromise) => {
    const child = execFile(join(BIN, 'kubectl'), ['--kubeconfig', KUBECONFIG, ...args], { maxBuffer: 16 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolvePromise({ code, stdout, stderr });
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** kubectl that must succeed. */
export async function kubectlOk(args: readonly string[], stdin?: string): Promise<string> {
  const r = await kubectl(args, stdin);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  return kc;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e: unknown) {
      lastError = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? "" : `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

let counter = 0;
/** A namespace name no earlier run used (deleted namespaces never finish terminating here). */
export function uniqueNamespace(prefix: string): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'aw-e2e-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}
