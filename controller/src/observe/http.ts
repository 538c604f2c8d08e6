// The controller's plain HTTP port: /healthz, /readyz, /metrics and /debug/syncz
// (read-only: which snapshot each connected pod runs; `agentwarden status`).
import type { Server } from 'node:http';
import express from 'express';
import { readiness } from './readiness.js';
import { SYNCZ_PATH, type SynczReport } from '../../../common/syncz.js';
import { renderMetrics, type MetricsSources, type NamedInformer } from './metrics.js';

export interface ObserveServerOptions {
  /** host:port; port 0 picks one. */
  readonly listen: string;
  /** The caches /readyz requires. */
  readonly readyInformers: readonly NamedInformer[];
  readonly metrics: MetricsSources;
  /** /debug/syncz's report; absent: 404. */
  readonly syncz?: () => SynczReport;
}

export interface RunningObserveServer {
  /** host:port actually bound. */
  readonly address: string;
  close(): Promise<void>;
}

export async function startObserveServer(o: ObserveServerOptions): Promise<RunningObserveServer> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok\n'); });
  app.get('/readyz', (_req, res) => {
    const r = readiness(o.readyInformers);
    if (r.ready) res.type('text/plain').send('ready\n');
    else res.status(503).type('text/plain').send(`${r.message}\n`);
  });
  app.get(SYNCZ_PATH, (_req, res) => {
    if (o.syncz === undefined) res.status(404).type('text/plain').send('no distribution server\n');
    else res.json(o.syncz());
  });
  app.get('/metrics', (_req, res) => { res.type('text/plain; version=0.0.4').send(renderMetrics(o.metrics)); });
  const [host, port] = splitHostPort(o.listen);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err === undefined ? resolve(s) : reject(err)));
  });
  const addr = server.address();
  return {
    address: `${host === '' ? '0.0.0.0' : host}:${addr !== null && typeof addr === 'object' ? addr.port : port}`,
    close: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); server.closeAllConnections(); }),
  };
}

function splitHostPort(listen: string): [string, number] {
  const colon = listen.lastIndexOf(':');
  return [listen.slice(0, colon).replace(/^\[|\]$/g, ''), Number(listen.slice(colon + 1))];
}
