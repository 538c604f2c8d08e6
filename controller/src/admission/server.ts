// Serves the admission webhooks over HTTPS (node:https) with a certificate
// and key from files, re-read when they change (cert-manager rotates them).
import { readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { createWebhookApp, type WebhookDeps, type WebhookLog } from './app.js';
import { WebhookMetrics } from './metrics.js';

export interface WebhookServerOptions extends WebhookDeps {
  /** "host:port"; ":9443" listens on every interface. */
  readonly listen: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the certificate files are checked for a change, ms. Default 60000. */
  readonly certReloadMs?: number;
}

export interface RunningWebhookServer {
  /** "host:port" actually bound (the port resolved when 0 was asked). */
  readonly address: string;
  readonly metrics: WebhookMetrics;
  /** Times the certificate was reloaded after a change. */
  readonly certReloads: () => number;
  /** The certificate (PEM) served now. */
  readonly certificate: () => Buffer;
  close(): Promise<void>;
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<RunningWebhookServer> {
  const log: WebhookLog = options.log ?? ((): void => undefined);
  const metrics = options.metrics ?? new WebhookMetrics();
  const readPair = (): { cert: Buffer; key: Buffer } => {
    try {
      return { cert: readFileSync(options.certFile), key: readFileSync(options.keyFile) };
    } catch (e: unknown) {
      throw new Error(`webhook: cannot read --webhook-cert ${options.certFile} / --webhook-key ${options.keyFile}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  const stamp = (): string => {
    try {
      return [options.certFile, options.keyFile].map((f) => { const s = statSync(f); return `${s.mtimeMs}:${s.size}`; }).join('|');
    } catch {
      return 'missing';
    }
  };
  const app = createWebhookApp({ ...options, metrics });
  const first = readPair();
  let served = first.cert;
  const server: Server = createServer({ ...first, minVersion: 'TLSv1.2' }, app);
  // The API server's webhook timeout is at most 30 s; nothing here should take longer.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  let reloads = 0;
  let lastStamp = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === lastStamp) return;
    try {
      const pair = readPair();
      server.setSecureContext({ ...pair, minVersion: 'TLSv1.2' });
      served = pair.cert;
      lastStamp = now;
      reloads++;
      log('info', 'webhook certificate reloaded', { cert: options.certFile });
    } catch (e: unknown) {
      // A half-written pair: keep serving the old one and try again next time.
      log('warn', 'webhook certificate reload failed; keeping the previous one', { error: e instanceof Error ? e.message : String(e) });
    }
  }, options.certReloadMs ?? 60_000);
  timer.unref();

  const colon = options.listen.lastIndexOf(':');
  const host = options.listen.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(options.listen.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    clearInterval(timer);
    throw new Error(`webhook: --webhook-listen "${options.listen}" is not host:port`);
  }
  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error): void => { clearInterval(timer); reject(new Error(`webhook: cannot listen on ${options.listen}: ${e.message}`, { cause: e })); };
    server.once('error', failed);
    server.listen(port, host === '' ? undefined : host, () => { server.off('error', failed); resolve(); });
  });
  server.on('error', (e) => { log('error', 'webhook server error', { error: e.message }); });
  server.on('tlsClientError', (e) => { log('debug', 'webhook TLS handshake failed', { error: e.message }); });
  const bound = server.address();
  const address = `${host === '' ? '0.0.0.0' : host.includes(':') ? `[${host}]` : host}:${bound !== null && typeof bound === 'object' ? bound.port : port}`;
  log('info', 'admission webhooks listening', { address });
  return {
    address,
    metrics,
    certReloads: () => reloads,
    certificate: () => served,
    close: () => new Promise<void>((resolve) => {
      clearInterval(timer);
      server.close(() => { resolve(); });
      server.closeAllConnections();
    }),
  };
}
