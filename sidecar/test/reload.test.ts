// Standalone mode's snapshot lifecycle as Envoy and the kubelet see it: nothing
// is allowed before a snapshot loads, a fix on disk is picked up, and a later
// bad edit keeps the last good snapshot in force while /readyz says why.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentPolicy, eventually, kubeletPublish, outcome, startTestSidecar, stopSidecars, type TestSidecar } from './helpers.js';

const STATUS = { url: 'https://status.internal/health' };

function statusPolicy(condition: string): string {
  return agentPolicy('status', `
    podSelector: {}
    rules:
      - name: read-status
        to: {hosts: [status.internal]}
        http: {methods: [GET]}
        when: "${condition}"
  `);
}

const GOOD = statusPolicy("request.method == 'GET'");
/** Does not compile: the condition refers to an undeclared variable. */
const BAD = statusPolicy("reqest.method == 'GET'");

async function readyz(sidecar: TestSidecar): Promise<{ readonly status: number; readonly text: string }> {
  return sidecar.admin('/readyz');
}

const mounts: string[] = [];

describe('the policy snapshot in force', () => {
  afterEach(stopSidecars);
  afterAll(() => {
    for (const m of mounts) rmSync(m, { recursive: true, force: true });
  });

  it('denies every request with rule no-policy-loaded and is not ready until a snapshot loads', async () => {
    const sidecar = await startTestSidecar({ policies: { 'status.yaml': BAD } });
    const d = await sidecar.checkShort(STATUS);
    expect(outcome(d)).toEqual({ decision: 'deny', rule: 'no-policy-loaded' });
    const ready = await readyz(sidecar);
    expect(ready.status).toBe(503);
    expect(ready.text).toContain('reqest');
    expect((await sidecar.admin('/debug/snapshot')).status).toBe(404);
    expect((await sidecar.admin('/metrics')).text).toMatch(/^agentwarden_ready 0$/m);
  });

  it('loads a fixed policy from disk, then keeps it in force when a later edit breaks the file', async () => {
    const sidecar = await startTestSidecar({ policies: { 'status.yaml': BAD } });
    expect(outcome(await sidecar.checkShort(STATUS)).rule).toBe('no-policy-loaded');

    sidecar.writePolicy('status.yaml', GOOD, 'in-place');
    const ready = await eventually('the fixed policy to load', async () => {
      const r = await readyz(sidecar);
      return r.status === 200 ? r : undefined;
    });
    const version = sidecar.running.state.snapshot!.version;
    expect(ready.text).toContain(version);
    expect(ready.text).not.toContain('failed');
    expect(outcome(await sidecar.checkShort(STATUS))).toEqual({ decision: 'allow', rule: '' });

    sidecar.writePolicy('status.yaml', BAD, 'in-place');
    const kept = await eventually('the failed reload to show in /readyz', async () => {
      const r = await readyz(sidecar);
      return r.text.includes('failed') ? r : undefined;
    });
    expect(kept.status).toBe(200);
    expect(kept.text).toContain(version);
    expect(kept.text).toContain('reqest');
    expect(sidecar.running.state.snapshot!.version).toBe(version);
    expect(outcome(await sidecar.checkShort(STATUS))).toEqual({ decision: 'allow', rule: '' });
    const metrics = await sidecar.admin('/metrics');
    expect(metrics.text).toMatch(/^agentwarden_policy_reload_errors_total [1-9][0-9]*$/m);
  });

  it('takes in a new policy version and clears the failure once the file is fixed again', async () => {
    const sidecar = await startTestSidecar({ policies: { 'status.yaml': GOOD } });
    const first = sidecar.running.state.snapshot!.version;
    sidecar.writePolicy('status.yaml', BAD, 'in-place');
    await eventually('the failed reload', async () => ((await readyz(sidecar)).text.includes('failed') ? true : undefined));
    sidecar.writePolicy('status.yaml', statusPolicy("request.method == 'HEAD'"), 'in-place');
    const ready = await eventually('the new version', async () => {
      const r = await readyz(sidecar);
      return r.status === 200 && !r.text.includes(first) ? r : undefined;
    });
    expect(ready.text).not.toContain('failed');
    expect(outcome(await sidecar.checkShort(STATUS))).toEqual({ decision: 'deny', rule: 'default-deny' });
  });

  // Editors, `git checkout` and `kubectl cp` replace a file (write aside, rename over it).
  it('picks up every replacement of a policy file, not only the first', async () => {
    const sidecar = await startTestSidecar({ policies: { 'status.yaml': GOOD } });
    sidecar.writePolicy('status.yaml', statusPolicy("request.method == 'HEAD'"), 'replace');
    await eventually('the first replacement', async () => (outcome(await sidecar.checkShort(STATUS)).decision === 'deny' ? true : undefined));
    sidecar.writePolicy('status.yaml', GOOD, 'replace');
    await eventually('the second replacement', async () => (outcome(await sidecar.checkShort(STATUS)).decision === 'allow' ? true : undefined));
  });

  // Kubernetes updates a mounted ConfigMap by writing a new timestamped folder
  // and swapping the `..data` symlink; the files the sidecar is pointed at are
  // symlinks through it. Every update must be picked up, not only the first.
  it('follows a policy file mounted from a ConfigMap across successive updates', async () => {
    const mount = mkdtempSync(join(tmpdir(), 'agentwarden-configmap-'));
    mounts.push(mount);
    kubeletPublish(mount, 1, { 'policy.yaml': GOOD });
    const sidecar = await startTestSidecar({ policies: {}, config: { policyPaths: [join(mount, 'policy.yaml')] } });
    expect(outcome(await sidecar.checkShort(STATUS))).toEqual({ decision: 'allow', rule: '' });

    kubeletPublish(mount, 2, { 'policy.yaml': statusPolicy("request.method == 'HEAD'") });
    await eventually('the first ConfigMap update', async () => (outcome(await sidecar.checkShort(STATUS)).decision === 'deny' ? true : undefined));

    kubeletPublish(mount, 3, { 'policy.yaml': GOOD });
    await eventually('the second ConfigMap update', async () => (outcome(await sidecar.checkShort(STATUS)).decision === 'allow' ? true : undefined));
  });
});

describe('credentials mounted from a Secret', () => {
  afterEach(stopSidecars);

  const READ = agentPolicy('read', `
    podSelector: {}
    rules:
      - name: read-status
        to: {hosts: [status.internal]}
        credential: status-token
    credentials:
      - name: status-token
        secretRef: {name: status-api, key: token}
  `);

  // The kubelet rotates a Secret volume by swapping its ..data symlink (see kubeletPublish).
  it('injects the new value after each rotation of the Secret', async () => {
    const sidecar = await startTestSidecar({ policies: { 'read.yaml': READ } });
    const volume = join(sidecar.secretsDir, 'status-api');
    const injected = async (): Promise<string | undefined> => {
      const response = await sidecar.checkShort(STATUS);
      return response.httpResponse.case === 'okResponse'
        ? response.httpResponse.value.headers.find((h) => h.header?.key === 'authorization')?.header?.value
        : undefined;
    };
    kubeletPublish(volume, 1, { token: 'token-1' });
    sidecar.running.reload();
    expect(await injected()).toBe('Bearer token-1');

    kubeletPublish(volume, 2, { token: 'token-2' });
    await eventually('the first rotation', async () => ((await injected()) === 'Bearer token-2' ? true : undefined));
    kubeletPublish(volume, 3, { token: 'token-3' });
    await eventually('the second rotation', async () => ((await injected()) === 'Bearer token-3' ? true : undefined));
  });
});
