// cachedNamespaceLabels: answers are reused for a while, bounded in number,
// and a lookup that hangs fails in time instead of timing the webhook out.
import { cachedNamespaceLabels } from '../../src/admission/index.js';

describe('the namespace label cache', () => {
  it('reuses an answer within its time to live and asks again after it', async () => {
    let clock = 0;
    let calls = 0;
    const labels = cachedNamespaceLabels((ns) => { calls++; return Promise.resolve({ name: ns, call: String(calls) }); }, { ttlMs: 1000, now: () => clock });
    expect(await labels('a')).toEqual({ name: 'a', call: '1' });
    clock = 999;
    expect(await labels('a')).toEqual({ name: 'a', call: '1' });
    clock = 1000;
    expect(await labels('a')).toEqual({ name: 'a', call: '2' });
  });

  it('keeps at most maxEntries namespaces', async () => {
    let calls = 0;
    const labels = cachedNamespaceLabels(() => { calls++; return Promise.resolve({}); }, { maxEntries: 2, now: () => 0 });
    await labels('a'); await labels('b'); await labels('c');
    await labels('a');
    expect(calls).toBe(4);
  });

  it('remembers that a namespace does not exist', async () => {
    let calls = 0;
    const labels = cachedNamespaceLabels(() => { calls++; return Promise.resolve(undefined); }, { now: () => 0 });
    expect(await labels('gone')).toBeUndefined();
    expect(await labels('gone')).toBeUndefined();
    expect(calls).toBe(1);
  });

  it('fails a lookup that takes too long, and does not cache the failure', async () => {
    let hang = true;
    const labels = cachedNamespaceLabels(() => (hang ? new Promise(() => undefined) : Promise.resolve({ ok: 'yes' })), { timeoutMs: 30 });
    await expect(labels('slow')).rejects.toThrow('reading namespace slow took longer than 30 ms');
    hang = false;
    expect(await labels('slow')).toEqual({ ok: 'yes' });
  });
});
