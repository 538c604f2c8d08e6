// The token broker's flags of `agentwarden controller` (the chart's oauth.* values):
// documented defaults, each settable, bad values refused with the flag's name.
import { describe, expect, it } from '@jest/globals';
import { CONTROLLER_HELP, ConfigError, readControllerConfig } from '../src/config.js';
import { DEFAULT_OAUTH_OPTIONS } from '../src/oauth/options.js';

describe('the controller oauth flags', () => {
  it('default to Node\'s CAs, a 10s request, 64 KiB answers, 4 fetches at once and 1m between retries, as --help says', () => {
    expect(readControllerConfig([], {}).oauth).toEqual(DEFAULT_OAUTH_OPTIONS);
    expect(DEFAULT_OAUTH_OPTIONS).toMatchObject({ caFile: undefined, requestTimeoutMs: 10_000, maxResponseBytes: 65_536, maxConcurrentFetches: 4, retryMaxMs: 60_000, refreshAt: 0.75 });
    for (const flag of ['--oauth-ca-file', '--oauth-token-timeout', '--oauth-max-response-bytes', '--oauth-max-concurrent-fetches', '--oauth-retry-max']) expect(CONTROLLER_HELP).toContain(flag);
  });

  it('sets each from its flag', () => {
    const config = readControllerConfig(['--oauth-ca-file', '/etc/idp/ca.crt', '--oauth-token-timeout', '3s', '--oauth-max-response-bytes', '4096', '--oauth-max-concurrent-fetches', '2', '--oauth-retry-max', '30s'], {});
    expect(config.oauth).toEqual({ ...DEFAULT_OAUTH_OPTIONS, caFile: '/etc/idp/ca.crt', requestTimeoutMs: 3000, maxResponseBytes: 4096, maxConcurrentFetches: 2, retryMaxMs: 30_000 });
  });

  it('refuses what is not a duration or a count, and an empty CA path', () => {
    expect(() => readControllerConfig(['--oauth-token-timeout', 'soon'], {})).toThrow(new ConfigError('controller: --oauth-token-timeout: "soon" is not a duration above 0 (e.g. 15m, 4h)'));
    expect(() => readControllerConfig(['--oauth-max-concurrent-fetches', '0'], {})).toThrow('--oauth-max-concurrent-fetches');
    expect(() => readControllerConfig(['--oauth-ca-file', ''], {})).toThrow('--oauth-ca-file: empty path');
  });
});
