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
// up to `maxSlots`, and past that the colliding stream waits in a Map. The
// peer chooses the ids, so it could make every stream collide: the Map keeps
// that case at one lookup rather than a walk over up to `maxSlots / 2` streams.
export class StreamTable<S extends { readonly id: number }> {
  private slots: (S | undefined)[];
  private mask: number;
  private readonly maxSize: number;
  /** Streams whose slot held another open stream when the array was at its largest. */
  private readonly overflow = new Map<number, S>();
  private count = 0;

  /** `maxSlots` is rounded up to a power of two; the array starts at `initialSlots` (16). */
  constructor(maxSlots: number, initialSlots = 16) {
    this.maxSize = powerOfTwoAtLeast(maxSlots);
    const size = Math.min(powerOfTwoAtLeast(initialSlots), this.maxSize);
    this.slots = new Array<S | undefined>(size).fill(undefined);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  get(id: number): S | undefined {
    const s = this.slots[(id >>> 1) & this.mask];
    if (s !== undefined && s.id === id) return s;
    return this.overflow.size === 0 ? undefined : this.overflow.get(id);
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
      if (this.slots.length >= this.maxSize) {
        this.overflow.set(stream.id, stream);
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
    if (this.overflow.get(stream.id) !== stream) return;
    this.overflow.delete(stream.id);
    this.count--;
  }

  /** The open streams, in no particular order (a copy: the caller may delete while it walks). */
  values(): S[] {
    const out: S[] = [];
    for (const s of this.slots) if (s !== undefined) out.push(s);
    out.push(...this.overflow.values());
    return out;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.overflow.clear();
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
