// PushQueue (distribution/push-queue.ts): at most maxConcurrent pushes in
// flight, started in the order they were queued, one queued push per stream
// that sends the newest state, a closed stream's push dropped, and the event
// loop yielded to between slices. Real timers; every wait is on an event.
import { describe, expect, it } from '@jest/globals';
import { PushQueue, PushQueueMetrics, type PushJob } from '../src/distribution/push-queue.js';

/** Resolves after `turns` turns of the event loop (each drain slice runs in one). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** A job that records its start and hands back its `done` (it never finishes by itself). */
function recorder(): { started: string[]; done: Map<string, () => void>; job: (key: string, read?: () => string) => PushJob } {
  const started: string[] = [];
  const done = new Map<string, () => void>();
  return {
    started, done,
    job: (key, read) => (force, d) => {
      started.push(`${key}${read === undefined ? '' : `@${read()}`}${force ? '!' : ''}`);
      done.set(key, d);
      return true;
    },
  };
}

describe('PushQueue', () => {
  it('keeps at most maxConcurrent pushes in flight and starts the rest in order as slots free', async () => {
    const q = new PushQueue<string>({ maxConcurrent: 3 });
    const r = recorder();
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) q.enqueue(k, false, r.job(k));
    await turns();
    expect(r.started).toEqual(['a', 'b', 'c']);
    expect(q.stats()).toMatchObject({ queued: 3, inFlight: 3, started: 3 });
    r.done.get('b')?.();
    await turns();
    expect(r.started).toEqual(['a', 'b', 'c', 'd']);
    r.done.get('a')?.();
    r.done.get('c')?.();
    await turns();
    expect(r.started).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(q.stats()).toMatchObject({ queued: 0, inFlight: 3 });
    // A second done of the same push frees nothing twice.
    r.done.get('b')?.();
    expect(q.stats().inFlight).toBe(3);
  });

  it('drops the push of a stream closed while queued, and frees the slot of one closed in flight', async () => {
    const q = new PushQueue<string>({ maxConcurrent: 1 });
    const r = recorder();
    q.enqueue('a', false, r.job('a'));
    q.enqueue('b', false, r.job('b'));
    q.enqueue('c', false, r.job('c'));
    await turns();
    expect(r.started).toEqual(['a']);
    q.forget('b');
    // a's stream closes before it took the message: its write callback never comes.
    q.forget('a');
    await turns();
    expect(r.started).toEqual(['a', 'c']);
    expect(q.stats()).toMatchObject({ queued: 0, inFlight: 1 });
  });

  it('merges a newer push into the one queued for the same stream: one push, the newest state, force kept', async () => {
    const q = new PushQueue<string>({ maxConcurrent: 1 });
    const r = recorder();
    let version = 'v1';
    q.enqueue('busy', false, r.job('busy'));
    q.enqueue('a', true, r.job('a', () => version));
    version = 'v2';
    q.enqueue('a', false, r.job('a', () => version));
    version = 'v3';
    await turns();
    expect(r.started).toEqual(['busy']);
    r.done.get('busy')?.();
    await turns();
    expect(r.started).toEqual(['busy', 'a@v3!']);
    expect(q.stats()).toMatchObject({ merged: 1, started: 2 });
  });

  it('runs a stream\'s next push only after its push in flight, without holding up other streams', async () => {
    const q = new PushQueue<string>({ maxConcurrent: 5 });
    const r = recorder();
    q.enqueue('a', false, r.job('a'));
    await turns();
    q.enqueue('a', false, r.job('a'));
    q.enqueue('b', false, r.job('b'));
    await turns();
    expect(r.started).toEqual(['a', 'b']);
    r.done.get('a')?.();
    await turns();
    expect(r.started).toEqual(['a', 'b', 'a']);
  });

  it('frees the slot at once when a push sends nothing, and goes on after a job that throws', async () => {
    const errors: unknown[] = [];
    const q = new PushQueue<string>({ maxConcurrent: 1 }, Date.now, (e) => { errors.push(e); });
    const started: string[] = [];
    q.enqueue('nothing', false, () => { started.push('nothing'); return false; });
    q.enqueue('throws', false, () => { started.push('throws'); throw new Error('encode failed'); });
    q.enqueue('last', false, () => { started.push('last'); return false; });
    await turns();
    expect(started).toEqual(['nothing', 'throws', 'last']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['encode failed']);
    expect(q.stats()).toMatchObject({ queued: 0, inFlight: 0 });
  });

  it('starts at most sliceSize pushes per turn of the event loop', async () => {
    const q = new PushQueue<number>({ maxConcurrent: 1000, sliceSize: 10 });
    const started: number[] = [];
    for (let i = 0; i < 35; i++) q.enqueue(i, false, () => { started.push(i); return false; });
    const perTurn: number[] = [];
    for (let t = 0; t < 6; t++) {
      await new Promise((r) => setImmediate(r));
      perTurn.push(started.length);
    }
    expect(perTurn).toEqual([10, 20, 30, 35, 35, 35]);
    expect(started).toEqual(Array.from({ length: 35 }, (_, i) => i));
  });

  it('frees the slot of a push its stream does not take within slotTimeoutMs', async () => {
    const q = new PushQueue<string>({ maxConcurrent: 1, slotTimeoutMs: 5 });
    const secondStarted = new Promise<void>((resolve) => {
      q.enqueue('stuck', false, () => true);
      q.enqueue('next', false, () => { resolve(); return false; });
    });
    await secondStarted;
    expect(q.stats().timedOut).toBe(1);
  });

  it('refuses a bound that is not a whole number above 0', () => {
    expect(() => new PushQueue({ maxConcurrent: 0 })).toThrow('maxConcurrent must be a whole number above 0');
    expect(() => new PushQueue({ maxConcurrent: 1.5 })).toThrow('maxConcurrent');
  });

  it('reports the queue on /metrics', async () => {
    const q = new PushQueue<string>({ maxConcurrent: 1 });
    const r = recorder();
    q.enqueue('a', false, r.job('a'));
    q.enqueue('b', false, r.job('b'));
    await turns();
    const text = new PushQueueMetrics(q, 1).render().join('\n');
    expect(text).toContain('agentwarden_snapshot_pushes_queued 1');
    expect(text).toContain('agentwarden_snapshot_pushes_in_flight 1');
    expect(text).toContain('agentwarden_snapshot_push_slots 1');
    expect(text).toContain('# TYPE agentwarden_snapshot_push_starts_total counter');
  });
});
