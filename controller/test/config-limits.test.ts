// The cache-limit flags of `agentwarden controller`: documented defaults,
// each settable, and a value that is not a whole number above 0 refused
// with the flag's name.
import { describe, expect, it } from '@jest/globals';
import { CONTROLLER_HELP, ConfigError, readControllerConfig } from '../src/config.js';
import { DEFAULT_CACHE_LIMITS } from '../src/kube/limits.js';

describe('the controller cache-limit flags', () => {
  it('default to DEFAULT_CACHE_LIMITS and a 3 s namespace read, as --help says', () => {
    const config = readControllerConfig([], {});
    expect(config.cacheLimits).toEqual(DEFAULT_CACHE_LIMITS);
    expect(config.namespaceReadTimeoutMs).toBe(3000);
    expect(CONTROLLER_HELP).toContain('--max-credential-value-bytes');
    expect(CONTROLLER_HELP).toContain(String(DEFAULT_CACHE_LIMITS.maxCredentialValueBytes));
    expect(CONTROLLER_HELP).toContain('--namespace-read-timeout');
  });

  it('sets each limit from its flag', () => {
    const config = readControllerConfig(['--max-policy-bytes', '1024', '--max-policies-per-namespace', '3', '--max-policy-bytes-per-namespace', '4096', '--max-credential-value-bytes', '16',
      '--max-credential-secrets-per-namespace', '2', '--max-credential-bytes-per-namespace', '64', '--list-page-size', '5', '--namespace-read-timeout', '500',
      '--max-access-request-bytes', '2048', '--max-access-requests-per-namespace', '7', '--max-access-request-bytes-per-namespace', '8192'], {});
    expect(config.cacheLimits).toEqual({
      maxPolicyBytes: 1024, maxPoliciesPerNamespace: 3, maxPolicyBytesPerNamespace: 4096, maxCredentialValueBytes: 16, maxCredentialSecretsPerNamespace: 2, maxCredentialBytesPerNamespace: 64, listPageSize: 5,
      maxAccessRequestBytes: 2048, maxAccessRequestsPerNamespace: 7, maxAccessRequestBytesPerNamespace: 8192,
    });
    expect(config.namespaceReadTimeoutMs).toBe(500);
  });

  it('refuses a limit that is not a whole number above 0, naming the flag', () => {
    expect(() => readControllerConfig(['--max-credential-value-bytes', '8k'], {})).toThrow(new ConfigError('controller: --max-credential-value-bytes: "8k" is not a whole number above 0'));
    expect(() => readControllerConfig(['--list-page-size', '0'], {})).toThrow('--list-page-size: "0" is not a whole number above 0');
  });
});
