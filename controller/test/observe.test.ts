// What /metrics and /readyz say about the controller: every informer by
// resource, the counters of its parts, and readiness that names the cache
// that is not listed or has gone stale.
import { describe, expect, it } from '@jest/globals';
import { renderMetrics, type MetricsSources } from '../src/observe/metrics.js';
import { MAX_STALE_MS, readiness } from '../src/observe/readiness.js';
import { jsonLog } from '../src/log.js';
import { FakeCache } from './fake-caches.js';

function sources(overrides: Partial<MetricsSources> = {}): MetricsSources {
  const secrets = new FakeCache();
  secrets.staleMs = 1500;
  return {
    informers: () => [['pods', new FakeCache()], ['secrets', secrets]],
    distribution: { connectionCount: () => 3, pushes: 7, authFailures: 1, revoked: 2, reauthentications: 4 },
    auth: { reviews: 4, uncached: 2 },
    reconciler: { reconciles: 5, compiledSnapshots: 2 },
    credentialKeys: { stats: () => ({ secrets: 1, keys: 2 }) },
    isLeader: () => true,
    extra: [{ render: () => ['# TYPE agentwarden_other gauge', 'agentwarden_other 1'] }],
    distributionCertificate: undefined,
    memory: () => ({ rss: 1000, heapUsed: 500 }),
    ...overrides,
  };
}

describe('renderMetrics', () => {
  it('reports each informer by resource and the counters of the distribution, authentication and reconciler', () => {
    const text = renderMetrics(sources());
    expect(text).toContain('agentwarden_informer_stale_seconds{resource="secrets"} 1.500');
    expect(text).toContain('agentwarden_informer_relists_total{resource="pods"} 1');
    for (const line of ['agentwarden_connected_sidecars 3', 'agentwarden_snapshot_pushes_total 7', 'agentwarden_sidecar_auth_failures_total 1',
      'agentwarden_token_reviews_total 4', 'agentwarden_token_reviews_uncached_total 2', 'agentwarden_reconciles_total 5', 'agentwarden_compiled_snapshots 2',
      'agentwarden_leader 1', 'agentwarden_other 1', 'agentwarden_credential_secrets 1', 'agentwarden_credential_secret_keys 2', 'agentwarden_informer_objects{resource="pods"} 0', 'process_resident_memory_bytes 1000']) expect(text.split('\n')).toContain(line);
    expect(text).not.toContain('cert_reload');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('reports certificate reloads only when the distribution port has TLS', () => {
    const text = renderMetrics(sources({ distributionCertificate: { reloads: 2, reloadFailures: 1 } }));
    expect(text.split('\n')).toEqual(expect.arrayContaining(['agentwarden_distribution_cert_reloads_total 2', 'agentwarden_distribution_cert_reload_failures_total 1']));
  });
});

describe('readiness', () => {
  it('is ready when every cache is listed and fresh, and otherwise names each cache and why', () => {
    const pods = new FakeCache();
    const secrets = new FakeCache();
    expect(readiness([['pods', pods], ['secrets', secrets]])).toEqual({ ready: true });
    pods.synced = false;
    secrets.staleMs = MAX_STALE_MS + 60_000;
    expect(readiness([['pods', pods], ['secrets', secrets]])).toEqual({ ready: false, message: 'not ready: pods not synced, secrets stale for 360 s' });
  });
});

describe('jsonLog', () => {
  it('writes one JSON object per line at or above the level', () => {
    const lines: string[] = [];
    const log = jsonLog('info', (l) => { lines.push(l); });
    log('debug', 'hidden');
    log('warn', 'shown', { pod: 'a/b' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'warn', msg: 'shown', pod: 'a/b' });
  });
});
