// StatusWriter: one pass writes the statuses that changed, only where this
// replica may write, and a failed write neither stops the pass nor later ones.
import { describe, expect, it } from '@jest/globals';
import { StatusWriter } from '../src/status/writer.js';
import { computeStatus, type PolicyStatus } from '../src/status/compute.js';
import { parsePolicies, type PolicyEntry } from '../src/reconcile/snapshots.js';
import { allowSpec, policyObject, slimPod } from './helpers.js';

const NOW = new Date('2025-03-01T10:00:00.000Z');

function writerOf(entries: PolicyEntry[], options: { mayWrite?: boolean; failFor?: string } = {}) {
  const writes: { name: string; status: PolicyStatus }[] = [];
  const logs: string[] = [];
  const writer = new StatusWriter({
    mayWrite: () => options.mayWrite ?? true,
    entries: () => entries,
    pods: () => [slimPod()],
    podSynced: () => true,
    write: (_ns, name, status) => {
      if (name === options.failFor) return Promise.reject(new Error('the server is unavailable'));
      writes.push({ name, status: status as PolicyStatus });
      return Promise.resolve();
    },
    log: (level, msg, fields) => { logs.push(`${level} ${msg} ${JSON.stringify(fields)}`); },
    now: () => NOW,
  });
  return { writer, writes, logs };
}

describe('StatusWriter', () => {
  it('writes the status of each policy whose computed status differs from the stored one', async () => {
    const [a, b] = parsePolicies([policyObject('a', allowSpec('a.example.com')), policyObject('b', allowSpec('b.example.com'))]);
    const unchanged = { ...b!, object: { ...b!.object, status: computeStatus(b!, [slimPod()], () => true, NOW.toISOString()) } };
    const { writer, writes } = writerOf([a!, unchanged]);
    writer.pass();
    await writer.idle();
    expect(writes.map((w) => w.name)).toEqual(['a']);
    expect(writes[0]?.status.pods).toEqual({ selected: 1, synced: 1 });
  });

  it('writes nothing on a replica that may not write (not the leader)', async () => {
    const { writer, writes } = writerOf(parsePolicies([policyObject('a', allowSpec('a.example.com'))]), { mayWrite: false });
    writer.pass();
    await writer.idle();
    expect(writes).toEqual([]);
  });

  it('logs a failed write naming the policy, writes the others, and still writes on the next pass', async () => {
    const entries = parsePolicies([policyObject('a', allowSpec('a.example.com')), policyObject('b', allowSpec('b.example.com'))]);
    const { writer, writes, logs } = writerOf(entries, { failFor: 'a' });
    writer.pass();
    writer.pass();
    await writer.idle();
    expect(writes.map((w) => w.name)).toEqual(['b', 'b']);
    expect(logs).toHaveLength(2);
    expect(logs[0]).toContain('status write failed; will retry on the next change');
    expect(logs[0]).toContain('"policy":"support/a"');
    expect(logs[0]).toContain('the server is unavailable');
  });
});
