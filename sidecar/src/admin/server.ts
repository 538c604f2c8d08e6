// Admin HTTP (express): /healthz, /readyz, /metrics, and /debug/snapshot when
// --debug-snapshot asks for it (never in an injected pod).
import type { Server } from 'node:http';
import express from 'express';
import { toJson } from '@bufbuild/protobuf';
import { SnapshotSchema } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import type { PolicyState } from '../state.js';
import type { SidecarMetrics } from '../metrics.js';
import type { SpanCounters } from '../telemetry/tracing.js';
import type { AuthzServerStats } from '../authz/server-api.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../../common/prometheus.js';

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

export function adminApp(deps: AdminDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const s = deps.state.snapshot;
    if (s === undefined) {
      res.status(503).type('text/plain').send(`not ready: no policy snapshot loaded\nsource: ${deps.source()}${lastErrorLine(deps)}\n`);
      return;
    }
    res.type('text/plain').send(`ready: snapshot ${s.version}\nsource: ${deps.source()}${lastErrorLine(deps)}\n`);
  });
  app.get('/metrics', (_req, res) => {
    res.type(PROMETHEUS_CONTENT_TYPE).send(deps.metrics.render({
      ready: deps.state.snapshot !== undefined,
      snapshotVersion: deps.state.snapshot?.version ?? '',
      spansExported: deps.spans.exported,
      spansDropped: deps.spans.dropped,
      authz: deps.authz(),
      sessions: deps.state.sessions.stats(),
    }));
  });
  if (deps.debugSnapshot) serveSnapshot(app, deps.state);
  return app;
}

/** /debug/snapshot: the snapshot in force without credential values, to loopback clients only. */
function serveSnapshot(app: express.Express, state: PolicyState): void {
  app.get('/debug/snapshot', (req, res) => {
    // The admin port may listen on the pod IP (for the kubelet's probes); the snapshot is for local eyes only.
    const from = req.socket.remoteAddress ?? '';
    if (!(from === '::1' || from.startsWith('127.') || from.startsWith('::ffff:127.'))) {
      res.status(403).json({ error: '/debug/snapshot is served to loopback clients only' });
      return;
    }
    const s = state.snapshot;
    if (s === undefined) {
      res.status(404).json({ error: 'no policy snapshot loaded' });
      return;
    }
    // Credential values never leave the process: only whether each is resolved.
    const redacted = { ...s.snapshot, credentials: s.snapshot.credentials.map((c) => ({ ...c, value: new Uint8Array(0) })) };
    res.json(toJson(SnapshotSchema, redacted));
  });
}

function lastErrorLine(deps: AdminDeps): string {
  const e = deps.lastError();
  return e === undefined ? '' : `\nlast policy load failed (previous snapshot kept): ${e}`;
}

export async function startAdminServer(listen: string, deps: AdminDeps): Promise<AdminServer> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(colon + 1));
  const app = adminApp(deps);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err === undefined ? resolve(s) : reject(new Error(`admin: cannot listen on ${listen}: ${err.message}`, { cause: err }))));
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
