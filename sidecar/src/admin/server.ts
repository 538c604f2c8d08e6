// Admin HTTP (node:http): /healthz, /readyz, /metrics, and /debug/snapshot when
// --debug-snapshot asks for it (never in an injected pod).
//
// Four fixed GET routes need no framework: until 2026-12-06 this was express,
// whose module graph (express, router, body-parser, qs, iconv-lite...) added
// about 9 MB of heap and 20 MB of RSS to every sidecar at idle (issue 20;
// `make bench-memory` prints the idle figure).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { PolicyState } from '../state.js';
import type { SidecarMetrics } from '../metrics.js';
import type { SpanCounters } from '../telemetry/tracing.js';
import type { AuthzServerStats } from '../authz/server-api.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../../common/prometheus.js';
const { createServer } = process.getBuiltinModule('node:http');

export interface AdminDeps {
  readonly state: PolicyState;
  readonly metrics: SidecarMetrics;
  readonly spans: SpanCounters;
  /** The Check server's counters. */
  readonly authz: () => AuthzServerStats;
  /** Serve /debug/snapshot to loopback clients (--debug-snapshot); otherwise it is not found. */
  readonly debugSnapshot: boolean;
  /** Why the last policy load failed, while the previous snapshot stays in force. */
  readonly lastError: () => string | undefined;
  /** Where snapshots come from and how that is going ("standalone", "controller …: synced"). */
  readonly source: () => string;
}

export interface AdminServer {
  readonly address: string;
  close(): Promise<void>;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': type, 'content-length': String(bytes.length) });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

/** The admin routes: GET (and HEAD) only. */
export function adminHandler(deps: AdminDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const known = path === '/healthz' || path === '/readyz' || path === '/metrics' || (deps.debugSnapshot && path === '/debug/snapshot');
    if (!known) {
      send(req, res, 404, TEXT, `not found: ${path ?? ''}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(req, res, 405, TEXT, `method ${req.method ?? ''} not allowed on ${path ?? ''}\n`);
      return;
    }
    switch (path) {
      case '/healthz':
        send(req, res, 200, TEXT, 'ok\n');
        return;
      case '/readyz': {
        const s = deps.state.snapshot;
        if (s === undefined) send(req, res, 503, TEXT, `not ready: no policy snapshot loaded\nsource: ${deps.source()}${lastErrorLine(deps)}\n`);
        else send(req, res, 200, TEXT, `ready: snapshot ${s.version}\nsource: ${deps.source()}${lastErrorLine(deps)}\n`);
        return;
      }
      case '/metrics':
        send(req, res, 200, PROMETHEUS_CONTENT_TYPE, deps.metrics.render({
          ready: deps.state.snapshot !== undefined,
          snapshotVersion: deps.state.snapshot?.version ?? '',
          spansExported: deps.spans.exported,
          spansDropped: deps.spans.dropped,
          authz: deps.authz(),
          sessions: deps.state.sessions.stats(),
        }));
        return;
      default:
        serveSnapshot(req, res, deps.state).catch((e: unknown) => {
          if (!res.headersSent) send(req, res, 500, JSON_TYPE, JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
        });
    }
  };
}

/** /debug/snapshot: the snapshot in force without credential values, to loopback clients only. */
async function serveSnapshot(req: IncomingMessage, res: ServerResponse, state: PolicyState): Promise<void> {
  // The admin port may listen on the pod IP (for the kubelet's probes); the snapshot is for local eyes only.
  const from = req.socket.remoteAddress ?? '';
  if (!(from === '::1' || from.startsWith('127.') || from.startsWith('::ffff:127.'))) {
    send(req, res, 403, JSON_TYPE, JSON.stringify({ error: '/debug/snapshot is served to loopback clients only' }));
    return;
  }
  const s = state.snapshot;
  if (s === undefined) {
    send(req, res, 404, JSON_TYPE, JSON.stringify({ error: 'no policy snapshot loaded' }));
    return;
  }
  // Loaded on first use: only a sidecar started with --debug-snapshot ever serves it.
  const [{ toJson }, { SnapshotSchema }] = await Promise.all([import('@bufbuild/protobuf'), import('../../../proto/gen/agentwarden/v1/snapshot_pb.js')]);
  // Credential values never leave the process: only whether each is resolved.
  const redacted = { ...s.snapshot, credentials: s.snapshot.credentials.map((c) => ({ ...c, value: new Uint8Array(0) })) };
  send(req, res, 200, JSON_TYPE, JSON.stringify(toJson(SnapshotSchema, redacted)));
}

function lastErrorLine(deps: AdminDeps): string {
  const e = deps.lastError();
  return e === undefined ? '' : `\nlast policy load failed (previous snapshot kept): ${e}`;
}

export async function startAdminServer(listen: string, deps: AdminDeps): Promise<AdminServer> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(colon + 1));
  const server: Server = createServer(adminHandler(deps));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: Error) => { reject(new Error(`admin: cannot listen on ${listen}: ${err.message}`, { cause: err })); });
    server.listen(port, host, () => { resolve(); });
  });
  const addr = server.address();
  const bound = addr !== null && typeof addr === 'object' ? `${host.includes(':') ? `[${host}]` : host}:${addr.port}` : listen;
  return {
    address: bound,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
