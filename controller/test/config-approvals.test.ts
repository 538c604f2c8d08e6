// The approval flags of `agentwarden controller`: documented defaults (the
// chart's approvals.* values), each settable, bad values refused with the flag's name.
import { describe, expect, it } from '@jest/globals';
import { CONTROLLER_HELP, ConfigError, readControllerConfig } from '../src/config.js';
import { DEFAULT_APPROVAL_OPTIONS } from '../src/approvals/options.js';

describe('the controller approval flags', () => {
  it('default to a 4h maximum grant, a 1h pending TTL, 20 pending per pod, 15m requests and no webhook, as --help says', () => {
    const config = readControllerConfig(['--namespace', 'aw'], {});
    expect(config.approvals).toEqual({ ...DEFAULT_APPROVAL_OPTIONS, controllerUsername: 'system:serviceaccount:aw:agentwarden-controller' });
    expect(config.approvals.maxGrantDurationMs).toBe(4 * 3_600_000);
    expect(config.approvals.pendingTtlMs).toBe(3_600_000);
    expect(config.approvals.maxPendingPerPod).toBe(20);
    expect(config.approvals.defaultDurationMs).toBe(15 * 60_000);
    for (const flag of ['--max-grant-duration', '--approval-pending-ttl', '--max-pending-approvals-per-pod', '--default-grant-duration', '--notify-webhook-secret', '--controller-username']) expect(CONTROLLER_HELP).toContain(flag);
    expect(CONTROLLER_HELP).toContain('4h');
  });

  it('sets each from its flag', () => {
    const config = readControllerConfig(['--max-grant-duration', '2h30m', '--approval-pending-ttl', '10m', '--max-pending-approvals-per-pod', '3', '--default-grant-duration', '5m', '--approval-grant-uses', '1',
      '--notify-webhook-secret', 'ops/slack-hook', '--controller-username', 'system:serviceaccount:aw:ctl'], {});
    expect(config.approvals).toEqual({
      maxGrantDurationMs: 9_000_000, pendingTtlMs: 600_000, maxPendingPerPod: 3, defaultDurationMs: 300_000, grantUses: 1,
      notifyWebhookSecret: { namespace: 'ops', name: 'slack-hook' }, controllerUsername: 'system:serviceaccount:aw:ctl',
    });
  });

  it('refuses a duration that is not one, a default above the maximum, and a Secret that is not namespace/name', () => {
    expect(() => readControllerConfig(['--max-grant-duration', '4 hours'], {})).toThrow(new ConfigError('controller: --max-grant-duration: "4 hours" is not a duration above 0 (e.g. 15m, 4h)'));
    expect(() => readControllerConfig(['--approval-pending-ttl', '0s'], {})).toThrow('--approval-pending-ttl');
    expect(() => readControllerConfig(['--default-grant-duration', '5h'], {})).toThrow('--default-grant-duration 5h is above --max-grant-duration 4h');
    expect(() => readControllerConfig(['--notify-webhook-secret', 'slack-hook'], {})).toThrow('--notify-webhook-secret: "slack-hook" is not namespace/name of a Secret');
    expect(() => readControllerConfig(['--max-pending-approvals-per-pod', '0'], {})).toThrow('--max-pending-approvals-per-pod');
  });
});
