// The CA root publisher against a fake API server (ConfigMaps in memory, with
// the real create/update conflict rules) and a CA file on disk: where it
// writes, that it writes nothing when nothing changed, that a new CA in the
// file reaches every namespace, and how it behaves when it may not write, when
// writes fail and when there are many namespaces. Then the same wired by
// startController, its namespaces informer listing from the fake.
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaRootPublisher, type CaRootPublisherOptions } from '../src/caroot/publisher.js';
import type { PodView } from '../src/caroot/plan.js';
import { readControllerConfig } from '../src/config.js';
import { startController } from '../src/main.js';
import { FakeCaRootApi, FakeKube, TestPki, namespace } from './fake-kube.js';
import { eventually, slimPod, until } from './helpers.js';

const ENABLED = { 'agentwarden.io/inject': 'enabled' };
const NAME = 'agentwarden-ca-root';
const caA = readFileSync(new TestPki('ca-a').caCert, 'utf8');
const caB = readFileSync(new TestPki('ca-b').caCert, 'utf8');

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A CA file holding `pem`; `replace` swaps its content in one step, as the kubelet does. */
function caFile(pem: string): { readonly path: string; replace(pem: string): void } {
  const dir = mkdtempSync(join(tmpdir(), 'aw-ca-root-'));
  const path = join(dir, 'ca.crt');
  writeFileSync(path, pem);
  return {
    path,
    replace(next) {
      writeFileSync(`${path}.new`, next);
      renameSync(`${path}.new`, path);
    },
  };
}

interface Setup {
  readonly api: FakeCaRootApi;
  readonly publisher: CaRootPublisher;
  readonly file: ReturnType<typeof caFile>;
  readonly pods: PodView[];
  leader: boolean;
}

function publisherWith(overrides: Partial<CaRootPublisherOptions> = {}, namespaces = [namespace('support', ENABLED), namespace('web'), namespace('batch')]): Setup {
  const api = new FakeCaRootApi();
  api.namespaces = namespaces;
  const file = caFile(caA);
  const setup: Setup = {
    api, file, pods: [{ namespace: 'batch', labels: ENABLED }], leader: true,
    publisher: new CaRootPublisher({
      api, file: file.path, configMapName: NAME, scope: { namespaceLabels: {}, excludeNamespaces: [] },
      namespaces: () => api.namespaces.map((n) => ({ name: n.metadata.name, labels: n.metadata.labels, terminating: n.terminating })),
      pods: () => setup.pods,
      synced: () => true,
      mayWrite: () => setup.leader,
      log: () => undefined,
      fileReloadMs: 20,
      ...overrides,
    }),
  };
  cleanup.push(() => setup.publisher.stop());
  return setup;
}

const caIn = (api: FakeCaRootApi, ns: string): string | undefined => api.configMaps.get(`${ns}/${NAME}`)?.data?.['ca.crt'];

describe('the CA root publisher', () => {
  it('creates the ConfigMap, labelled managed-by agentwarden, in enabled namespaces and namespaces with enabled pods only', async () => {
    const { api, publisher } = publisherWith();
    publisher.start();
    await eventually('both ConfigMaps', () => (api.configMaps.size === 2 ? true : undefined));
    expect([...api.configMaps.keys()].sort()).toEqual([`batch/${NAME}`, `support/${NAME}`]);
    const cm = api.configMaps.get(`support/${NAME}`);
    expect(cm?.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'agentwarden' });
    expect(cm?.data).toEqual({ 'ca.crt': caA });
    expect(publisher.stats()).toMatchObject({ loaded: true, targets: 2, upToDate: 2, creates: 2, updates: 0 });
  });

  it('makes no request at all on passes where nothing changed', async () => {
    const { api, publisher } = publisherWith();
    publisher.start();
    await until('both written', () => publisher.stats().upToDate === 2);
    const calls = api.calls.length;
    for (let i = 0; i < 3; i++) publisher.trigger();
    publisher.checkFile();
    await new Promise((r) => setTimeout(r, 500));
    expect(api.calls.length).toBe(calls);
  });

  it('writes a namespace that becomes enabled, or gets an enabled pod, on the next pass', async () => {
    const setup = publisherWith();
    setup.publisher.start();
    await until('the first two', () => setup.publisher.stats().upToDate === 2);
    setup.api.namespaces = [...setup.api.namespaces, namespace('new', ENABLED)];
    setup.pods.push({ namespace: 'web', labels: ENABLED });
    setup.publisher.trigger();
    await until('four namespaces', () => setup.publisher.stats().upToDate === 4);
    expect(caIn(setup.api, 'new')).toBe(caA);
    expect(caIn(setup.api, 'web')).toBe(caA);
  });

  it('rolls a new CA in the file out to every namespace, changing only ca.crt', async () => {
    const { api, publisher, file } = publisherWith();
    api.put(`support/${NAME}`, { metadata: { name: NAME, namespace: 'support', labels: { 'app.kubernetes.io/managed-by': 'agentwarden' } }, data: { 'ca.crt': 'stale', 'other.pem': 'kept' } });
    publisher.start();
    await until('both hold A', () => caIn(api, 'support') === caA && caIn(api, 'batch') === caA);
    expect(api.configMaps.get(`support/${NAME}`)?.data).toEqual({ 'ca.crt': caA, 'other.pem': 'kept' });
    file.replace(`${caA}${caB}`);
    await until('both hold A and B', () => caIn(api, 'support') === `${caA}${caB}` && caIn(api, 'batch') === `${caA}${caB}`);
    expect(api.configMaps.get(`support/${NAME}`)?.data?.['other.pem']).toBe('kept');
    expect(publisher.stats()).toMatchObject({ caLoads: 2, creates: 1, updates: 3 });
  });

  it('keeps publishing the previous CA when the file turns into something that is not a CA', async () => {
    const { api, publisher, file } = publisherWith();
    publisher.start();
    await until('A published', () => publisher.stats().upToDate === 2);
    file.replace('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await until('the change refused', () => publisher.stats().caLoadFailures > 0);
    expect(caIn(api, 'support')).toBe(caA);
    expect(publisher.stats().loaded).toBe(true);
  });

  it('leaves a ConfigMap of that name that it did not create untouched, and counts it', async () => {
    const { api, publisher } = publisherWith();
    api.put(`support/${NAME}`, { metadata: { name: NAME, namespace: 'support' }, data: { 'ca.crt': 'the user\'s own' } });
    publisher.start();
    await until('batch written', () => caIn(api, 'batch') === caA);
    await until('support seen', () => publisher.stats().foreign === 1);
    expect(caIn(api, 'support')).toBe('the user\'s own');
    expect(api.writes().filter((w) => w.namespace === 'support')).toEqual([]);
  });

  it('writes nothing while another replica leads, and publishes once it becomes the leader', async () => {
    const setup = publisherWith();
    setup.leader = false;
    setup.publisher.start();
    setup.publisher.trigger();
    await new Promise((r) => setTimeout(r, 400));
    expect(setup.api.calls).toEqual([]);
    setup.leader = true;
    setup.publisher.leadershipChanged(true);
    await until('published by the new leader', () => setup.publisher.stats().upToDate === 2);
  });

  it('retries a namespace whose writes fail with growing delays, without holding up the others', async () => {
    const { api, publisher } = publisherWith({ backoff: { initialMs: 100, maxMs: 400 }, random: () => 0.5 });
    api.failing.set('batch', Object.assign(new Error('configmaps is forbidden'), { code: 403 }));
    publisher.start();
    await until('support written', () => caIn(api, 'support') === caA);
    await new Promise((r) => setTimeout(r, 1500));
    // 1.5 s of failures at 100, 200, 400, 400 ms (+ the 200 ms coalescing): a handful of attempts, not a loop.
    const attempts = api.calls.filter((c) => c.namespace === 'batch').length;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(6);
    expect(publisher.stats().writeFailures).toBe(attempts);
    api.failing.delete('batch');
    await until('batch written after the failures stop', () => caIn(api, 'batch') === caA, 5000);
  });

  it('bounds a pass: at most maxPerPass namespaces, `concurrency` requests at a time, the rest in the next pass', async () => {
    const many = Array.from({ length: 12 }, (_, i) => namespace(`ns-${String(i).padStart(2, '0')}`, ENABLED));
    const { api, publisher } = publisherWith({ maxPerPass: 5, concurrency: 2 }, many);
    api.delayMs = 5;
    publisher.start();
    await until('all twelve', () => publisher.stats().upToDate === 12);
    expect(api.maxInFlight).toBe(2);
    expect(publisher.stats().deferred).toBe(7 + 2);
    expect(api.writes()).toHaveLength(12);
  });

  it('repairs a ConfigMap deleted behind its back at the next resync', async () => {
    const { api, publisher } = publisherWith({ resyncMs: 300 });
    publisher.start();
    await until('written', () => publisher.stats().upToDate === 2);
    api.configMaps.delete(`support/${NAME}`);
    await until('re-created', () => caIn(api, 'support') === caA);
    expect(publisher.stats().creates).toBe(3);
  });
});

describe('the CA root publisher wired by startController (--ca-root-file)', () => {
  it('publishes to the namespaces its informers show, then where an enabled pod or an enabled namespace appears, and reports it in /metrics', async () => {
    const kube = new FakeKube();
    kube.pods = [slimPod({ namespace: 'batch', name: 'job-0', labels: ENABLED })];
    const api = new FakeCaRootApi();
    api.namespaces = [namespace('support', ENABLED), namespace('batch'), namespace('kube-system', ENABLED), namespace('web')];
    const file = caFile(caA);
    const config = readControllerConfig(['--distribution-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--leader-elect', 'false', '--identity', 'test',
      '--ca-root-file', file.path, '--ca-root-exclude-namespaces', 'kube-system'], {});
    const running = await startController(config, () => undefined, kube, api);
    cleanup.push(() => running.stop());
    await until('support and batch', () => caIn(api, 'support') === caA && caIn(api, 'batch') === caA);
    expect(caIn(api, 'kube-system')).toBeUndefined();

    // A labelled pod appears in web (the pods informer), then a namespace is enabled (the namespaces informer).
    kube.pods = [...kube.pods, slimPod({ namespace: 'web', name: 'agent-0', labels: ENABLED })];
    running.informers.pods.relist();
    await until('web', () => caIn(api, 'web') === caA);
    api.namespaces = [...api.namespaces, namespace('late', ENABLED, '2')];
    running.informers.namespaces?.relist();
    await until('late', () => caIn(api, 'late') === caA);

    const text = await (await fetch(`http://${running.metricsAddress}/metrics`)).text();
    expect(text).toContain('agentwarden_ca_root_loaded 1');
    expect(text).toContain('agentwarden_ca_root_namespaces{state="up_to_date"} 4');
    expect(text).toContain('agentwarden_ca_root_writes_total{op="create"} 4');
    expect(text).toContain('agentwarden_informer_relists_total{resource="namespaces"} 2');
  });
});
