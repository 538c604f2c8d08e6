// Run by stream-table.test.ts in a fresh node: streams open and close on a
// table (StreamTable or Map, argv[2]) that has reached the old generation;
// prints the number of full GCs the churn caused.
import { printMajorGcsOf, requestGarbage } from '../../common/test/major-gcs.js';
import { StreamTable } from '../src/authz/h2/stream-table.js';

interface Stream { readonly id: number; readonly request?: unknown[] }

const kind = process.argv[2];
const table = new StreamTable<Stream>(2000);
const map = new Map<number, Stream>();
const open = kind === 'map' ? (s: Stream): void => void map.set(s.id, s) : (s: Stream): void => table.add(s);
const close = kind === 'map' ? (s: Stream): void => void map.delete(s.id) : (s: Stream): void => table.delete(s);

const live: Stream[] = [];
let id = 1;
for (let i = 0; i < 16; i++, id += 2) live.push({ id });
live.forEach(open);
// The table and its 16 streams reach the old generation first; each request
// holds a few kilobytes of short-lived objects while its stream is open.
printMajorGcsOf(() => {
  for (let i = 0; i < 60_000; i++, id += 2) {
    const s = { id, request: requestGarbage(40) };
    open(s);
    live.push(s);
    close(live.shift() as Stream);
  }
});
