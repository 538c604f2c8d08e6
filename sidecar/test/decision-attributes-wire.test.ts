// A decision span's attributes written straight from the decision
// (decision-attributes-wire.ts) against the readable definition: the record
// decisionAttributes builds, written by the generic attribute writer. Same
// bytes for every decision, written once and again (the second time from the
// encoded values it keeps), and the same span as the SDK's span would be.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DecisionAttributes, decisionAttributes } from '../src/telemetry/attributes.js';
import { writeAttributes } from '../src/telemetry/attribute-wire.js';
import { writeDecisionAttributes } from '../src/telemetry/decision-attributes-wire.js';
import { DecisionSpan } from '../src/telemetry/decision-span.js';
import { encodeSpan, writeDecisionSpanFields } from '../src/telemetry/otlp-trace-proto.js';
import { WireWriter } from '../src/wire-writer.js';
import { decisionArbitrary } from './decision-arbitrary.js';

// Short ASCII, any Unicode, and long enough for two-byte lengths; a few values repeat.
const text = fc.oneof(fc.constantFrom('', 'allow', 'support-agent', 'gh-comment'), fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ minLength: 120, maxLength: 300 }));
const decision = decisionArbitrary(text);
const pod = fc.record({ namespace: text, name: text });

// One writer, used again (as a span batch's is): what the encoder keeps must not be a view of it.
const reused = new WireWriter(16);

function direct(a: DecisionAttributes): Buffer {
  reused.reset();
  writeDecisionAttributes(reused, 9, a);
  return Buffer.from(reused.finish());
}

describe('writeDecisionAttributes', () => {
  it('writes the bytes of decisionAttributes\' record, the first time and again', () => {
    fc.assert(fc.property(decision, text, pod, (d, version, p) => {
      const reference = new WireWriter(16);
      writeAttributes(reference, decisionAttributes(d, version, p), 9);
      const a = new DecisionAttributes(d, version, p);
      expect(direct(a).equals(Buffer.from(reference.finish()))).toBe(true);
      expect(direct(a).equals(Buffer.from(reference.finish()))).toBe(true);
    }), { numRuns: 2000 });
  });

  it('writes a span the SDK\'s span of the same decision encodes the same', () => {
    const resource = resourceFromAttributes({ 'service.name': 'agentwarden-sidecar' });
    fc.assert(fc.property(decision, text, pod, (d, version, p) => {
      const fields = {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: undefined, traceState: undefined,
        startMs: 1.8e12, endMs: 1.8e12 + 0.05, attributes: new DecisionAttributes(d, version, p),
      };
      const w = new WireWriter(64);
      writeDecisionSpanFields(w, fields);
      const span = new DecisionSpan({ ...fields, resource });
      expect(Buffer.from(w.finish()).equals(Buffer.from(encodeSpan(span)))).toBe(true);
      expect(span.attributes).toEqual(decisionAttributes(d, version, p));
    }), { numRuns: 300 });
  });
});
