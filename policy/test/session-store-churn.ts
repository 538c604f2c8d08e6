// Run by session-store-churn.test.ts in a fresh node: 2,000,000 requests
// alternate between 1,000 sessions of a store (SessionStore, or argv[2] =
// "map": a Map kept in recency order by delete and re-add, as the store was
// before) that has reached the old generation; prints the number of full GCs
// the churn caused (about 0.8 s).
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { SessionStore } from '../src/session-store.js';

const kind = process.argv[2];
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const SESSIONS = 1000;
const keys = Array.from({ length: SESSIONS }, (_, i) => `session-${i}`);
const store = new SessionStore();
const map = new Map<string, readonly string[]>();
for (const key of keys) {
  store.add(key, ['pii'], 0, 0, undefined);
  map.set(key, ['pii']);
}
const touch = kind === 'map'
  ? (key: string): void => {
    const labels = map.get(key);
    if (labels === undefined) return;
    map.delete(key);
    map.set(key, labels);
  }
  : (key: string): void => void store.taintsOf(key, 1);

/** What a request allocates beside the lookup: a few kilobytes of short-lived objects. */
function requestGarbage(): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < 8; i++) out.push({ i, name: `header-${i}`, value: [i, i + 1] });
  return out;
}

gc(); // the store, its Map and its sessions are in the old generation now
let major = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as { readonly detail?: { readonly kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
});
observer.observe({ entryTypes: ['gc'] });
let sink = 0;
for (let i = 0; i < 2_000_000; i++) {
  sink += requestGarbage().length;
  touch(keys[(i * 7) % SESSIONS] ?? '');
}
// Node records a GC's entry from a setImmediate callback after the GC; the observer hears of it on a later turn.
setImmediate(() => setImmediate(() => {
  observer.disconnect();
  process.stdout.write(`${major}\n`);
  if (sink === 0) process.exitCode = 1;
}));
