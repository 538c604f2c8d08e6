// The hand-written CheckRequest decoder against protobuf-es's fromBinary, on
// generated requests, on concatenations (protobuf's merge) and on mutated
// bytes: wherever protobuf-es decodes, the decoder gives the same fields.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { CheckRequestSchema, type CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { decodeCheckRequest } from '../src/check-request-wire.js';
import { readCheckRequest } from '../src/request.js';
import { checkRequests, classify, project } from './check-request-wire-helpers.js';

/** Fixed, so that every run checks the same cases; change it to explore others. */
const SEED = 20261129;
// Shrinking requests this large takes minutes: a failure reports the first counterexample.
const RUN = { seed: SEED, endOnFailure: true };
const ALL = { body: true, headers: true };

function pbes(bytes: Uint8Array): CheckRequest {
  return fromBinary(CheckRequestSchema, bytes, { readUnknownFields: false });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

function attempt(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (error: unknown) {
    return { ok: false, error };
  }
}

type Mutation = { readonly op: 'xor' | 'set' | 'insert' | 'delete' | 'truncate'; readonly at: number; readonly byte: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('xor', 'xor', 'set', 'insert', 'delete', 'truncate'),
  at: fc.nat(),
  byte: fc.oneof(fc.integer({ min: 1, max: 255 }), fc.constantFrom(0x80, 0xff, 0x00, 0x01, 0x0a, 0x12, 0x03, 0x04, 0x0b, 0x0c)),
});

function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let out = Array.from(bytes);
  for (const m of mutations) {
    if (out.length === 0) break;
    const at = m.at % out.length;
    if (m.op === 'xor') out[at] = (out[at] ?? 0) ^ m.byte;
    else if (m.op === 'set') out[at] = m.byte;
    else if (m.op === 'insert') out.splice(at, 0, m.byte);
    else if (m.op === 'delete') out.splice(at, 1);
    else out = out.slice(0, at);
  }
  return Uint8Array.from(out);
}

describe('decodeCheckRequest against protobuf-es fromBinary', () => {
  it('decodes every generated CheckRequest to the same fields, and readCheckRequest reads the same view from both', () => {
    fc.assert(fc.property(checkRequests, (x) => {
      const bytes = toBinary(CheckRequestSchema, x);
      const ours = decodeCheckRequest(bytes);
      const theirs = pbes(bytes);
      expect(project(ours)).toEqual(project(theirs));
      expect(readCheckRequest(ours, ALL)).toEqual(readCheckRequest(theirs, ALL));
    }), { ...RUN, numRuns: 1500 });
  });

  it('merges a concatenation of two requests as protobuf-es does (last scalar wins, messages merge, maps overwrite, lists append)', () => {
    fc.assert(fc.property(checkRequests, checkRequests, (a, b) => {
      const bytes = concat(toBinary(CheckRequestSchema, a), toBinary(CheckRequestSchema, b));
      expect(project(decodeCheckRequest(bytes))).toEqual(project(pbes(bytes)));
    }), { ...RUN, numRuns: 600 });
  });

  it('on mutated bytes, decodes whatever protobuf-es decodes to the same fields and otherwise throws a plain Error', () => {
    const seen = { compared: 0, bothThrew: 0, anomaly: 0, toleratedInSkipped: 0 };
    fc.assert(fc.property(checkRequests, fc.array(mutation, { minLength: 1, maxLength: 3 }), (x, ms) => {
      const bytes = mutate(toBinary(CheckRequestSchema, x), ms);
      const ours = attempt(() => decodeCheckRequest(bytes));
      const theirs = attempt(() => pbes(bytes));
      if (!ours.ok) expect(Object.getPrototypeOf(ours.error)).toBe(Error.prototype);
      const kind = classify(bytes);
      if (kind === 'anomaly') {
        seen.anomaly++;
      } else if (kind === 'fails-in-skipped') {
        expect(theirs.ok).toBe(false);
        seen.toleratedInSkipped++;
      } else if (kind === 'fails-in-read') {
        expect(theirs.ok).toBe(false);
        expect(ours.ok).toBe(false);
        seen.bothThrew++;
      } else {
        expect(theirs.ok).toBe(true);
        expect(ours.ok).toBe(true);
        if (ours.ok && theirs.ok) expect(project(ours.value as CheckRequest)).toEqual(project(theirs.value as CheckRequest));
        seen.compared++;
      }
    }), { ...RUN, numRuns: 4000 });
    // The mutations must reach every case, or this test proves little.
    expect(seen.compared).toBeGreaterThan(300);
    expect(seen.bothThrew).toBeGreaterThan(300);
    expect(seen.anomaly).toBeGreaterThan(20);
    expect(seen.toleratedInSkipped).toBeGreaterThan(20);
  });
});
