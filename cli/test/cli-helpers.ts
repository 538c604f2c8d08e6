// Test helpers for the CLI: main() run in-process with captured output, and a
// temporary folder for the files a test writes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/main.js';

// The compiled test runs from dist/cli/test/: the repository root is three levels up.
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export function run(...argv: string[]): Run {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

export interface TempFiles {
  /** Writes `text` to a file in the folder and returns its path. */
  readonly file: (name: string, text: string) => string;
  /** The path of `name` in the folder (nothing written). */
  readonly path: (name: string) => string;
}

/** A temporary folder made before the suite's tests and removed after them. */
export function useTempFiles(prefix: string): TempFiles {
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });
  return {
    file: (name, text) => {
      const path = join(tmp, name);
      writeFileSync(path, text);
      return path;
    },
    path: (name) => join(tmp, name),
  };
}
