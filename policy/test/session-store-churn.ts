// Run by session-store-churn.test.ts in a fresh node: 2,000,000 requests
// alternate between 1,000 sessions of a store (SessionStore, or argv[2] =
// "map": a Map kept in recency order by delete and re-add, as the store was
// before) that has reached the old generation; prints the number of full GCs
// the churn caused (about 0.8 s).
import { printMajorGcsOf, requestGarbage } from '../../common/test/major-gcs.js';
import { SessionStore } from '../src/session-store.js';

const kind = process.argv[2];
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

let sink = 0;
printMajorGcsOf(() => {
  for (let i = 0; i < 2_000_000; i++) {
    sink += requestGarbage(8).length;
    touch(keys[(i * 7) % SESSIONS] ?? '');
  }
});
if (sink === 0) process.exitCode = 1;
