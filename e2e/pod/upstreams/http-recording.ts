// The request handler that the HTTP and HTTPS upstreams share: it records exactly what
// arrived (method, the raw request-target, Host and :authority, the raw header list, the body,
// which listen address took it, the peer, SNI and ALPN over TLS), then answers
// {"ok":...,"path":...} with the status configured for the longest matching path prefix.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Recorder } from './recorder.js';

/** How much of a body is kept as text; the length counts all of it. */
export const BODY_TEXT_LIMIT = 64 * 1024;

export interface StatusRule {
  readonly prefix: string;
  readonly status: number;
}

export interface HttpReceived {
  readonly seq: number;
  readonly time: string;
  readonly httpVersion: string;
  readonly method: string;
  /** The request-target as received (req.url): origin-form, absolute-form or :path. */
  readonly target: string;
  readonly host: string | null;
  readonly authority: string | null;
  /** Header names and values in arrival order, as on the wire (h2: pseudo-headers too). */
  readonly rawHeaders: readonly string[];
  readonly body: { readonly length: number; readonly text: string; readonly truncated: boolean };
  readonly local: { readonly address: string; readonly port: number };
  readonly remote: { readonly address: string; readonly port: number };
  readonly tls: { readonly sni: string | null; readonly alpn: string | null } | null;
  /** The status this server answered. */
  readonly status: number;
}

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

/** "/flaky=503" → { prefix: "/flaky", status: 503 }. */
export function parseStatusRule(text: string): StatusRule {
  const at = text.lastIndexOf('=');
  const status = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new Error(`--status "${text}": want PATH_PREFIX=STATUS, e.g. /flaky=503`);
  }
  return { prefix: text.slice(0, at), status };
}

export function statusFor(target: string, rules: readonly StatusRule[]): number {
  let best: StatusRule | undefined;
  for (const rule of rules) {
    if (target.startsWith(rule.prefix) && (best === undefined || rule.prefix.length > best.prefix.length)) best = rule;
  }
  return best?.status ?? 200;
}

export interface RecordingHandlers {
  readonly request: (req: AnyRequest, res: AnyResponse) => void;
  /** For an HTTP/1 server's 'connect' event: CONNECT (which Node's fetch sends to an HTTP_PROXY even for http:// URLs) is recorded and answered 405. */
  readonly connect: (req: IncomingMessage, socket: Duplex) => void;
}

const CONNECT_STATUS = 405;

export function recordingHandlers(recorder: Recorder<HttpReceived>, rules: readonly StatusRule[]): RecordingHandlers {
  let seq = 0;
  const connect = (req: IncomingMessage, socket: Duplex): void => {
    recorder.add(describeRequest(++seq, req, { length: 0, text: '', truncated: false }, CONNECT_STATUS));
    socket.on('error', () => socket.destroy());
    socket.end(`HTTP/1.1 ${CONNECT_STATUS} Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  };
  const request = (req: AnyRequest, res: AnyResponse): void => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (kept < BODY_TEXT_LIMIT) {
        const part = chunk.subarray(0, BODY_TEXT_LIMIT - kept);
        chunks.push(part);
        kept += part.length;
      }
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const target = req.url ?? '';
      const status = statusFor(target, rules);
      recorder.add(describeRequest(++seq, req, { length, text: Buffer.concat(chunks).toString('utf8'), truncated: length > kept }, status));
      const body = JSON.stringify({ ok: status < 400, path: target, status });
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      if (res instanceof Http2ServerResponse) res.writeHead(status, headers).end(body);
      else res.writeHead(status, headers).end(body);
    });
  };
  return { request, connect };
}

function describeRequest(seq: number, req: AnyRequest, body: HttpReceived['body'], status: number): HttpReceived {
  const socket = req.socket as AnyRequest['socket'] & { servername?: string | false; alpnProtocol?: string | false; encrypted?: boolean };
  return {
    seq,
    time: new Date().toISOString(),
    httpVersion: req.httpVersion,
    method: req.method ?? '',
    target: req.url ?? '',
    host: headerValue(req.headers.host),
    authority: headerValue(req.headers[':authority']),
    rawHeaders: [...req.rawHeaders],
    body,
    local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
    remote: { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
    tls: socket.encrypted === true ? { sni: socket.servername || null, alpn: socket.alpnProtocol || null } : null,
    status,
  };
}

export function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}
