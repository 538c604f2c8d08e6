// Test helpers for the sidecar: a real sidecar started in-process with
// `startSidecar` on ephemeral ports, its policies, Pod and Secrets written to a
// temporary folder, and a real gRPC ext_authz client speaking Envoy's protos
// over the socket. Tests stop every sidecar they start with `stopSidecars()`.
import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  CheckRequestSchema, CheckResponseSchema, type CheckRequest, type CheckResponse,
} from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { checkRequestFrom, type RequestShorthand } from '../../cli/src/request-shorthand.js';
import { readSidecarConfig, type SidecarConfig } from '../src/config.js';
import { jsonLogger } from '../src/log.js';
import { startSidecar, type RunningSidecar } from '../src/main.js';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
export const NAMESPACE = 'support';
export const POD_NAME = 'support-agent-0';
export const SERVICE_ACCOUNT = 'support-agent';

/** Removes the common leading indentation, so YAML can be indented with the test code. */
export function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)?.[0].length ?? 0);
  const cut = indents.length === 0 ? 0 : Math.min(...indents);
  return lines.map((l) => l.slice(cut)).join('\n');
}

/** An AgentPolicy manifest named `name` in the test namespace, with `spec` written as (indented) YAML. */
export function agentPolicy(name: string, spec: string): string {
  const body = dedent(spec).split('\n').map((l) => `  ${l}`).join('\n');
  return `apiVersion: agentwarden.io/v1alpha1\nkind: AgentPolicy\nmetadata:\n  name: ${name}\n  namespace: ${NAMESPACE}\nspec:\n${body}\n`;
}

const POD_YAML = `apiVersion: v1
kind: Pod
metadata:
  name: ${POD_NAME}
  namespace: ${NAMESPACE}
  labels: {app: support-agent, team: care}
spec:
  serviceAccountName: ${SERVICE_ACCOUNT}
  containers:
    - {name: agent, image: example.com/support-agent:1.4.2}
`;

export interface SidecarOptions {
  /** Policy files by file name, written to the policy folder before the start. */
  readonly policies: Readonly<Record<string, string>>;
  /** Secret files: { "<secret-name>/<key>": value }. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** ext_authz listen address; "unix" picks a socket in the temporary folder. Default 127.0.0.1:0. */
  readonly listen?: string;
  /** --allow-tcp-credentials, so that credential tests can use a TCP client. Default true. */
  readonly allowTcpCredentials?: boolean;
  /** --debug-snapshot. Default true. */
  readonly debugSnapshot?: boolean;
  /** Environment given to readSidecarConfig (OTEL_*); export is off unless it says otherwise. */
  readonly env?: Readonly<Record<string, string>>;
  /** Set in process.env while the sidecar creates its OTLP exporter (the exporters read it themselves). */
  readonly exporterEnv?: Readonly<Record<string, string>>;
  /** Fields that override the parsed configuration. */
  readonly config?: Partial<SidecarConfig>;
}

export interface TestSidecar {
  readonly running: RunningSidecar;
  readonly client: CheckClient;
  readonly dir: string;
  readonly policyDir: string;
  readonly secretsDir: string;
  readonly podFile: string;
  /** The sidecar's log lines (JSON). */
  readonly logs: string[];
  /**
   * Writes a policy file: "in-place" rewrites the existing file; "replace" writes
   * a new file aside and renames it over the old one, as editors and git do.
   */
  writePolicy(fileName: string, text: string, how: 'in-place' | 'replace'): void;
  /** GET on the admin server. */
  admin(path: string): Promise<{ readonly status: number; readonly text: string }>;
  check(request: CheckRequest): Promise<CheckResponse>;
  /** A CheckRequest built from the test-suite shorthand, optionally edited. */
  checkShort(short: RequestShorthand, edit?: (r: CheckRequest) => void): Promise<CheckResponse>;
  /** Stops this sidecar now (RunningSidecar.stop) and removes its folder. */
  stop(): Promise<void>;
}

const started: TestSidecar[] = [];

/** Starts a sidecar in this process on ephemeral ports. */
export async function startTestSidecar(options: SidecarOptions): Promise<TestSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'agentwarden-sidecar-'));
  const policyDir = join(dir, 'policies');
  const secretsDir = join(dir, 'secrets');
  const podFile = join(dir, 'pod.yaml');
  mkdirSync(policyDir);
  mkdirSync(secretsDir);
  writeFileSync(podFile, POD_YAML);
  for (const [file, text] of Object.entries(options.policies)) writeFileSync(join(policyDir, file), text);
  for (const [path, value] of Object.entries(options.secrets ?? {})) {
    const [name, key] = path.split('/');
    mkdirSync(join(secretsDir, name!), { recursive: true });
    writeFileSync(join(secretsDir, name!, key!), value);
  }
  const listen = options.listen === 'unix' ? `unix:${join(dir, 'authz.sock')}` : (options.listen ?? '127.0.0.1:0');
  const parsed = readSidecarConfig(
    [
      '--listen', listen, '--admin-listen', '127.0.0.1:0', '--policy', policyDir, '--pod', podFile, '--secrets-dir', secretsDir,
      ...(options.allowTcpCredentials === false ? [] : ['--allow-tcp-credentials']),
      ...(options.debugSnapshot === false ? [] : ['--debug-snapshot']),
    ],
    { OTEL_TRACES_EXPORTER: 'none', ...options.env, ...options.exporterEnv },
  );
  const config: SidecarConfig = { ...parsed, ...options.config };
  const logs: string[] = [];
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(options.exporterEnv ?? {})) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  let running: RunningSidecar;
  try {
    running = await startSidecar(config, jsonLogger('debug', (line) => logs.push(line)));
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
  }
  const client = new CheckClient(grpcTarget(running.authz.address));
  const sidecar: TestSidecar = {
    running, client, dir, policyDir, secretsDir, podFile, logs,
    writePolicy(fileName, text, how) {
      if (how === 'in-place') {
        writeFileSync(join(policyDir, fileName), text);
        return;
      }
      const aside = join(policyDir, `.${fileName}.tmp`);
      writeFileSync(aside, text);
      renameSync(aside, join(policyDir, fileName));
    },
    admin: (path) => httpGet(`http://${running.admin.address}${path}`),
    check: (request) => client.check(request),
    checkShort: (short, edit) => {
      const request = checkRequestFrom(short);
      edit?.(request);
      return client.check(request);
    },
    stop: () => {
      started.splice(started.indexOf(sidecar), 1);
      return stopOne(sidecar);
    },
  };
  started.push(sidecar);
  return sidecar;
}

/** Stops every sidecar started so far (call in afterEach / afterAll). */
export async function stopSidecars(): Promise<void> {
  const results = await Promise.allSettled(started.splice(0).map(stopOne));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

async function stopOne(s: TestSidecar): Promise<void> {
  s.client.close();
  try {
    await s.running.stop();
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
}

/**
 * Publishes `files` into `volume` the way the kubelet updates a ConfigMap or
 * Secret volume: a new folder "..<generation>", the "..data" symlink swapped to
 * it atomically, the previous folder removed. Files are reached as
 * <volume>/<name> -> ..data/<name> (created on the first generation).
 */
export function kubeletPublish(volume: string, generation: number, files: Readonly<Record<string, string>>): void {
  const folder = `..${generation}`;
  mkdirSync(join(volume, folder), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(volume, folder, name), text);
  symlinkSync(folder, join(volume, '..data_tmp'));
  renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
  rmSync(join(volume, `..${generation - 1}`), { recursive: true, force: true });
  if (generation === 1) for (const name of Object.keys(files)) symlinkSync(`..data/${name}`, join(volume, name));
}

/** The gRPC target for a bound ext_authz address ("host:port" or "unix:/path"). */
export function grpcTarget(address: string): string {
  return address;
}

/** A plain Envoy-like ext_authz client: one unary Check per call, bytes in, CheckResponse out. */
export class CheckClient {
  private readonly client: grpc.Client;

  constructor(target: string) {
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  }

  check(request: CheckRequest): Promise<CheckResponse> {
    return this.checkBytes(toBinary(CheckRequestSchema, request));
  }

  /** Sends `bytes` as the whole request message, whatever they are. */
  checkBytes(bytes: Uint8Array): Promise<CheckResponse> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest<Uint8Array, CheckResponse>(
        CHECK_PATH,
        (b) => Buffer.from(b),
        (b) => fromBinary(CheckResponseSchema, b),
        bytes,
        new grpc.Metadata(),
        { deadline: Date.now() + 60_000 },
        (err, response) => {
          if (err !== null) reject(err);
          else if (response === undefined) reject(new Error('Check: no response'));
          else resolve(response);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** A CheckRequest from explicit parts (no shorthand conveniences). */
export function checkRequest(init: MessageInitShape<typeof CheckRequestSchema>): CheckRequest {
  return create(CheckRequestSchema, init);
}

/** Headers of an allow, by lower-case name. */
export function okHeaders(response: CheckResponse): Map<string, string> {
  if (response.httpResponse.case !== 'okResponse') throw new Error(`expected an OkHttpResponse, got ${response.httpResponse.case ?? 'nothing'}: ${response.status?.message ?? ''}`);
  return new Map(response.httpResponse.value.headers.map((h) => [h.header?.key.toLowerCase() ?? '', h.header?.value ?? '']));
}

export interface Denied {
  readonly httpStatus: number;
  readonly grpcCode: number;
  readonly headers: Map<string, string>;
  readonly body: Record<string, unknown>;
}

/** The parts of a deny a user sees; throws when `response` is not a DeniedHttpResponse. */
export function denied(response: CheckResponse): Denied {
  if (response.httpResponse.case !== 'deniedResponse') throw new Error(`expected a DeniedHttpResponse, got ${response.httpResponse.case ?? 'nothing'}`);
  const d = response.httpResponse.value;
  return {
    httpStatus: d.status?.code ?? 0,
    grpcCode: response.status?.code ?? 0,
    headers: new Map(d.headers.map((h) => [h.header?.key.toLowerCase() ?? '', h.header?.value ?? ''])),
    body: JSON.parse(d.body) as Record<string, unknown>,
  };
}

/** "allow" or "deny" plus the deciding rule, for compact assertions. */
export function outcome(response: CheckResponse): { readonly decision: 'allow' | 'deny'; readonly rule: string } {
  if (response.httpResponse.case === 'okResponse') return { decision: 'allow', rule: '' };
  const body = denied(response).body;
  const data = body['error'] !== null && typeof body['error'] === 'object' ? (body['error'] as Record<string, unknown>)['data'] as Record<string, unknown> : body;
  return { decision: 'deny', rule: String(data['rule']) };
}

export async function httpGet(url: string): Promise<{ readonly status: number; readonly text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/**
 * Polls `probe` until it returns a value other than undefined; fails with `what`
 * after `timeoutMs`. For waiting on file watchers and exporters, never a fixed sleep.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
