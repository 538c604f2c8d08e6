// A connection's open streams by id, without a Map.
//
// Streams open and close once per request, so a Map of them is set and
// deleted thousands of times a second, and V8 rehashes its table every few
// deletions. V8 links each replaced Map table to its successor (for live
// iterators). Once one of a connection's tables has lived long enough to
// reach the old generation (any quiet moment is enough), every table after
// it is referenced from a dead old table, survives each scavenge until the
// next full GC and is promoted, with the streams and request state it holds:
// a chain that goes on as long as the connection. Under the bench's closed
// loop that was the sidecar's old-generation garbage and most of its RSS
// growth under load: make bench-memory, span export off, 2 full GCs per
// 100,000 requests and a 98.1 MiB peak with the Map, 0 and 84.2 MiB with this
// table (2026-12-06, README "Request state promoted through a Map's replaced tables").
//
// Here a stream lives in the slot its id maps to; the array is replaced only
// to grow, so nothing links an old array to the new one. Client stream ids
// are odd and increasing, so the open ones map to distinct slots unless one
// outlives as many later streams as there are slots: then the array doubles,
// up to `maxSlots`, and past that the colliding stream waits in a short list.
export class StreamTable<S extends { readonly id: number }> {
  private slots: (S | undefined)[];
  private mask: number;
  /** Streams whose slot held another open stream when the array was at its largest. */
  private readonly overflow: S[] = [];
  private count = 0;

  /** `maxSlots` is rounded up to a power of two; the array starts at `initialSlots` (16). */
  constructor(private readonly maxSlots: number, initialSlots = 16) {
    const size = Math.min(powerOfTwoAtLeast(initialSlots), powerOfTwoAtLeast(maxSlots));
    this.slots = new Array<S | undefined>(size).fill(undefined);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  get(id: number): S | undefined {
    const s = this.slots[(id >>> 1) & this.mask];
    if (s !== undefined && s.id === id) return s;
    return this.overflow.length === 0 ? undefined : this.overflow.find((o) => o.id === id);
  }

  /** Adds a stream whose id is not in the table. */
  add(stream: S): void {
    this.count++;
    for (;;) {
      const i = (stream.id >>> 1) & this.mask;
      if (this.slots[i] === undefined) {
        this.slots[i] = stream;
        return;
      }
      if (this.slots.length >= powerOfTwoAtLeast(this.maxSlots)) {
        this.overflow.push(stream);
        return;
      }
      this.grow();
    }
  }

  delete(stream: S): void {
    const i = (stream.id >>> 1) & this.mask;
    if (this.slots[i] === stream) {
      this.slots[i] = undefined;
      this.count--;
      return;
    }
    const j = this.overflow.indexOf(stream);
    if (j < 0) return;
    this.overflow.splice(j, 1);
    this.count--;
  }

  /** The open streams, in no particular order (a copy: the caller may delete while it walks). */
  values(): S[] {
    const out: S[] = [];
    for (const s of this.slots) if (s !== undefined) out.push(s);
    out.push(...this.overflow);
    return out;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.overflow.length = 0;
    this.count = 0;
  }

  private grow(): void {
    const old = this.slots;
    const size = old.length * 2;
    this.slots = new Array<S | undefined>(size).fill(undefined);
    this.mask = size - 1;
    for (const s of old) if (s !== undefined) this.slots[(s.id >>> 1) & this.mask] = s;
  }
}

function powerOfTwoAtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
