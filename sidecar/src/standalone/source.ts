// Standalone mode: compile local policy files for the pod described by a local
// Pod manifest, and recompile when they change. A failing edit keeps the last
// good snapshot in force and says why (log, /readyz, metrics).
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { compileSnapshot, loadSnapshot, type LoadedSnapshot, type SecretResolver } from '../../../policy/src/index.js';
import { loadPod, loadPolicies } from '../../../policy/io/manifests.js';

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
      return new Uint8Array(readFileSync(join(dir, name, key)));
    } catch {
      return undefined;
    }
  };
}

/** Compiles and loads the local files once; throws PolicyError/InputError naming the file and field. */
export function compileLocal(options: StandaloneOptions): LoadedSnapshot {
  const pod = loadPod(options.podFile);
  const policies = loadPolicies(options.policyPaths, pod.namespace);
  return loadSnapshot(compileSnapshot(policies, pod, { resolveSecret: fileSecrets(options.secretsDir) }));
}

export interface Watcher {
  close(): void;
}

/**
 * Calls `onChange` once things have been quiet for `debounceMs` after any change
 * under the watched paths (folders recursively).
 */
export function watchPaths(paths: readonly string[], debounceMs: number, onChange: () => void): Watcher {
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
  };
  const watchers: FSWatcher[] = paths.map((p) => watch(p, { recursive: true, persistent: false }, fire));
  for (const w of watchers) w.on('error', fire);
  return {
    close(): void {
      if (timer !== undefined) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
