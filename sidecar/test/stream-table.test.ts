// A connection's open streams by id (h2/stream-table.ts): the same answers as
// a Map, and, unlike a Map, no chain of replaced tables for V8 to promote.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { StreamTable } from '../src/authz/h2/stream-table.js';

interface Stream { readonly id: number }

const CHURN = fileURLToPath(new URL('./stream-table-churn.js', import.meta.url));

describe('StreamTable', () => {
  it('answers get, size and values as a Map would, through opens and closes in any order', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(40)), { maxLength: 400 }), (ops) => {
      const table = new StreamTable<Stream>(16, 4);
      const model = new Map<number, Stream>();
      let next = 1;
      for (const [open, pick] of ops) {
        if (open && model.size < 16) {
          const s = { id: next };
          next += 2;
          table.add(s);
          model.set(s.id, s);
        } else if (model.size > 0) {
          const s = [...model.values()][pick % model.size] as Stream;
          table.delete(s);
          model.delete(s.id);
        }
        expect(table.size).toBe(model.size);
      }
      for (let id = 1; id < next + 4; id += 2) expect(table.get(id)).toBe(model.get(id));
      expect(table.values().map((s) => s.id).sort((a, b) => a - b)).toEqual([...model.keys()].sort((a, b) => a - b));
    }));
  });

  it('keeps a stream that outlives many later ones: the array grows, then colliding streams wait beside it', () => {
    const table = new StreamTable<Stream>(8, 2);
    const old = { id: 1 };
    table.add(old);
    const seen: Stream[] = [];
    for (let id = 3; id < 200; id += 2) {
      const s = { id };
      table.add(s);
      expect(table.get(id)).toBe(s);
      expect(table.get(1)).toBe(old);
      seen.push(s);
      table.delete(s);
      expect(table.get(id)).toBeUndefined();
    }
    expect(table.size).toBe(1);
    expect(seen.every((s) => table.get(s.id) === undefined)).toBe(true);
    table.clear();
    expect([table.size, table.get(1), table.values()]).toEqual([0, undefined, []]);
  });

  it('ignores the close of a stream it does not hold', () => {
    const table = new StreamTable<Stream>(8);
    const a = { id: 5 };
    table.add(a);
    table.delete({ id: 5 });
    table.delete({ id: 7 });
    expect([table.size, table.get(5)]).toEqual([1, a]);
  });

  // The regression this file exists for. Once a Map's table has reached V8's
  // old generation, each table that replaces it is referenced from the dead one
  // and promoted, with the streams it holds, until a full GC: a connection's
  // request churn then fills the old generation. The Map control shows the test
  // can tell the two apart. A fresh node each (stream-table-churn.ts), with the
  // sidecar's 2 MB semi-spaces: the test runner's own heap would add full GCs of its own.
  it('leaves no garbage for the old generation when streams open and close on an aged table (a Map does)', () => {
    const majorGcs = (kind: string): number => Number(execFileSync(process.execPath, ['--expose-gc', '--max-semi-space-size=2', CHURN, kind], { encoding: 'utf8' }).trim());
    expect(majorGcs('map')).toBeGreaterThan(0);
    expect(majorGcs('table')).toBe(0);
  });
});
