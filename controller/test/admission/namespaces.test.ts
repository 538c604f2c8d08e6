// freshNamespaceLabels: every review sees the namespace as it is after the
// review arrived (no cache that could answer from before a label change), at
// most one GET per namespace in flight plus one shared by the reviews queued
// behind it, and a lookup that hangs fails in time instead of timing the
// webhook out.
import { freshNamespaceLabels } from '../../src/admission/index.js';

/** A lookup whose answers the test releases one by one. */
function gatedLookup(): { lookup: (ns: string) => Promise<Record<string, string>>; calls: number; inFlight: number; maxInFlight: number; release: (labels: Record<string, string>) => void } {
  const waiting: ((labels: Record<string, string>) => void)[] = [];
  const state = {
    calls: 0, inFlight: 0, maxInFlight: 0,
    lookup: (): Promise<Record<string, string>> => {
      state.calls++;
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      return new Promise((resolve) => { waiting.push((l) => { state.inFlight--; resolve(l); }); });
    },
    release: (labels: Record<string, string>): void => { waiting.shift()?.(labels); },
  };
  return state;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('namespace labels for admission', () => {
  it('reads the namespace again for every review: a label set between two reviews is seen by the second', async () => {
    let labels: Record<string, string> = {};
    const read = freshNamespaceLabels(() => Promise.resolve(labels));
    expect(await read('team-a')).toEqual({});
    labels = { 'agentwarden.io/inject': 'enabled' };
    expect(await read('team-a')).toEqual({ 'agentwarden.io/inject': 'enabled' });
  });

  it('does not hand a review the answer of a read that started before it arrived', async () => {
    const gate = gatedLookup();
    const read = freshNamespaceLabels(gate.lookup);
    const early = read('team-a');
    await tick();
    // The namespace is enabled now; a review arriving after that must not get the read already in flight.
    const late = read('team-a');
    gate.release({});
    expect(await early).toEqual({});
    await tick();
    gate.release({ 'agentwarden.io/inject': 'enabled' });
    expect(await late).toEqual({ 'agentwarden.io/inject': 'enabled' });
  });

  it('keeps one read per namespace in flight and one queued, shared by every review that waits behind it', async () => {
    const gate = gatedLookup();
    const read = freshNamespaceLabels(gate.lookup);
    const first = read('team-a');
    await tick();
    const queued = Array.from({ length: 50 }, () => read('team-a'));
    await tick();
    expect(gate.calls).toBe(1);
    gate.release({ v: '1' });
    await first;
    await tick();
    gate.release({ v: '2' });
    expect(await Promise.all(queued)).toEqual(Array.from({ length: 50 }, () => ({ v: '2' })));
    expect(gate.calls).toBe(2);
    expect(gate.maxInFlight).toBe(1);
  });

  it('says that a namespace does not exist', async () => {
    const read = freshNamespaceLabels(() => Promise.resolve(undefined));
    expect(await read('gone')).toBeUndefined();
  });

  it('fails a lookup that takes too long, and reads again for the next review', async () => {
    let hang = true;
    const read = freshNamespaceLabels(() => (hang ? new Promise(() => undefined) : Promise.resolve({ ok: 'yes' })), { timeoutMs: 30 });
    await expect(read('slow')).rejects.toThrow('reading namespace slow took longer than 30 ms');
    hang = false;
    // The hung read gave its place up at the deadline: the next review gets a read of its own.
    expect(await read('slow')).toEqual({ ok: 'yes' });
  });

  it('passes a lookup failure on to the review', async () => {
    const read = freshNamespaceLabels(() => Promise.reject(new Error('connection refused')));
    await expect(read('team-a')).rejects.toThrow('connection refused');
  });
});
