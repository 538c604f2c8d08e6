// OTLP/HTTP (http/protobuf) export of audit span batches on node:http and
// node:https: the sidecar's default transport.
//
// It does for the sidecar what the SDK's http/protobuf export delegate did
// (@opentelemetry/otlp-exporter-base 0.223: createOtlpHttpExportDelegate,
// its RetryingTransport and HttpExporterTransport), with the same contract:
//   - configuration from OTEL_EXPORTER_OTLP_TRACES_* / OTEL_EXPORTER_OTLP_*
//     (endpoint, headers, timeout, compression, certificates), the
//     signal-specific variable first (otlp-http-options.ts, read by config.ts);
//   - one POST per batch, Content-Type application/x-protobuf, gzip when
//     asked, on a keep-alive agent (https with the CA, client certificate and
//     key when given);
//   - 429, 502, 503 and 504, a timeout and transient network errors are
//     retried, up to 5 times, after Retry-After when the collector sends
//     one, else after a jittered backoff (1 s, x1.5, at most 5 s), all
//     within the export timeout; any other status fails the batch at once;
//   - at most 30 exports in flight; a response body over 4 MiB fails it.
// Differences: a variable the SDK would ignore silently stops the sidecar at
// start with an error naming it (otlp-http-options.ts); the User-Agent names
// the sidecar.
//
// Why not the SDK's: its delegate loads @opentelemetry/core, api,
// semantic-conventions and the exporter base. `make bench-memory` runs the
// sidecar with each (AGENTWARDEN_OTLP_TRANSPORT=sdk is the SDK's, kept as a
// fallback); one run, 2026-12-06 09:05 on a shared machine: 290 modules
// loaded at idle against 397, V8 heap in use at idle 15.9 against 17.2 MiB,
// idle RSS 79.6 against 82.3 MiB; under load the same within the run's
// noise (peak 105.3 against 103.6 MiB, CPU 44.3 against 44.0 µs per
// request). Open question (issue 20): on the loaded machine some runs with
// this transport made 45-110 full GCs under load where the SDK's made none
// (4 of 14 runs against 0 of 11, peak 100-110 against 88-91 MiB; the next
// `make bench-memory`, 09:22, the same: 37 against 0 per 100,000); on the
// quiet machine neither made any (peak 86.6-87.5 against 88.4-89.2 MiB).
// The grpc protocol still goes through the SDK's delegate (exporter.ts).
import type { Agent, ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import type { OtlpHttpOptions } from './otlp-http-options.js';
const { urlToHttpOptions } = process.getBuiltinModule('node:url');

/** The retry policy of the SDK's RetryingTransport. */
const MAX_RETRIES = 5;
const INITIAL_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
const BACKOFF_MULTIPLIER = 1.5;
const JITTER = 0.2;
/** A longer response body fails the export (the SDK's MAX_RESPONSE_BODY_SIZE). */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const RETRYABLE_NETWORK_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH']);
const USER_AGENT = 'agentwarden-sidecar (OTLP/HTTP)';

/** What one attempt came to. */
type Attempt =
  | { readonly status: 'success' }
  | { readonly status: 'retryable'; readonly error: Error; readonly retryInMs: number | undefined }
  | { readonly status: 'failure'; readonly error: Error };

/** Retry-After in ms: delay-seconds or an HTTP date (the SDK's parseRetryAfterToMills). */
export function retryAfterMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Math.max(0, Number(header) * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Why an export failed: the collector's status and the start of its answer. */
export class OtlpExportError extends Error {
  constructor(readonly status: number | undefined, message: string) {
    super(message);
    this.name = 'OtlpExportError';
  }
}

/** Sends OTLP/HTTP protobuf export requests; see the top of this file. */
export class OtlpHttpTransport {
  private client: { agent: Agent; request: (o: RequestOptions, cb: (res: IncomingMessage) => void) => ClientRequest } | undefined;
  private inFlight = 0;
  private readonly idle: (() => void)[] = [];

  constructor(private readonly options: OtlpHttpOptions) {}

  /** POSTs one ExportTraceServiceRequest (retrying as above); done is called once, with undefined on success. */
  send(body: Uint8Array, done: (error: Error | undefined) => void): void {
    if (this.inFlight >= this.options.concurrencyLimit) {
      done(new Error('OTLP export: concurrent export limit reached'));
      return;
    }
    this.inFlight++;
    void this.export(body).catch((e: unknown): Attempt => ({ status: 'failure', error: e instanceof Error ? e : new Error(String(e)) })).then((a) => {
      this.inFlight--;
      if (this.inFlight === 0) for (const resolveIdle of this.idle.splice(0)) resolveIdle();
      done(a.status === 'success' ? undefined : a.error);
    });
  }

  /** Resolves once no export is in flight; closes the kept-alive connections. */
  async shutdown(): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((r) => this.idle.push(r));
    this.client?.agent.destroy();
    this.client = undefined;
  }

  private async export(body: Uint8Array): Promise<Attempt> {
    const deadline = Date.now() + this.options.timeoutMs;
    const payload = this.options.compression === 'gzip' ? await gzip(body) : body;
    let backoff = INITIAL_BACKOFF_MS;
    let attempt = await this.post(payload, this.options.timeoutMs);
    for (let retries = 0; attempt.status === 'retryable' && retries < MAX_RETRIES; retries++) {
      const jittered = Math.min(backoff * (1 + (Math.random() * 2 - 1) * JITTER), MAX_BACKOFF_MS);
      backoff *= BACKOFF_MULTIPLIER;
      const wait = attempt.retryInMs ?? jittered;
      const remaining = deadline - Date.now();
      if (wait > remaining) break;
      await new Promise((r) => setTimeout(r, wait));
      attempt = await this.post(payload, deadline - Date.now());
    }
    return attempt;
  }

  /** node:http or node:https and its keep-alive agent, loaded once (the first export). */
  private agentFor(): { agent: Agent; request: (o: RequestOptions, cb: (res: IncomingMessage) => void) => ClientRequest } {
    if (this.client !== undefined) return this.client;
    if (this.options.url.protocol === 'https:') {
      const https = process.getBuiltinModule('node:https');
      const { ca, cert, key } = this.options;
      this.client = { agent: new https.Agent({ keepAlive: true, ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) }), request: https.request };
    } else {
      const http = process.getBuiltinModule('node:http');
      this.client = { agent: new http.Agent({ keepAlive: true }), request: http.request };
    }
    return this.client;
  }

  /** One POST; never rejects. */
  private async post(payload: Uint8Array, timeoutMs: number): Promise<Attempt> {
    const { agent, request } = this.agentFor();
    const u = this.options.url;
    return new Promise<Attempt>((settle) => {
      let settled = false;
      const finish = (a: Attempt): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        settle(a);
      };
      const req = request({
        // Host (an IPv6 literal without its brackets), port, path and query, user:password as basic auth.
        ...urlToHttpOptions(u), method: 'POST', agent,
        headers: {
          ...this.options.headers,
          'Content-Type': 'application/x-protobuf',
          'Content-Length': String(payload.byteLength),
          'User-Agent': USER_AGENT,
          ...(this.options.compression === 'gzip' ? { 'Content-Encoding': 'gzip' } : {}),
        },
      }, (res) => {
        const status = res.statusCode ?? 0;
        let bytes = 0;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_RESPONSE_BYTES) {
            finish({ status: 'failure', error: new OtlpExportError(status, `OTLP export: response body over ${MAX_RESPONSE_BYTES} bytes`) });
            res.destroy();
            return;
          }
          // The body is read only to report a failure; a success's (partial success counts) is not kept.
          if (status > 299 && chunks.length < 16) chunks.push(chunk);
        });
        const outcome = (error: Error | undefined): Attempt => {
          if (status >= 200 && status <= 299) return { status: 'success' };
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 200);
          const failure = error ?? new OtlpExportError(status, `OTLP export: ${u.href} answered ${status}${res.statusMessage === undefined ? '' : ` ${res.statusMessage}`}${text === '' ? '' : `: ${text}`}`);
          return RETRYABLE_STATUS.has(status)
            ? { status: 'retryable', error: failure, retryInMs: retryAfterMs(headerOf(res, 'retry-after')) }
            : { status: 'failure', error: failure };
        };
        res.on('end', () => { finish(outcome(undefined)); });
        res.on('error', (e: Error) => { finish(outcome(e)); });
      });
      const timer = setTimeout(() => {
        finish({ status: 'retryable', error: new Error(`OTLP export: ${u.href} did not answer within ${Math.round(timeoutMs)} ms`), retryInMs: undefined });
        req.destroy();
      }, Math.max(0, timeoutMs));
      req.on('error', (e: Error) => {
        const code = (e as NodeJS.ErrnoException).code;
        finish(code !== undefined && RETRYABLE_NETWORK_ERRORS.has(code) ? { status: 'retryable', error: e, retryInMs: undefined } : { status: 'failure', error: e });
      });
      req.end(payload);
    });
  }
}

function headerOf(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** zlib is loaded only when compression is on. */
async function gzip(body: Uint8Array): Promise<Buffer> {
  const zlib = process.getBuiltinModule('node:zlib');
  return new Promise((resolveGzip, reject) => {
    zlib.gzip(body, (e, out) => { if (e === null) resolveGzip(out); else reject(e); });
  });
}
