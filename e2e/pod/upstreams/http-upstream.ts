// A plain-HTTP upstream: HTTP/1.1, and h2c with prior knowledge on the same port (the first
// bytes of a connection tell the HTTP/2 preface from an HTTP/1 request line).
//
//   node dist/e2e/pod/upstreams/http-upstream.js --listen 10.0.0.1:8080 [--listen ...] [--status /flaky=503 ...]
//
// stdout: {"ready":true,"kind":"http","listen":["10.0.0.1:8080"]}, then one HttpReceived per line.
import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { closeOnSignal, listenFlags, printLine, runMain } from './cli.js';
import { parseStatusRule, recordingHandlers, type HttpReceived, type StatusRule } from './http-recording.js';
import { formatAddress, listenAll, type ListenAddress } from './listen.js';
import { Recorder } from './recorder.js';
import { runningServer, type RunningServer } from './running.js';

export interface HttpUpstreamOptions {
  readonly listen: readonly ListenAddress[];
  /** Status per path prefix, longest prefix wins; 200 otherwise. */
  readonly statusByPrefix?: readonly StatusRule[];
  /** Called with each request as it is recorded (the CLI prints it). */
  readonly onReceived?: (received: HttpReceived) => void;
}

export type RunningHttpUpstream = RunningServer<HttpReceived>;

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export async function startHttpUpstream(options: HttpUpstreamOptions): Promise<RunningHttpUpstream> {
  const recorder = new Recorder<HttpReceived>(options.onReceived);
  const handlers = recordingHandlers(recorder, options.statusByPrefix ?? []);
  const http1 = createHttp1Server(handlers.request).on('connect', handlers.connect);
  const http2 = createHttp2Server(handlers.request);
  const makeServer = (): Server =>
    createNetServer((socket: Socket) => {
      socket.once('data', (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        const n = Math.min(first.length, H2_PREFACE.length);
        const isH2 = first.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
        if (isH2) {
          http2.emit('connection', socket);
        } else {
          http1.emit('connection', socket);
          socket.resume();
        }
      });
    });
  const listening = await listenAll(makeServer, options.listen);
  return runningServer(listening, recorder);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { listen: { type: 'string', multiple: true }, status: { type: 'string', multiple: true } },
  });
  const running = await startHttpUpstream({
    listen: listenFlags(values.listen),
    statusByPrefix: (values.status ?? []).map(parseStatusRule),
    onReceived: printLine,
  });
  closeOnSignal(running.close);
  printLine({ ready: true, kind: 'http', listen: running.addresses.map(formatAddress) });
}

if (import.meta.main) runMain(main);
