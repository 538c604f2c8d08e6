// Preloaded (node --import) into a sidecar that `make bench-memory` starts only
// to count what it loads: every module file the ESM loader or require() loads,
// and Node's own internal modules (process.moduleLoadList), written to stderr
// when the process gets SIGUSR2. The memory figures come from other starts, without this hook.
import { registerHooks } from 'node:module';

const files = new Set<string>();
registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) files.add(url);
    return nextLoad(url, context);
  },
});
process.on('SIGUSR2', () => {
  // process.moduleLoadList: Node's undocumented list of what it loaded ("NativeModule x", "Internal Binding y").
  const list = (process as unknown as { moduleLoadList: readonly string[] }).moduleLoadList;
  const internal = list.filter((m) => m.startsWith('NativeModule ')).length;
  process.stderr.write(`bench-memory: modules_loaded=${files.size} node_internal_modules=${internal}\n`);
});
