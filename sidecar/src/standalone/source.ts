// Standalone mode: compile local policy files for the pod described by a local
// Pod manifest, and recompile when they change. A failing edit keeps the last
// good snapshot in force and says why (log, /readyz, metrics).
import type { FSWatcher } from 'node:fs';
import { compileSnapshot, loadSnapshot, type LoadedSnapshot, type SecretResolver, type SecretRevision } from '../../../policy/src/index.js';
import { loadPod, loadPolicies } from '../../../policy/io/manifests.js';
const { readFileSync, readdirSync, statSync, watch } = process.getBuiltinModule('node:fs');
const nodePath = process.getBuiltinModule('node:path');

export interface StandaloneOptions {
  readonly policyPaths: readonly string[];
  readonly podFile: string;
  readonly secretsDir: string | undefined;
}

/** Secrets mounted as files: <dir>/<secret-name>/<key>, as a Secret volume lays them out. */
export function fileSecrets(dir: string | undefined): SecretResolver {
  return (_namespace, name, key) => {
    if (dir === undefined || name.includes('/') || key.includes('/') || name.startsWith('.') || key.startsWith('.')) return undefined;
    try {
      return new Uint8Array(readFileSync(nodePath.join(dir, name, key)));
    } catch {
      return undefined;
    }
  };
}

/** A mounted secret file's stamp (modification time and size): the version changes when it is rotated. */
export function fileSecretRevision(dir: string | undefined): SecretRevision {
  return (_namespace, name, key) => {
    if (dir === undefined || name.includes('/') || key.includes('/')) return undefined;
    try {
      const st = statSync(nodePath.join(dir, name, key));
      return `${st.mtimeMs}:${st.size}`;
    } catch {
      return undefined;
    }
  };
}

/** Compiles and loads the local files once; throws PolicyError/InputError naming the file and field. */
export function compileLocal(options: StandaloneOptions): LoadedSnapshot {
  const pod = loadPod(options.podFile);
  const policies = loadPolicies(options.policyPaths, pod.namespace);
  return loadSnapshot(compileSnapshot(policies, pod, { resolveSecret: fileSecrets(options.secretsDir), secretRevision: fileSecretRevision(options.secretsDir) }));
}

export interface Watcher {
  close(): void;
}

/**
 * Calls `onChange` once things have been quiet for `debounceMs` after any change
 * under the watched paths. Watches folders, not files, and not recursively:
 * Node's recursive fs.watch stops reporting after a file is replaced by rename
 * (what editors, git and the kubelet's ConfigMap/Secret "..data" symlink swap
 * do). A file is followed through its folder; folders are re-scanned for new
 * sub-folders on every change.
 */
export function watchPaths(paths: readonly string[], debounceMs: number, onChange: () => void): Watcher {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const watchers = new Map<string, FSWatcher>();
  const arm = (): void => {
    const wanted = new Set(paths.flatMap(foldersOf));
    for (const [dir, w] of watchers) {
      if (!wanted.has(dir)) {
        w.close();
        watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, fire);
        w.on('error', () => {
          w.close();
          watchers.delete(dir);
          fire();
        });
        watchers.set(dir, w);
      } catch {
        // The folder vanished between the scan and the watch: the next change re-arms.
      }
    }
  };
  const fire = (): void => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      arm();
      onChange();
    }, debounceMs);
  };
  arm();
  return {
    close(): void {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/** The folders to watch for `path`: a folder and its sub-folders, or a file's folder. */
function foldersOf(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    return [nodePath.dirname(path)];
  }
  if (!st.isDirectory()) return [nodePath.dirname(path)];
  const out = [path];
  try {
    for (const e of readdirSync(path, { withFileTypes: true })) {
      if (e.isDirectory()) out.push(...foldersOf(nodePath.join(path, e.name)));
    }
  } catch {
    // unreadable: the folder itself is still watched
  }
  return out;
}
