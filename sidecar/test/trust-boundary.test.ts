// Nothing in the pod but Envoy asks for a decision or reads the rules: Check
// listens on a Unix socket by default, a TCP address does not serve credentials
// unless --allow-tcp-credentials says so, and /debug/snapshot exists only with
// --debug-snapshot (which the injector never sets).
import { afterEach, describe, expect, it } from '@jest/globals';
import { readSidecarConfig } from '../src/config.js';
import { DEFAULT_AUTHZ_LISTEN } from '../src/authz/server-api.js';
import { agentPolicy, okHeaders, outcome, startTestSidecar, stopSidecars } from './helpers.js';

const CREDENTIAL = 'CRED-boundary-7c1d-never-over-tcp';
const STANDALONE = ['--policy', 'p.yaml', '--pod', 'pod.yaml'];

const WITH_CREDENTIAL = agentPolicy('support', `
  podSelector: {matchLabels: {app: support-agent}}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com]}
      credential: zendesk
  credentials:
    - name: zendesk
      secretRef: {name: zendesk-api, key: token}
`);

const WITHOUT_CREDENTIAL = agentPolicy('support', `
  podSelector: {matchLabels: {app: support-agent}}
  rules:
    - name: read-tickets
      to: {hosts: [api.zendesk.com]}
`);

const TICKET = { url: 'https://api.zendesk.com/api/v2/tickets/1' };

describe('the sidecar configuration', () => {
  it('listens on the Unix socket in the injector\'s volume by default', () => {
    expect(readSidecarConfig(STANDALONE, {}).listen).toBe('unix:/var/run/agentwarden-authz/authz.sock');
    expect(DEFAULT_AUTHZ_LISTEN).toBe('unix:/var/run/agentwarden-authz/authz.sock');
  });

  it('serves credentials on TCP and the debug snapshot only when a flag says so', () => {
    expect(readSidecarConfig(STANDALONE, {})).toMatchObject({ allowTcpCredentials: false, debugSnapshot: false });
    expect(readSidecarConfig([...STANDALONE, '--allow-tcp-credentials', '--debug-snapshot'], {})).toMatchObject({ allowTcpCredentials: true, debugSnapshot: true });
  });
});

describe('a snapshot that carries credentials', () => {
  afterEach(stopSidecars);

  it('is refused on a TCP listen address without --allow-tcp-credentials: every request is denied and /readyz says why', async () => {
    const sidecar = await startTestSidecar({ policies: { 'support.yaml': WITH_CREDENTIAL }, secrets: { 'zendesk-api/token': CREDENTIAL }, allowTcpCredentials: false });
    expect(sidecar.running.state.snapshot).toBeUndefined();
    expect(outcome(await sidecar.checkShort(TICKET))).toEqual({ decision: 'deny', rule: 'no-policy-loaded' });
    const ready = await sidecar.admin('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.text).toContain('carries credentials (support/zendesk)');
    expect(ready.text).toContain('--allow-tcp-credentials');
    expect(ready.text).not.toContain(CREDENTIAL);
    expect((await sidecar.admin('/metrics')).text).toMatch(/^agentwarden_policy_reload_errors_total 1$/m);
  });

  it('is served on a TCP listen address with --allow-tcp-credentials', async () => {
    const sidecar = await startTestSidecar({ policies: { 'support.yaml': WITH_CREDENTIAL }, secrets: { 'zendesk-api/token': CREDENTIAL }, allowTcpCredentials: true });
    expect(okHeaders(await sidecar.checkShort(TICKET)).get('authorization')).toBe(`Bearer ${CREDENTIAL}`);
  });

  it('is served on a Unix socket without any flag', async () => {
    const sidecar = await startTestSidecar({ policies: { 'support.yaml': WITH_CREDENTIAL }, secrets: { 'zendesk-api/token': CREDENTIAL }, listen: 'unix', allowTcpCredentials: false });
    expect(okHeaders(await sidecar.checkShort(TICKET)).get('authorization')).toBe(`Bearer ${CREDENTIAL}`);
  });

  it('does not stop a snapshot without credentials from being served on TCP', async () => {
    const sidecar = await startTestSidecar({ policies: { 'support.yaml': WITHOUT_CREDENTIAL }, allowTcpCredentials: false });
    expect(outcome(await sidecar.checkShort(TICKET))).toEqual({ decision: 'allow', rule: '' });
  });
});

describe('/debug/snapshot', () => {
  afterEach(stopSidecars);

  it('is not served without --debug-snapshot, to loopback clients neither', async () => {
    const sidecar = await startTestSidecar({ policies: { 'support.yaml': WITHOUT_CREDENTIAL }, debugSnapshot: false });
    expect((await sidecar.admin('/readyz')).status).toBe(200);
    expect((await sidecar.admin('/debug/snapshot')).status).toBe(404);
  });

  it('is served to loopback clients with --debug-snapshot', async () => {
    const sidecar = await startTestSidecar({ policies: { 'support.yaml': WITHOUT_CREDENTIAL }, debugSnapshot: true });
    expect((await sidecar.admin('/debug/snapshot')).status).toBe(200);
  });
});
