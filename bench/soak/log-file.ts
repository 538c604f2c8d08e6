// A growing log file read in whole lines as it grows (gc-log.ts LogTail), for
// make soak and make bench-gc, which read V8's --trace-gc lines from the
// sidecar's log while it runs.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { LogTail } from './gc-log.js';

export function tailOf(path: string): { readonly tail: LogTail; close(): void } {
  const fd = openSync(path, 'r');
  const tail = new LogTail((from) => {
    const buf = Buffer.alloc(Math.max(0, fstatSync(fd).size - from));
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, from));
  });
  return { tail, close: () => { closeSync(fd); } };
}
