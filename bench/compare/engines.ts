// The three engines under test: how each is started, when it is ready, which
// gRPC method it serves, how a request of the mix is encoded for it and how its
// answer is read. agentwarden and OPA-Envoy get the identical Envoy CheckRequest
// bytes; Cerbos gets the equivalent CheckResources request.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary, toBinary, toJson, type DescFile, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { CheckRequestSchema, CheckResponseSchema, file_envoy_service_auth_v3_external_auth } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { CHECK_PATH } from '../../sidecar/src/authz/server.js';
import { checkRequestFrom } from '../../cli/src/request-shorthand.js';
import { cerbosDecision, cerbosRequestJson, encodeCerbosRequest, CERBOS_CHECK_PATH, type CerbosApi } from './cerbos.js';
import { freePort, waitFor200 } from './proc.js';
import type { MixEntry } from './mix.js';

export type EngineName = 'agentwarden' | 'opa-envoy' | 'cerbos';
export const ENGINES: readonly EngineName[] = ['agentwarden', 'opa-envoy', 'cerbos'];

export interface Paths {
  readonly root: string;
  /** .cache/bench: logs, data files, protosets. */
  readonly work: string;
  readonly opaEnvoy: string;
  readonly loadgen: string;
  readonly ghz: string;
  readonly cerbos: string;
}

export function benchPaths(root: string): Paths {
  return {
    root,
    work: join(root, '.cache', 'bench'),
    opaEnvoy: join(root, '.cache', 'bin', 'opa-envoy'),
    loadgen: join(root, '.cache', 'bin', 'loadgen'),
    ghz: join(root, '.cache', 'bin', 'ghz'),
    cerbos: join(root, 'node_modules', '@cerbos', 'cerbos-linux-x64', 'cerbos-linux-x64'),
  };
}

export interface Codec {
  /** gRPC method path, e.g. /envoy.service.auth.v3.Authorization/Check */
  readonly path: string;
  /** ghz --call */
  readonly call: string;
  /** For ghz --protoset. */
  readonly protoFile: DescFile;
  /** The request message bytes for one entry of the mix. */
  encode(entry: MixEntry): Uint8Array;
  /** The request in proto3 JSON (ghz data). */
  json(entry: MixEntry): JsonValue;
  /** allow | deny from the response message bytes. */
  decision(entry: MixEntry, response: Uint8Array): 'allow' | 'deny';
  /** The rule that decided, where the answer names it (agentwarden). */
  rule?(response: Uint8Array): string;
}

/** agentwarden names the deciding rule: x-agentwarden-rule "policy/rule" on allow, the JSON body on deny. */
function agentwardenRule(bytes: Uint8Array): string {
  const r = fromBinary(CheckResponseSchema, bytes).httpResponse;
  if (r.case === 'okResponse') {
    const h = r.value.responseHeadersToAdd.find((o) => o.header?.key === 'x-agentwarden-rule')?.header?.value ?? '';
    return h.slice(h.indexOf('/') + 1);
  }
  if (r.case === 'deniedResponse') {
    const body = JSON.parse(r.value.body) as { rule?: string; error?: { data?: { rule?: string } } };
    return body.rule ?? body.error?.data?.rule ?? '';
  }
  return '';
}

const envoyCodec: Codec = {
  path: CHECK_PATH,
  call: 'envoy.service.auth.v3.Authorization.Check',
  protoFile: file_envoy_service_auth_v3_external_auth,
  encode: (e) => toBinary(CheckRequestSchema, checkRequestFrom(e.request)),
  json: (e) => toJson(CheckRequestSchema, checkRequestFrom(e.request)),
  decision: (_e, bytes) => (fromBinary(CheckResponseSchema, bytes).status?.code ?? 2) === 0 ? 'allow' : 'deny',
};

function cerbosCodec(api: CerbosApi): Codec {
  const requestJson = (e: MixEntry): JsonObject => cerbosRequestJson(checkRequestFrom(e.request));
  return {
    path: CERBOS_CHECK_PATH,
    call: 'cerbos.svc.v1.CerbosService.CheckResources',
    protoFile: api.serviceFile,
    encode: (e) => encodeCerbosRequest(api, requestJson(e)),
    json: requestJson,
    decision: (e, bytes) => cerbosDecision(api, bytes, checkRequestFrom(e.request).attributes?.request?.http?.method ?? ''),
  };
}

export interface RunningEngine {
  readonly name: EngineName;
  readonly pid: number;
  /** 127.0.0.1:<port> of the gRPC listener. */
  readonly grpcAddress: string;
  /** Admin / health HTTP base URL. */
  readonly httpBase: string;
  /** Spawn to first 200 from the readiness endpoint, ms. */
  readonly readyMs: number;
  readonly codec: Codec;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly paths: Paths;
  readonly otlpEndpoint: string;
  readonly cerbosApi: CerbosApi;
  /** Appended to the engine's log file name, e.g. a start number. */
  readonly logSuffix: string;
  /** More for the engine's environment and command line (make soak: --trace-gc, --gc-metrics). */
  readonly extraEnv?: Readonly<Record<string, string>>;
  readonly extraArgs?: readonly string[];
}

interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly readyUrl: string;
  readonly httpBase: string;
}

function launchFor(name: EngineName, o: StartOptions, grpcPort: number, httpPort: number): Launch {
  const peers = join(o.paths.root, 'bench', 'peers');
  const httpBase = `http://127.0.0.1:${httpPort}`;
  switch (name) {
    case 'agentwarden':
      return {
        command: join(o.paths.root, 'bin', 'agentwarden'),
        args: ['sidecar', '--policy', join(peers, 'agentwarden', 'policy.yaml'), '--pod', join(peers, 'agentwarden', 'pod.yaml'),
          // Loopback TCP, as the peers are measured; the flag says that nothing else on the machine matters here.
          '--listen', `127.0.0.1:${grpcPort}`, '--allow-tcp-credentials', '--admin-listen', `127.0.0.1:${httpPort}`],
        // Full decisions and audit span export to the bench's OTLP sink.
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: o.otlpEndpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_EXPORTER: 'otlp' },
        readyUrl: `${httpBase}/readyz`,
        httpBase,
      };
    case 'opa-envoy':
      return {
        command: o.paths.opaEnvoy,
        args: ['run', '--server', '--disable-telemetry', '--log-level', 'error', '--addr', `127.0.0.1:${httpPort}`,
          '--config-file', join(peers, 'opa-envoy', 'config.yaml'), '--set', `plugins.envoy_ext_authz_grpc.addr=127.0.0.1:${grpcPort}`,
          join(peers, 'opa-envoy', 'policy.rego')],
        env: {},
        readyUrl: `${httpBase}/health?plugins`,
        httpBase,
      };
    case 'cerbos':
      return {
        command: o.paths.cerbos,
        args: ['server', `--config=${join(peers, 'cerbos', 'conf.yaml')}`, '--log-level=warn',
          `--set=server.grpcListenAddr=127.0.0.1:${grpcPort}`, `--set=server.httpListenAddr=127.0.0.1:${httpPort}`,
          `--set=storage.disk.directory=${join(peers, 'cerbos', 'policies')}`],
        env: { CERBOS_NO_TELEMETRY: '1' },
        readyUrl: `${httpBase}/_cerbos/health`,
        httpBase,
      };
  }
}

export function codecFor(name: EngineName, api: CerbosApi): Codec {
  if (name === 'cerbos') return cerbosCodec(api);
  return name === 'agentwarden' ? { ...envoyCodec, rule: agentwardenRule } : envoyCodec;
}

/** Starts the engine on fresh loopback ports and waits until its readiness endpoint answers 200. */
export async function startEngine(name: EngineName, o: StartOptions): Promise<RunningEngine> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const l = launchFor(name, o, grpcPort, httpPort);
  if (!existsSync(l.command)) throw new Error(`bench: ${l.command} is missing: run bench/peers/build.sh (make bench does)`);
  const log = createWriteStream(join(o.paths.work, 'logs', `${name}${o.logSuffix}.log`));
  await new Promise<void>((resolve) => log.on('open', () => resolve()));
  const t0 = performance.now();
  const child: ChildProcess = spawn(l.command, [...l.args, ...(o.extraArgs ?? [])], { env: { ...process.env, ...l.env, ...o.extraEnv }, stdio: ['ignore', log, log] });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => { exited = true; resolve(); }));
  try {
    await waitFor200(l.readyUrl, () => !exited, 60_000);
  } catch (e: unknown) {
    child.kill('SIGKILL');
    throw new Error(`bench: ${name} did not become ready (log: ${join(o.paths.work, 'logs', `${name}${o.logSuffix}.log`)}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const readyMs = performance.now() - t0;
  const pid = child.pid ?? 0;
  return {
    name, pid, grpcAddress: `127.0.0.1:${grpcPort}`, httpBase: l.httpBase, readyMs, codec: codecFor(name, o.cerbosApi),
    async stop(): Promise<void> {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
      log.end();
    },
  };
}
