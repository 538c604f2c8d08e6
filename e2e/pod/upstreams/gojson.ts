// The Go upstream (gojson-upstream/, built by its build.sh into .cache/bin) as
// a child process of the test: what it decoded, one record per JSON-RPC message.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BIN } from '../pod.js';
import { formatAddress, type ListenAddress } from './listen.js';
import { Recorder } from './recorder.js';

export interface GoJsonReceived {
  readonly index: number;
  readonly httpMethod: string;
  readonly target: string;
  readonly authorization: string | null;
  readonly method: string | null;
  readonly tool: string | null;
  readonly arguments: unknown;
  readonly error?: string;
}

export interface RunningGoJson {
  readonly recorder: Recorder<GoJsonReceived>;
  readonly received: readonly GoJsonReceived[];
  close(): Promise<void>;
}

export function startGoJsonUpstream(listen: readonly ListenAddress[]): Promise<RunningGoJson> {
  const child = spawn(join(BIN, 'gojson-upstream'), listen.flatMap((l) => ['--listen', formatAddress({ address: l.host, port: l.port })]), { stdio: ['ignore', 'pipe', 'pipe'] });
  const recorder = new Recorder<GoJsonReceived>();
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-4096); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  return new Promise((resolve, reject) => {
    let ready = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const value = JSON.parse(line) as Record<string, unknown>;
      if (!ready) {
        ready = true;
        if (value['ready'] !== true) { reject(new Error(`gojson-upstream: ${line} ${stderr}`)); return; }
        resolve({
          recorder,
          get received() { return recorder.received; },
          async close() { child.kill('SIGTERM'); await exited; },
        });
        return;
      }
      recorder.add(value as unknown as GoJsonReceived);
    });
    child.once('exit', (code) => { if (!ready) reject(new Error(`gojson-upstream exited ${code}: ${stderr}`)); });
  });
}
