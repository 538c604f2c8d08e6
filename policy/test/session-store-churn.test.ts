// The session store under requests that alternate between sessions: its
// recency order must not turn each request into garbage for the old
// generation. session-store-churn.ts runs the churn in a fresh node.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SessionStore } from '../src/session-store.js';

const CHURN = fileURLToPath(new URL('./session-store-churn.js', import.meta.url));

describe('SessionStore recency', () => {
  it('keeps and evicts the sessions a Map kept in recency order would, through any reads, taints and evictions', () => {
    const keys = ['a', 'b', 'c', 'd', 'e'];
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(4)), { maxLength: 200 }), (ops) => {
      const store = new SessionStore({ maxSessions: 3 });
      // The model: insertion order is recency, as the store kept it before.
      const model = new Map<string, true>();
      let evicted = 0;
      for (const [taint, pick] of ops) {
        const key = keys[pick] ?? 'a';
        if (taint) {
          store.add(key, ['pii'], 0, 0, undefined);
          model.delete(key);
          model.set(key, true);
          if (model.size > 3) {
            model.delete(model.keys().next().value ?? '');
            evicted++;
          }
        } else {
          expect(store.taintsOf(key, 0).length > 0).toBe(model.has(key));
          if (model.delete(key)) model.set(key, true);
        }
        expect(store.stats()).toEqual({ sessions: model.size, taints: model.size, evicted, taintsDropped: 0 });
      }
      for (const key of keys) expect(store.taintsOf(key, 0).length > 0).toBe(model.has(key));
    }));
  });

  // Once a Map's table has reached V8's old generation, each table that
  // replaces it is referenced from the dead one and promoted, with the entries
  // it holds, until a full GC. Keeping a Map in recency order by delete and
  // re-add replaces its table every few requests; the Map control shows the
  // test can tell the two apart. A fresh node each, with the sidecar's 2 MB
  // semi-spaces: the test runner's own heap would add full GCs of its own.
  it('leaves no garbage for the old generation when requests alternate between aged sessions (a Map in recency order does)', () => {
    const majorGcs = (kind: string): number => Number(execFileSync(process.execPath, ['--expose-gc', '--max-semi-space-size=2', CHURN, kind], { encoding: 'utf8' }).trim());
    expect(majorGcs('map')).toBeGreaterThan(0);
    expect(majorGcs('store')).toBe(0);
  });
});
