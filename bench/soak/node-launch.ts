// How a running Node process was started, from its /proc cmdline and environ:
// make soak-floor starts its Node floor exactly as bin/agentwarden started the
// sidecar (subject.ts). Pure.
import { basename } from 'node:path';

export interface NodeLaunch {
  readonly node: string;
  /** node's flags, before the script. */
  readonly flags: readonly string[];
  /** The memory settings of its environment (NODE_SETTINGS), those it had. */
  readonly env: Readonly<Record<string, string>>;
}

/** The settings bin/agentwarden gives the sidecar through its environment. */
export const NODE_SETTINGS: readonly string[] = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX', 'MALLOC_TRIM_THRESHOLD_', 'MALLOC_MMAP_THRESHOLD_'];

/** node, its flags and memory settings from a process's /proc cmdline and environ (NUL-separated), up to the CLI's script (run.js). */
export function nodeLaunchOf(cmdline: string, environ: string): NodeLaunch {
  const argv = cmdline.split('\0').filter((a) => a !== '');
  const at = argv.findIndex((a) => basename(a) === 'run.js');
  const node = argv[0];
  if (node === undefined || at < 1) throw new Error(`soak: no node command line with run.js in ${JSON.stringify(argv)}`);
  const env: Record<string, string> = {};
  for (const entry of environ.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && NODE_SETTINGS.includes(entry.slice(0, eq))) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { node, flags: argv.slice(1, at), env };
}
