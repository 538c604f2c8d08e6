// ConcurrencyLimit (kube/concurrency.ts): the controller's TokenReviews run at
// most `limit` at once, the rest in order, and a failing call frees its slot.
import { describe, expect, it } from '@jest/globals';
import { ConcurrencyLimit } from '../src/kube/concurrency.js';

/** A call that stays in flight until released. */
function pending(): { promise: Promise<string>; release: (v: string) => void; fail: (e: Error) => void } {
  let release!: (v: string) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<string>((res, rej) => { release = res; fail = rej; });
  return { promise, release, fail };
}

describe('ConcurrencyLimit', () => {
  it('runs at most `limit` calls at once and starts the others in order as calls finish or fail', async () => {
    const limit = new ConcurrencyLimit(2);
    const calls = Array.from({ length: 5 }, () => pending());
    const started: number[] = [];
    const results = calls.map((c, i) => limit.run(() => { started.push(i); return c.promise; }));
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect(limit.queued).toBe(3);
    calls[1]?.release('one');
    await expect(results[1]).resolves.toBe('one');
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    calls[0]?.fail(new Error('API server unavailable'));
    await expect(results[0]).rejects.toThrow('API server unavailable');
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2, 3]);
    for (const c of calls) c.release('ok');
    await Promise.all(results.slice(2));
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(limit.queuedTotal).toBe(3);
    // Every slot came back: two new calls start at once.
    const more = [pending(), pending()];
    const startedNow: number[] = [];
    const runs = more.map((c, i) => limit.run(() => { startedNow.push(i); return c.promise; }));
    await new Promise((r) => setImmediate(r));
    expect(startedNow).toEqual([0, 1]);
    for (const c of more) c.release('x');
    await Promise.all(runs);
  });

  it('refuses a limit that is not a whole number above 0', () => {
    expect(() => new ConcurrencyLimit(0)).toThrow('concurrency limit must be a whole number above 0, not 0');
  });
});
