// The push discipline flags of `agentwarden controller` (issue 20): the bound
// on pushes in flight and the debounce, with their documented defaults, each
// settable, and bad values refused naming the flag.
import { describe, expect, it } from '@jest/globals';
import { CONTROLLER_HELP, ConfigError, readControllerConfig } from '../src/config.js';
import { DEFAULT_MAX_CONCURRENT_PUSHES } from '../src/distribution/push-queue.js';

describe('the controller push discipline flags', () => {
  it('default to 100 pushes in flight and a 100ms/1s debounce, as --help says', () => {
    const config = readControllerConfig([], {});
    expect(config.maxConcurrentPushes).toBe(DEFAULT_MAX_CONCURRENT_PUSHES);
    expect(DEFAULT_MAX_CONCURRENT_PUSHES).toBe(100);
    expect([config.debounceQuietMs, config.debounceMaxMs]).toEqual([100, 1000]);
    expect(CONTROLLER_HELP).toMatch(/--max-concurrent-pushes <n>\s+snapshot pushes in flight at once.*\(default: 100\)/s);
    expect(CONTROLLER_HELP).toContain('--debounce-quiet');
    expect(CONTROLLER_HELP).toContain('--debounce-max');
  });

  it('sets each from its flag', () => {
    const config = readControllerConfig(['--max-concurrent-pushes', '8', '--debounce-quiet', '250ms', '--debounce-max', '2s'], {});
    expect(config.maxConcurrentPushes).toBe(8);
    expect([config.debounceQuietMs, config.debounceMaxMs]).toEqual([250, 2000]);
  });

  it('refuses a bound that is not a whole number above 0, a bad duration, and a max below the quiet time', () => {
    expect(() => readControllerConfig(['--max-concurrent-pushes', '0'], {})).toThrow(new ConfigError('controller: --max-concurrent-pushes: "0" is not a whole number above 0'));
    expect(() => readControllerConfig(['--debounce-quiet', 'soon'], {})).toThrow(new ConfigError('controller: --debounce-quiet: "soon" is not a duration above 0 (e.g. 15m, 4h)'));
    expect(() => readControllerConfig(['--debounce-quiet', '2s', '--debounce-max', '500ms'], {})).toThrow(new ConfigError('controller: --debounce-max 500ms is below --debounce-quiet 2000ms'));
  });
});
