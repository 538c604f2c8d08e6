// The controller's /metrics page (Prometheus text format 0.0.4), rendered from
// the counters and caches of its parts at each scrape.
import type { InformerStats } from '../kube/informer.js';
import type { BudgetStats } from '../kube/budget.js';

/** A cache by the resource it holds, e.g. ["secrets", informer]. */
export type NamedInformer = readonly [string, { stats(): InformerStats }];

export interface MetricsSources {
  readonly informers: () => readonly NamedInformer[];
  readonly distribution: { connectionCount(): number; readonly pushes: number; readonly authFailures: number; readonly revoked: number; readonly reauthentications: number };
  readonly auth: { readonly reviews: number; readonly uncached: number };
  readonly reconciler: { readonly reconciles: number; readonly compiledSnapshots: number };
  /** The Secrets and keys policies read (what the secrets cache may hold). */
  readonly credentialKeys: { stats(): { readonly secrets: number; readonly keys: number } };
  /** The per-namespace cache limits (kube/limits.ts): bytes held and refusals, by resource. */
  readonly budgets?: readonly { stats(): BudgetStats }[];
  readonly isLeader: () => boolean;
  /** Lines of other parts (admission reviews, CA root), appended as they come. */
  readonly extra: readonly { render(): readonly string[] }[];
  readonly distributionCertificate: { readonly reloads: number; readonly reloadFailures: number } | undefined;
  /** Default: process.memoryUsage. */
  readonly memory?: () => { readonly rss: number; readonly heapUsed: number };
}

export function renderMetrics(s: MetricsSources): string {
  const lines: string[] = [];
  const perInformer = (metric: string, help: string, type: 'gauge' | 'counter', value: (st: InformerStats) => string | number): void => {
    lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} ${type}`);
    for (const [name, i] of s.informers()) lines.push(`${metric}{resource="${name}"} ${value(i.stats())}`);
  };
  perInformer('agentwarden_informer_stale_seconds', 'Time since the informer last heard from the API server.', 'gauge', (st) => (st.staleMs / 1000).toFixed(3));
  perInformer('agentwarden_informer_restarts_total', 'Informer failures followed by a backoff and a restart.', 'counter', (st) => st.restarts);
  perInformer('agentwarden_informer_objects', 'Objects in the informer\'s cache (secrets: only those labelled agentwarden.io/credential=true).', 'gauge', (st) => st.objects);
  perInformer('agentwarden_informer_relists_total', 'Full lists (start, 410 Gone, periodic, watchdog).', 'counter', (st) => st.relists);
  lines.push('# TYPE agentwarden_connected_sidecars gauge', `agentwarden_connected_sidecars ${s.distribution.connectionCount()}`);
  lines.push('# TYPE agentwarden_snapshot_pushes_total counter', `agentwarden_snapshot_pushes_total ${s.distribution.pushes}`);
  lines.push('# TYPE agentwarden_sidecar_auth_failures_total counter', `agentwarden_sidecar_auth_failures_total ${s.distribution.authFailures}`);
  lines.push('# HELP agentwarden_sidecar_streams_revoked_total Streams ended because their pod was deleted or replaced or their token expired.');
  lines.push('# TYPE agentwarden_sidecar_streams_revoked_total counter', `agentwarden_sidecar_streams_revoked_total ${s.distribution.revoked}`);
  lines.push('# TYPE agentwarden_sidecar_reauthentications_total counter', `agentwarden_sidecar_reauthentications_total ${s.distribution.reauthentications}`);
  lines.push('# TYPE agentwarden_token_reviews_total counter', `agentwarden_token_reviews_total ${s.auth.reviews}`);
  lines.push('# TYPE agentwarden_token_reviews_uncached_total counter', `agentwarden_token_reviews_uncached_total ${s.auth.uncached}`);
  lines.push('# TYPE agentwarden_reconciles_total counter', `agentwarden_reconciles_total ${s.reconciler.reconciles}`);
  lines.push('# TYPE agentwarden_compiled_snapshots gauge', `agentwarden_compiled_snapshots ${s.reconciler.compiledSnapshots}`);
  const wanted = s.credentialKeys.stats();
  lines.push('# HELP agentwarden_credential_secrets Secrets that AgentPolicy credentials refer to.', '# TYPE agentwarden_credential_secrets gauge', `agentwarden_credential_secrets ${wanted.secrets}`);
  lines.push('# HELP agentwarden_credential_secret_keys Secret keys that AgentPolicy credentials read; the only keys the controller keeps.', '# TYPE agentwarden_credential_secret_keys gauge', `agentwarden_credential_secret_keys ${wanted.keys}`);
  const budgets = (s.budgets ?? []).map((b) => b.stats());
  lines.push('# HELP agentwarden_informer_cached_bytes Bytes of AgentPolicy specs (JSON) and credential values (base64) the caches hold, charged to namespaces against their limits.', '# TYPE agentwarden_informer_cached_bytes gauge');
  for (const b of budgets) lines.push(`agentwarden_informer_cached_bytes{resource="${b.resource}"} ${b.bytes}`);
  lines.push('# HELP agentwarden_informer_refused_objects Objects the caches hold as stubs now: refused by a size or namespace limit (their status says why).', '# TYPE agentwarden_informer_refused_objects gauge');
  for (const b of budgets) lines.push(`agentwarden_informer_refused_objects{resource="${b.resource}"} ${b.refusedObjects}`);
  lines.push('# HELP agentwarden_informer_refused_total Object versions refused by a cache limit, by reason (object_too_large, value_too_large, namespace_objects, namespace_bytes).', '# TYPE agentwarden_informer_refused_total counter');
  for (const b of budgets) {
    for (const reason of ['object_too_large', 'value_too_large', 'namespace_objects', 'namespace_bytes'] as const) lines.push(`agentwarden_informer_refused_total{resource="${b.resource}",reason="${reason}"} ${b.refused.get(reason) ?? 0}`);
  }
  lines.push('# TYPE agentwarden_leader gauge', `agentwarden_leader ${s.isLeader() ? 1 : 0}`);
  const cert = s.distributionCertificate;
  if (cert !== undefined) {
    lines.push('# TYPE agentwarden_distribution_cert_reloads_total counter', `agentwarden_distribution_cert_reloads_total ${cert.reloads}`);
    lines.push('# HELP agentwarden_distribution_cert_reload_failures_total Changed certificate files that could not be loaded (the previous pair is kept).', '# TYPE agentwarden_distribution_cert_reload_failures_total counter', `agentwarden_distribution_cert_reload_failures_total ${cert.reloadFailures}`);
  }
  for (const part of s.extra) lines.push(...part.render());
  const mem = (s.memory ?? process.memoryUsage)();
  lines.push('# TYPE process_resident_memory_bytes gauge', `process_resident_memory_bytes ${mem.rss}`);
  lines.push('# TYPE nodejs_heap_used_bytes gauge', `nodejs_heap_used_bytes ${mem.heapUsed}`);
  return `${lines.join('\n')}\n`;
}
