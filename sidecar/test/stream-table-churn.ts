// Run by stream-table.test.ts in a fresh node: streams open and close on a
// table (StreamTable or Map, argv[2]) that has reached the old generation;
// prints the number of full GCs the churn caused.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { StreamTable } from '../src/authz/h2/stream-table.js';

interface Stream { readonly id: number; readonly request?: unknown[] }

const kind = process.argv[2];
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const table = new StreamTable<Stream>(2000);
const map = new Map<number, Stream>();
const open = kind === 'map' ? (s: Stream): void => void map.set(s.id, s) : (s: Stream): void => table.add(s);
const close = kind === 'map' ? (s: Stream): void => void map.delete(s.id) : (s: Stream): void => table.delete(s);

/** What a request holds while its stream is open: a few kilobytes of short-lived objects. */
function requestGarbage(): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < 40; i++) out.push({ i, name: `header-${i}`, value: [i, i + 1] });
  return out;
}

const live: Stream[] = [];
let id = 1;
for (let i = 0; i < 16; i++, id += 2) live.push({ id });
live.forEach(open);
gc(); // the table and its 16 streams are in the old generation now

let major = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as { readonly detail?: { readonly kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
});
observer.observe({ entryTypes: ['gc'] });
for (let i = 0; i < 60_000; i++, id += 2) {
  const s = { id, request: requestGarbage() };
  open(s);
  live.push(s);
  close(live.shift() as Stream);
}
// Node records a GC's entry from a setImmediate callback after the GC; the observer hears of it on a later turn.
setImmediate(() => setImmediate(() => {
  observer.disconnect();
  process.stdout.write(`${major}\n`);
}));
