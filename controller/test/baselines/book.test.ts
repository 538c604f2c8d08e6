// The controller's baselines (pure): summaries merge per agent identity, what
// was seen while learning becomes the baseline, accepted operations join it,
// quarantines are recorded and releases end them, a restarted controller takes
// the baseline up from the status it wrote, and the status stays under its size bound.
import { create } from '@bufbuild/protobuf';
import { OperationSummarySchema, type OperationSummary } from '../../../proto/gen/agentwarden/v1/distribution_pb.js';
import { BaselineBook, DEFAULT_BASELINE_LIMITS, MAX_PENDING_SUMMARIES } from '../../src/baselines/book.js';

const T0 = Date.UTC(2026, 11, 6, 3);
const MINUTE = 60_000;
const KEY = 'support/agent';

function summary(ops: readonly [string, number, number][], extra: Partial<Omit<OperationSummary, '$typeName'>> = {}): OperationSummary {
  return create(OperationSummarySchema, {
    learningStartedMs: BigInt(T0),
    operations: ops.map(([operation, count, at]) => ({ operation, count, firstSeenMs: BigInt(at), lastSeenMs: BigInt(at) })),
    ...extra,
  });
}

describe('the baselines of agent identities', () => {
  it('learns what replicas report while learning, and only that: after learning a new operation is no baseline entry', () => {
    const book = new BaselineBook();
    book.merge('support', 'agent', 'agent-0', summary([['GET a.example/x', 3, T0 + MINUTE]], { windowCounts: [3, 5], windowMs: 60_000n, toMs: BigInt(T0 + MINUTE) }), 10 * MINUTE, T0 + MINUTE);
    book.merge('support', 'agent', 'agent-1', summary([['GET b.example/y', 1, T0 + 2 * MINUTE]]), 10 * MINUTE, T0 + 2 * MINUTE);
    const late = book.merge('support', 'agent', 'agent-1', summary([['GET c.example/z', 1, T0 + 11 * MINUTE], ['GET a.example/x', 2, T0 + 11 * MINUTE]]), 10 * MINUTE, T0 + 11 * MINUTE);
    expect(late.changed).toBe(false);
    const b = book.baseline(KEY);
    expect(b?.operations).toEqual(['GET a.example/x', 'GET b.example/y']);
    expect(Number(b?.learningUntilMs)).toBe(T0 + 10 * MINUTE);
    expect(b?.rateP95).toBe(5);
    expect(book.status(KEY)?.operations.find((o) => o.operation === 'GET a.example/x')?.count).toBe(5);
  });

  it('joins accepted operations, records a quarantine and ends it with a release not older than it', () => {
    const book = new BaselineBook();
    const q = book.merge('support', 'agent', 'agent-0', summary([], { quarantine: { $typeName: 'agentwarden.v1.AnomalyQuarantine', quarantined: true, sinceMs: BigInt(T0 + MINUTE), reason: '5 anomalies', releasedAtMs: 0n } }), MINUTE, T0 + MINUTE);
    expect(q.quarantined?.reason).toBe('5 anomalies');
    expect(book.quarantine(KEY, 'agent-0')?.quarantined).toBe(true);
    expect(book.status(KEY)?.quarantinedCount).toBe(1);
    const old = book.sync('support', { serviceAccount: 'agent', accepted: ['MCP m.internal tools/call x'], releases: [{ pod: 'agent-0', atMs: T0 }] }, undefined);
    expect(old.released).toEqual([]);
    expect(book.baseline(KEY)?.operations).toContain('MCP m.internal tools/call x');
    const now = book.sync('support', { serviceAccount: 'agent', accepted: ['MCP m.internal tools/call x'], releases: [{ pod: 'agent-0', atMs: T0 + 2 * MINUTE }] }, undefined);
    expect(now.released).toEqual(['agent-0']);
    expect(book.quarantine(KEY, 'agent-0')).toMatchObject({ quarantined: false, releasedAtMs: BigInt(T0 + 2 * MINUTE) });
    // A summary the sidecar sent before it heard of the release does not quarantine again.
    book.merge('support', 'agent', 'agent-0', summary([], { quarantine: { $typeName: 'agentwarden.v1.AnomalyQuarantine', quarantined: true, sinceMs: BigInt(T0 + MINUTE), reason: '5 anomalies', releasedAtMs: 0n } }), MINUTE, T0 + 3 * MINUTE);
    expect(book.quarantine(KEY, 'agent-0')?.quarantined).toBe(false);
  });

  it('takes a baseline up from the status a previous leader wrote', () => {
    const first = new BaselineBook();
    first.merge('support', 'agent', 'agent-0', summary([['GET a.example/x', 3, T0 + 1000]], { windowCounts: [4], windowMs: 60_000n, toMs: BigInt(T0 + 1000) }), 10 * MINUTE, T0 + 1000);
    const written = JSON.parse(JSON.stringify(first.status(KEY))) as Record<string, unknown>;
    const second = new BaselineBook();
    second.sync('support', { serviceAccount: 'agent', accepted: [], releases: [] }, written);
    expect(second.baseline(KEY)).toMatchObject({ operations: ['GET a.example/x'], learningStartedMs: BigInt(T0), learningUntilMs: BigInt(T0 + 10 * MINUTE), rateP95: 4 });
  });

  it('bounds operations per identity and the status size, counting what it drops', () => {
    const book = new BaselineBook({ ...DEFAULT_BASELINE_LIMITS, maxOperations: 50, maxStatusBytes: 4000 });
    const ops = Array.from({ length: 80 }, (_, i): [string, number, number] => [`GET h.example/${'p'.repeat(40)}/${i}`, 80 - i, T0 + 1]);
    book.merge('support', 'agent', 'agent-0', summary(ops, { operationsDropped: 7 }), MINUTE, T0 + 1);
    const status = book.status(KEY);
    expect(JSON.stringify(status).length).toBeLessThanOrEqual(4000);
    expect(status?.operationCount).toBe(50);
    // 30 over maxOperations, 7 the sidecar dropped, and those the size bound left out of the status.
    expect(status?.dropped.operations).toBe(30 + 7 + (50 - (status?.operations.length ?? 0)));
    expect(status?.operations[0]?.count).toBe(80);
  });

  it('forgets the quarantines and releases of pods that are gone', () => {
    const book = new BaselineBook();
    book.merge('support', 'agent', 'agent-0', summary([], { quarantine: { $typeName: 'agentwarden.v1.AnomalyQuarantine', quarantined: true, sinceMs: BigInt(T0), reason: 'r', releasedAtMs: 0n } }), MINUTE, T0);
    book.merge('support', 'agent', 'agent-1', summary([], { quarantine: { $typeName: 'agentwarden.v1.AnomalyQuarantine', quarantined: true, sinceMs: BigInt(T0), reason: 'r', releasedAtMs: 0n } }), MINUTE, T0);
    const before = book.revision(KEY) ?? 0;
    book.prunePods(KEY, (pod) => pod === 'agent-1');
    expect(book.status(KEY)?.quarantined.map((q) => q.pod)).toEqual(['agent-1']);
    expect(book.revision(KEY)).toBe(before + 1);
  });

  describe('two replicas, each hearing from its own sidecars (issue 20)', () => {
    const SPEC = { serviceAccount: 'agent', accepted: [], releases: [] };
    /** The AgentBaseline as the API server keeps it: a write on a stale resourceVersion is refused. */
    function store() {
      let version = 1;
      let status: Record<string, unknown> | undefined;
      return {
        read: () => ({ status, version: String(version) }),
        write(on: string, next: unknown): string {
          if (on !== String(version)) throw Object.assign(new Error('the object has been modified'), { code: 422 });
          status = JSON.parse(JSON.stringify(next)) as Record<string, unknown>;
          return String(++version);
        },
      };
    }
    const count = (book: BaselineBook, op: string): number | undefined => book.status(KEY)?.operations.find((o) => o.operation === op)?.count;

    it('write on top of each other\'s version: a stale write is refused, taken up, and written again; both converge on every summary', () => {
      const api = store();
      const a = new BaselineBook();
      const b = new BaselineBook();
      for (const book of [a, b]) book.sync('support', SPEC, api.read().status, api.read().version);
      a.merge('support', 'agent', 'agent-0', summary([['GET a.example/x', 3, T0 + 1000]]), 10 * MINUTE, T0 + 1000);
      b.merge('support', 'agent', 'agent-1', summary([['GET b.example/y', 1, T0 + 2000]]), 10 * MINUTE, T0 + 2000);
      const wa = a.beginWrite(KEY);
      const wb = b.beginWrite(KEY);
      if (wa === undefined || wb === undefined) throw new Error('nothing to write');
      a.writtenAt(KEY, wa, api.write(wa.version, wa.status));
      // b wrote on the version a replaced: refused; it takes a's version up with its own summary on top.
      expect(() => api.write(wb.version, wb.status)).toThrow('modified');
      b.writeFailed(KEY);
      for (const book of [a, b]) book.sync('support', SPEC, api.read().status, api.read().version);
      expect(count(b, 'GET a.example/x')).toBe(3);
      expect(count(b, 'GET b.example/y')).toBe(1);
      expect(b.dirty()).toEqual([KEY]);
      const again = b.beginWrite(KEY);
      if (again === undefined) throw new Error('nothing to write');
      b.writtenAt(KEY, again, api.write(again.version, again.status));
      for (const book of [a, b]) book.sync('support', SPEC, api.read().status, api.read().version);
      // Both hold the same baseline, and nothing was counted twice.
      for (const book of [a, b]) {
        expect(book.baseline(KEY)?.operations).toEqual(['GET a.example/x', 'GET b.example/y']);
        expect(count(book, 'GET a.example/x')).toBe(3);
        expect(count(book, 'GET b.example/y')).toBe(1);
        expect(book.dirty()).toEqual([]);
      }
    });

    it('counts a summary once when the informer shows its own write before the write returns', () => {
      const api = store();
      const a = new BaselineBook();
      a.sync('support', SPEC, api.read().status, api.read().version);
      a.merge('support', 'agent', 'agent-0', summary([['GET a.example/x', 3, T0 + 1000]]), 10 * MINUTE, T0 + 1000);
      const w = a.beginWrite(KEY);
      if (w === undefined) throw new Error('nothing to write');
      const version = api.write(w.version, w.status);
      // The watch event of the write arrives first, and a summary comes in meanwhile.
      a.sync('support', SPEC, api.read().status, api.read().version);
      a.merge('support', 'agent', 'agent-0', summary([['GET a.example/x', 2, T0 + 3000]]), 10 * MINUTE, T0 + 3000);
      a.writtenAt(KEY, w, version);
      expect(count(a, 'GET a.example/x')).toBe(5);
      expect(a.dirty()).toEqual([KEY]);
      a.sync('support', SPEC, api.read().status, api.read().version);
      expect(count(a, 'GET a.example/x')).toBe(5);
    });

    it('keeps at most MAX_PENDING_SUMMARIES unwritten summaries, counting the ones it drops', () => {
      const a = new BaselineBook();
      for (let i = 0; i < MAX_PENDING_SUMMARIES + 5; i++) a.merge('support', 'agent', 'agent-0', summary([['GET a.example/x', 1, T0 + i]]), 10 * MINUTE, T0 + i);
      expect(a.status(KEY)?.dropped.summaries).toBe(5);
      expect(a.beginWrite(KEY)?.included).toBe(MAX_PENDING_SUMMARIES);
    });
  });
});
