// Readiness over the caches that serving sidecars and webhooks depend on: each
// must have been listed and must have heard from the API server recently.
import type { NamedInformer } from './metrics.js';

/** Stale beyond this, an informer makes /readyz fail. */
export const MAX_STALE_MS = 5 * 60_000;

export type Readiness = { readonly ready: true } | { readonly ready: false; readonly message: string };

export function readiness(informers: readonly NamedInformer[], maxStaleMs = MAX_STALE_MS): Readiness {
  const problems = informers.map(([name, i]) => ({ name, s: i.stats() })).filter(({ s }) => !s.synced || s.staleMs > maxStaleMs);
  if (problems.length === 0) return { ready: true };
  return { ready: false, message: `not ready: ${problems.map((p) => `${p.name} ${p.s.synced ? `stale for ${Math.round(p.s.staleMs / 1000)} s` : 'not synced'}`).join(', ')}` };
}
