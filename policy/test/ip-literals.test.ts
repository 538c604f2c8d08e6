// DESIGN.md "Data plane": an IP-literal authority matches only rules that name
// that IP. "*" and "*.suffix" never match one; numeric hosts that resolvers read
// as IPv4 addresses in other spellings are refused as invalid-request.
import { describe, expect, it } from '@jest/globals';
import { agent, policy } from './helpers.js';
import { PolicyError } from '../src/index.js';

const ips = agent([policy('ips', `
  podSelector: {}
  rules:
    - name: any-internal
      to: {hosts: ["*.internal"]}
    - name: anywhere
      to: {hosts: ["*"]}
    - name: metadata-proxy
      to: {hosts: ["10.0.0.7", "fd00::7"]}
`)]);

describe('IP-literal authorities', () => {
  it('are not matched by "*"', () => {
    expect(ips.check({ url: 'http://169.254.169.254/latest/meta-data' })).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(ips.check({ url: 'http://[fd00::8]/' })).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('are matched by an exact IPv4 entry in dotted-quad form', () => {
    expect(ips.check({ url: 'http://10.0.0.7:8080/x' })).toMatchObject({ allowed: true, rule: 'metadata-proxy' });
  });

  it('are matched by an exact IPv6 entry, whichever way the bracketed authority spells the address', () => {
    for (const url of ['http://[fd00::7]/', 'http://[FD00:0:0:0:0:0:0:7]:80/', 'http://[fd00:0::7]/']) {
      expect({ url, d: ips.check({ url }) }).toMatchObject({ url, d: { allowed: true, rule: 'metadata-proxy' } });
    }
  });

  it('refuse other spellings that resolvers read as IPv4 (short, hex, octal, decimal) as invalid-request', () => {
    for (const host of ['127.1', '0x7f.1', '0x7f.0.0.1', '2130706433', '010.0.0.7', '10.0.0.07', '10.0.0.0x7', '1.2.3.4.5', '256.0.0.1', 'a.0x', 'host.123']) {
      const d = ips.check({ url: `http://${host}/` });
      expect({ host, d }).toMatchObject({ host, d: { allowed: false, rule: 'invalid-request' } });
      expect(d.reason).toContain('IPv4 address in a form other than the dotted quad');
    }
  });

  it('are matched by no "*.suffix" pattern, whose host names still match', () => {
    expect(ips.check({ url: 'https://db.internal/' })).toMatchObject({ allowed: true, rule: 'any-internal' });
  });
});

describe('host entries naming IP addresses', () => {
  it('reject IPv4 entries other than the dotted quad, and "*.suffix" patterns ending in a number', () => {
    for (const host of ['127.1', '0x7f.0.0.1', '2130706433', '*.0.0.1', '010.0.0.1']) {
      expect(() => policy('bad', `
        podSelector: {}
        rules: [{name: r, to: {hosts: ["${host}"]}}]
      `)).toThrow(PolicyError);
    }
  });

  it('reject IPv6 entries not in canonical form, naming the canonical one', () => {
    expect(() => policy('bad', `
      podSelector: {}
      rules: [{name: r, to: {hosts: ["fd00:0:0::7"]}}]
    `)).toThrow('is not an IPv6 address in canonical form (write "fd00::7")');
  });
});
