// make bench-impls compares like with like: on the bench's own inputs, each
// hand-written part and the library code it replaced give the same decisions
// and write the same bytes, and both Check servers give the same answers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { CheckRequestSchema, CheckResponseSchema } from '../../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import { decodeCheckRequest, evaluate, TokenBuckets, type LoadedSnapshot } from '../../../policy/src/index.js';
import { readCheckRequest } from '../../../policy/src/request.js';
import { startAuthzServer, type AuthzServer } from '../../../sidecar/src/authz/server.js';
import { checkResponse } from '../../../sidecar/src/authz/respond.js';
import { encodeCheckResponse } from '../../../sidecar/src/authz/response-wire.js';
import { traceProtoSerializer } from '../../../sidecar/src/telemetry/otlp-trace-proto.js';
import { MIX } from '../../compare/mix.js';
import { benchSnapshot, DECISION_ID, decodePairs, encodePair, envoyLikeRequest, mixDecisions, mixRequests, otlpPair, spanBatch } from '../pairs.js';
import { checkSameAnswers, SERVER_IMPLS, throughputBodies, withoutDecisionId } from '../server.js';

const NOW_MS = Date.UTC(2026, 10, 29, 14, 13);
let loaded: LoadedSnapshot;
beforeAll(() => {
  loaded = benchSnapshot();
});

describe('the CheckRequest decode pair', () => {
  const inputs = [...mixRequests(), envoyLikeRequest()];

  it('gives the decision protobuf-es gives, on every request of the bench mix and the Envoy-like one', () => {
    const decide = (fields: Parameters<typeof evaluate>[1]): unknown => evaluate(loaded, fields, { nowMs: NOW_MS, rateLimiter: new TokenBuckets() });
    const wire = inputs.map((b) => decide(decodeCheckRequest(b)));
    const library = inputs.map((b) => decide(fromBinary(CheckRequestSchema, b, { readUnknownFields: false })));
    expect(wire).toEqual(library);
    // The mix's own expectations: the comparison runs on allowed and denied requests alike.
    expect(wire.slice(0, MIX.length).map((d) => ((d as { allowed: boolean }).allowed ? 'allow' : 'deny'))).toEqual(MIX.map((e) => e.expect));
  });

  it('gives the request view (what rules match against) protobuf-es gives', () => {
    for (const b of inputs) {
      const needs = { body: true, headers: true };
      expect(readCheckRequest(decodeCheckRequest(b), needs)).toEqual(readCheckRequest(fromBinary(CheckRequestSchema, b, { readUnknownFields: false }), needs));
    }
  });

  it('runs both sides to the same result', () => {
    for (const p of [...decodePairs('mix', 'mix', mixRequests()), ...decodePairs('envoy', 'envoy', [envoyLikeRequest()])]) {
      expect(p.ours.run()).toBe(p.library.run());
    }
  });
});

describe('the CheckResponse encode pair', () => {
  it('writes the bytes protobuf-es writes, for every decision of the bench mix', () => {
    const decisions = mixDecisions(loaded);
    expect(new Set(decisions.map((d) => d.allowed))).toEqual(new Set([true, false]));
    for (const d of decisions) {
      expect(Buffer.from(encodeCheckResponse(d, DECISION_ID))).toEqual(Buffer.from(toBinary(CheckResponseSchema, checkResponse(d, DECISION_ID))));
    }
    const p = encodePair(decisions);
    expect(p.ours.run()).toBe(p.library.run());
  });
});

describe('the OTLP serializer pair', () => {
  it('writes the bytes the SDK writes for the bench batch, from plain spans and from spans encoded when queued', () => {
    const sdk = Buffer.from(ProtobufTraceSerializer.serializeRequest(spanBatch(true)) ?? []);
    expect(sdk.length).toBeGreaterThan(0);
    expect(Buffer.from(traceProtoSerializer.serializeRequest(spanBatch(true)) ?? [])).toEqual(sdk);
    expect(Buffer.from(traceProtoSerializer.serializeRequest(spanBatch(false)) ?? [])).toEqual(sdk);
    const p = otlpPair(spanBatch(true));
    expect(p.ours.run()).toBe(p.library.run());
  });
});

describe('the Check server pair', () => {
  const servers: AuthzServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('gets the same answer, byte for byte, from both servers for each request h2load sends', async () => {
    const handler = (bytes: Uint8Array): Uint8Array =>
      encodeCheckResponse(evaluate(loaded, decodeCheckRequest(bytes), { nowMs: NOW_MS, rateLimiter: new TokenBuckets() }), DECISION_ID);
    for (const impl of SERVER_IMPLS) servers.push(await startAuthzServer('127.0.0.1:0', handler, 1 << 20, { impl }));
    const sidecars = SERVER_IMPLS.map((impl, i) => ({ impl, pid: 0, address: servers[i]!.address, stop: () => Promise.resolve() }));
    await expect(checkSameAnswers(sidecars, throughputBodies())).resolves.toBeUndefined();
  });

  it('tells answers apart that differ in more than the decision id', async () => {
    let n = 0;
    const handler = (): Uint8Array => encodeCheckResponse({
      allowed: false, mode: 'Enforce', policy: 'p', rule: `r${n++}`, reason: 'x', auditDecision: null, headers: [], request: undefined,
    }, DECISION_ID);
    const own = await startAuthzServer('127.0.0.1:0', handler, 1 << 20, { impl: 'http2' });
    servers.push(own);
    const twice = [{ impl: 'http2' as const, pid: 0, address: own.address, stop: () => Promise.resolve() }, { impl: 'grpc-js' as const, pid: 0, address: own.address, stop: () => Promise.resolve() }];
    await expect(checkSameAnswers(twice, throughputBodies())).rejects.toThrow(/answers the allowed request differently/);
  });

  it('blanks only the decision id when comparing', () => {
    expect(withoutDecisionId(Buffer.from(`id ${DECISION_ID} rule gh-comment`)).toString()).toBe(`id ${'0'.repeat(32)} rule gh-comment`);
  });
});
