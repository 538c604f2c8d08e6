// Runs an injected pod the way a node would: the init container's capture
// script as root in the pod's network namespace, then the sidecar and Envoy as
// the proxy UID with exactly the injected command lines, and agents as another
// UID. Only paths change: the injected volumes become directories of the test,
// the images' binaries become .cache/bin/envoy and bin/agentwarden, and the
// kubelet's $(VAR) expansion is done here.
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { AUTHZ_SOCKET_DIR, ENVOY_ADMIN_SOCKET, ENVOY_CONTAINER, INIT_CONTAINER, SIDECAR_CONTAINER, TOKEN_DIR } from '../../controller/src/inject/index.js';
import { run, type CommandResult, type PodNetwork } from './netns.js';
import { startProcess, type Managed } from './process.js';

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const BIN = process.env['E2E_BIN_DIR'] ?? join(ROOT, '.cache/bin');
export const AGENT_UID = 1000;

export interface PodFiles {
  /** The projected ServiceAccount token (audience agentwarden). */
  readonly token: string;
  /** The controller's CA (the agentwarden-ca-root ConfigMap's ca.crt), when the pod mounts it. */
  readonly controllerCa?: string;
}

export interface RunningPod {
  readonly network: PodNetwork;
  readonly pod: V1Pod;
  readonly dir: string;
  /** The Envoy admin socket (reachable by root, i.e. the test; mode 0600, owned by the proxy UID). */
  readonly envoyAdminSocket: string;
  /** Runs `argv` as the agent (UID 1000) in the pod, with the agent container's environment (proxy-env: HTTP_PROXY...). */
  agent(argv: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  /** Runs `argv` as `uid` in the pod. */
  exec(uid: number, argv: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  envoyAdmin(path: string, method?: string): Promise<{ status: number; body: string }>;
  readonly sidecar: () => Managed;
  readonly envoy: Managed;
  killSidecar(): Promise<void>;
  startSidecar(): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

function container(pod: V1Pod, name: string): V1Container | undefined {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === name);
}

/** The kubelet's $(VAR) expansion of a container's args from its literal and fieldRef env. */
function expand(args: readonly string[], env: Readonly<Record<string, string>>): string[] {
  return args.map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m));
}

function podEnv(c: V1Container, pod: V1Pod): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    if (e.value !== undefined) out[e.name] = e.value;
    else if (path === 'metadata.name') out[e.name] = pod.metadata?.name ?? '';
    else if (path === 'metadata.namespace') out[e.name] = pod.metadata?.namespace ?? '';
  }
  return out;
}

/** Polls `probe` until it is true; fails at once when one of `watch` has exited, else after timeoutMs. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000, watch: readonly Managed[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    const dead = watch.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead !== undefined) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode ?? ''}) while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function httpGet(options: { socketPath?: string; host?: string; port?: number; path: string; method?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ ...options, method: options.method ?? 'GET', timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => { resolvePromise({ status: res.statusCode ?? 0, body }); });
    });
    req.on('timeout', () => { req.destroy(new Error('timeout')); });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts the injected `pod` in `network`: capture rules (iptables mode), the
 * sidecar, Envoy; resolves once Envoy is LIVE and the sidecar is ready (it
 * holds a snapshot). `proxyUid` is the injector's proxyUid option.
 */
export async function startPod(network: PodNetwork, pod: V1Pod, files: PodFiles, proxyUid = 1337): Promise<RunningPod> {
  const dir = mkdtempSync(join(tmpdir(), 'aw-pod-'));
  chmodSync(dir, 0o755);
  const authzDir = join(dir, 'authz');
  const tokenDir = join(dir, 'token');
  mkdirSync(authzDir, { mode: 0o700 });
  chownSync(authzDir, proxyUid, proxyUid);
  mkdirSync(tokenDir, { mode: 0o755 });
  copyFileSync(files.token, join(tokenDir, 'token'));
  if (files.controllerCa !== undefined) copyFileSync(files.controllerCa, join(tokenDir, 'ca.crt'));
  const paths = (s: string): string => s.split(AUTHZ_SOCKET_DIR).join(authzDir).split(TOKEN_DIR).join(tokenDir);
  const processes: Managed[] = [];
  const stopAll = async (): Promise<void> => {
    for (const p of [...processes].reverse()) await p.stop();
  };
  try {
    const init = container(pod, INIT_CONTAINER);
    if (init !== undefined) {
      const [sh, flag, script] = init.command ?? [];
      if (sh !== '/bin/sh' || flag !== '-c' || script === undefined) throw new Error(`${INIT_CONTAINER}: unexpected command ${JSON.stringify(init.command)}`);
      const r = await run('ip', ['netns', 'exec', network.name, 'sh', '-c', script]);
      if (r.code !== 0) throw new Error(`${INIT_CONTAINER} failed (${r.code}): ${r.stderr}`);
    }
    const sidecarSpec = container(pod, SIDECAR_CONTAINER);
    const envoySpec = container(pod, ENVOY_CONTAINER);
    if (sidecarSpec === undefined || envoySpec === undefined) throw new Error('the pod is not injected');
    const sidecarEnv = podEnv(sidecarSpec, pod);
    const sidecarArgv = [...network.as(proxyUid), join(ROOT, 'bin/agentwarden'), ...expand(sidecarSpec.args ?? [], sidecarEnv).map(paths)];
    let sidecar = startProcess('sidecar', sidecarArgv, { ...sidecarEnv, HOME: dir });
    processes.push(sidecar);
    const [envoyCmd, ...envoyArgs] = [...(envoySpec.command ?? []), ...(envoySpec.args ?? [])];
    if (envoyCmd !== 'envoy') throw new Error(`${ENVOY_CONTAINER}: unexpected command ${envoyCmd}`);
    const envoy = startProcess('envoy', [...network.as(proxyUid), join(BIN, 'envoy'), ...envoyArgs.map(paths)]);
    processes.push(envoy);
    const envoyAdminSocket = paths(ENVOY_ADMIN_SOCKET);
    const sidecarReady = (): Promise<boolean> => httpGet({ host: network.podIp, port: 15021, path: '/readyz' }).then((r) => r.status === 200);
    await waitUntil('Envoy LIVE', async () => (await httpGet({ socketPath: envoyAdminSocket, path: '/ready' })).body.trim() === 'LIVE', 60_000, [envoy]);
    await waitUntil('the sidecar ready', sidecarReady, 60_000, [sidecar]);
    const agentSpec = pod.spec?.containers[0];
    const agentEnv = agentSpec === undefined ? [] : Object.entries(podEnv(agentSpec, pod)).map(([k, v]) => `${k}=${v}`);
    const exec = (uid: number, argv: readonly string[], timeoutMs = 30_000): Promise<CommandResult> => {
      const [file, ...rest] = [...network.as(uid), ...argv];
      return run(file ?? 'ip', rest, timeoutMs);
    };
    return {
      network, pod, dir, envoyAdminSocket, envoy,
      sidecar: () => sidecar,
      agent: (argv, timeoutMs) => exec(AGENT_UID, ['env', `HOME=${dir}`, ...agentEnv, ...argv], timeoutMs),
      exec,
      envoyAdmin: (path, method) => httpGet({ socketPath: envoyAdminSocket, path, method }),
      async killSidecar() {
        sidecar.child.kill('SIGKILL');
        await sidecar.exited;
      },
      async startSidecar() {
        sidecar = startProcess('sidecar', sidecarArgv, { ...sidecarEnv, HOME: dir });
        processes.push(sidecar);
        await waitUntil('the sidecar ready again', sidecarReady, 60_000, [sidecar]);
      },
      logs: () => processes.map((p) => `--- ${p.name} ---\n${p.log()}`).join('\n'),
      async stop() {
        await stopAll();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e: unknown) {
    const logs = processes.map((p) => `--- ${p.name} ---\n${p.log()}`).join('\n');
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${logs}`, { cause: e });
  }
}

/** Writes `content` to a file under `dir` readable by every UID (policies, tokens, CAs for the pod's processes). */
export function publicFile(dir: string, name: string, content: string): string {
  const file = join(dir, name);
  writeFileSync(file, content, { mode: 0o644 });
  return file;
}
