// make soak-floor's Node floor runs on the sidecar's own launch (node-launch.ts):
// node, the flags before the CLI's script, and the launcher's memory settings,
// read from /proc of a sidecar bin/agentwarden started.
import { describe, expect, it } from '@jest/globals';
import { nodeLaunchOf } from '../node-launch.js';

const nul = (parts: readonly string[]): string => `${parts.join('\0')}\0`;

describe('nodeLaunchOf', () => {
  it('takes node, the flags before run.js and the memory settings, and nothing of the CLI or the rest of the environment', () => {
    const launch = nodeLaunchOf(
      nul(['/repo/node_modules/.bin/node', '--no-maglev', '--no-parallel-scavenge', '/repo/dist/cli/src/run.js', 'sidecar', '--listen', '127.0.0.1:1']),
      nul(['PATH=/usr/bin', 'NODE_OPTIONS=--max-semi-space-size=2 --import=file:///t.js', 'MALLOC_ARENA_MAX=2', 'MALLOC_TRIM_THRESHOLD_=131072', 'OTEL_TRACES_EXPORTER=otlp', 'WEIRD=a=b']),
    );
    expect(launch).toEqual({
      node: '/repo/node_modules/.bin/node',
      flags: ['--no-maglev', '--no-parallel-scavenge'],
      env: { NODE_OPTIONS: '--max-semi-space-size=2 --import=file:///t.js', MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072' },
    });
  });

  it('keeps no flag when node had none', () => {
    expect(nodeLaunchOf(nul(['node', 'run.js', 'sidecar']), '').flags).toEqual([]);
  });

  it('refuses a command line that is not node running the CLI', () => {
    expect(() => nodeLaunchOf(nul(['/usr/bin/opa', 'run']), '')).toThrow(/no node command line with run\.js/);
    expect(() => nodeLaunchOf(nul(['run.js']), '')).toThrow(/no node command line with run\.js/);
    expect(() => nodeLaunchOf('', '')).toThrow(/no node command line/);
  });
});
