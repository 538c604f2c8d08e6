// An HTTPS upstream (HTTP/1.1 and h2 by ALPN) with a leaf certificate for the given names,
// signed by a test CA (test-ca.ts). It records what the HTTP upstream records, plus the SNI
// and the ALPN protocol of the connection.
//
//   node dist/e2e/pod/upstreams/https-upstream.js --listen 10.0.0.2:8443 --name api.example.com [--name ...]
//        [--ca-dir DIR] [--status /flaky=503 ...]
//
// stdout: {"ready":true,"kind":"https","listen":[...],"caFile":...,"certFile":...,"keyFile":...},
// then one HttpReceived per line. --ca-dir defaults to a new temporary folder; several upstreams
// given the same --ca-dir share one CA.
import { readFile } from 'node:fs/promises';
import { createSecureServer } from 'node:http2';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { closeOnSignal, listenFlags, printLine, runMain } from './cli.js';
import { parseStatusRule, recordingHandlers, type HttpReceived, type StatusRule } from './http-recording.js';
import { formatAddress, listenAll, type ListenAddress } from './listen.js';
import { Recorder } from './recorder.js';
import { runningServer, type RunningServer } from './running.js';
import { makeTestCa, type TestCaFiles } from './test-ca.js';

export interface HttpsUpstreamOptions {
  readonly listen: readonly ListenAddress[];
  /** The certificate's subject alternative names (DNS names or IPs). */
  readonly names: readonly string[];
  /** Where the CA and the leaf are written (DIR/ca/ca.crt is shared by every upstream given DIR). */
  readonly caDir: string;
  readonly statusByPrefix?: readonly StatusRule[];
  readonly onReceived?: (received: HttpReceived) => void;
}

export interface RunningHttpsUpstream extends RunningServer<HttpReceived>, TestCaFiles {}

export async function startHttpsUpstream(options: HttpsUpstreamOptions): Promise<RunningHttpsUpstream> {
  const files = await makeTestCa(options.caDir, options.names);
  const [key, cert] = await Promise.all([readFile(files.keyFile), readFile(files.certFile)]);
  const recorder = new Recorder<HttpReceived>(options.onReceived);
  const handlers = recordingHandlers(recorder, options.statusByPrefix ?? []);
  const listening = await listenAll(() => createSecureServer({ key, cert, allowHTTP1: true }, handlers.request).on('connect', handlers.connect), options.listen);
  return Object.assign(runningServer(listening, recorder), files);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string', multiple: true },
      name: { type: 'string', multiple: true },
      'ca-dir': { type: 'string' },
      status: { type: 'string', multiple: true },
    },
  });
  const running = await startHttpsUpstream({
    listen: listenFlags(values.listen),
    names: values.name ?? [],
    caDir: values['ca-dir'] ?? mkdtempSync(join(tmpdir(), 'agentwarden-test-ca-')),
    statusByPrefix: (values.status ?? []).map(parseStatusRule),
    onReceived: printLine,
  });
  const { caFile, certFile, keyFile } = running;
  closeOnSignal(running.close);
  printLine({ ready: true, kind: 'https', listen: running.addresses.map(formatAddress), caFile, certFile, keyFile });
}

if (import.meta.main) runMain(main);
