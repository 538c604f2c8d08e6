// A local HTTP server speaking the Kubernetes API's shape for
// agentaccessrequests (get, list namespaced and cluster-wide, create, merge
// patch of the status subresource with a resourceVersion precondition), with
// the admission webhooks as a hook: what the CLI tests talk to through a real
// kubeconfig and @kubernetes/client-node. Every request is recorded.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Obj = Record<string, unknown> & { metadata: Record<string, unknown>; spec?: Record<string, unknown>; status?: Record<string, unknown> };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string;
  readonly authorization: string;
  readonly body: unknown;
}

/** The status webhooks: refuse with a message, or stamp the new status (user from the bearer token). */
export type StatusHook = (user: string, old: Obj, next: Obj) => string | undefined;

const PREFIX = '/apis/agentwarden.io/v1alpha1';

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  readonly objects = new Map<string, Obj>();
  /** Bearer token -> user name. */
  readonly users = new Map<string, string>([['alice-token', 'alice'], ['agent-token', 'system:serviceaccount:support:support-agent']]);
  statusHook: StatusHook | undefined;
  private version = 100;
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<FakeKubeApi> {
    const to: { api?: FakeKubeApi } = {};
    const server = createServer((req, res) => { void to.api?.handle(req, res); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    to.api = new FakeKubeApi(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return to.api;
  }

  /** Writes a kubeconfig with contexts "alice" (namespace support, current) and "agent" (no namespace). */
  writeKubeconfig(dir: string): string {
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, [
      'apiVersion: v1', 'kind: Config', 'current-context: alice',
      'clusters:', `- name: fake`, `  cluster: {server: "${this.url}", insecure-skip-tls-verify: true}`,
      'users:', '- name: alice', '  user: {token: alice-token}', '- name: agent', '  user: {token: agent-token}',
      'contexts:', '- name: alice', '  context: {cluster: fake, user: alice, namespace: support}', '- name: agent', '  context: {cluster: fake, user: agent}',
      '',
    ].join('\n'));
    return file;
  }

  /** Stores an object as if created earlier (metadata filled in). */
  put(object: Obj): Obj {
    const stored = this.stamp(structuredClone(object));
    this.objects.set(`${String(stored.metadata['namespace'])}/${String(stored.metadata['name'])}`, stored);
    return stored;
  }

  close(): Promise<void> {
    return new Promise((resolve) => { this.server.close(() => { resolve(); }); });
  }

  private stamp(o: Obj): Obj {
    o.metadata['resourceVersion'] = String(++this.version);
    o.metadata['uid'] ??= `uid-${String(o.metadata['name'])}`;
    o.metadata['creationTimestamp'] ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return o;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text === '' ? undefined : JSON.parse(text);
    const url = new URL(req.url ?? '/', this.url);
    const authorization = req.headers.authorization ?? '';
    this.requests.push({ method: req.method ?? '', path: url.pathname, contentType: req.headers['content-type'] ?? '', authorization, body });
    const user = this.users.get(authorization.replace(/^Bearer /, ''));
    if (user === undefined) return status(res, 401, 'Unauthorized', 'Unauthorized');
    const all = /^\/apis\/agentwarden\.io\/v1alpha1\/agentaccessrequests$/.exec(url.pathname);
    const m = /^\/apis\/agentwarden\.io\/v1alpha1\/namespaces\/([^/]+)\/agentaccessrequests(?:\/([^/]+))?(\/status)?$/.exec(url.pathname);
    if (all !== null && req.method === 'GET') return list(res, [...this.objects.values()]);
    if (m === null) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const [, namespace = '', name, sub] = m;
    if (name === undefined) {
      if (req.method === 'GET') return list(res, [...this.objects.values()].filter((o) => o.metadata['namespace'] === namespace));
      if (req.method === 'POST') {
        const o = body as Obj;
        const key = `${namespace}/${String(o.metadata['name'])}`;
        if (this.objects.has(key)) return status(res, 409, 'AlreadyExists', `agentaccessrequests.agentwarden.io "${String(o.metadata['name'])}" already exists`);
        return json(res, 201, this.put({ ...o, metadata: { ...o.metadata, namespace } }));
      }
    }
    const key = `${namespace}/${name ?? ''}`;
    const current = this.objects.get(key);
    if (current === undefined) return status(res, 404, 'NotFound', `agentaccessrequests.agentwarden.io "${name ?? ''}" not found`);
    if (req.method === 'GET' && sub === undefined) return json(res, 200, current);
    if (req.method === 'PATCH' && sub === '/status') {
      if (req.headers['content-type'] !== 'application/merge-patch+json') return status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${String(req.headers['content-type'])}`);
      const patch = body as { metadata?: { resourceVersion?: string }; status?: Record<string, unknown> };
      const precondition = patch.metadata?.resourceVersion;
      if (precondition !== undefined && precondition !== current.metadata['resourceVersion']) {
        return status(res, 409, 'Conflict', `Operation cannot be fulfilled on agentaccessrequests.agentwarden.io "${name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      const next: Obj = { ...structuredClone(current), status: { ...current.status, ...patch.status } };
      const refusal = this.statusHook?.(user, current, next);
      if (refusal !== undefined) return status(res, 403, 'Forbidden', `admission webhook "status.agentaccessrequests.agentwarden.io" denied the request: ${refusal}`);
      this.objects.set(key, this.stamp(next));
      return json(res, 200, next);
    }
    return status(res, 405, 'MethodNotAllowed', `${req.method ?? ''} not allowed`);
  }
}

function json(res: ServerResponse, code: number, value: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

function list(res: ServerResponse, items: Obj[]): void {
  json(res, 200, { apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequestList', metadata: { resourceVersion: '1' }, items });
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export { PREFIX as API_PREFIX };
