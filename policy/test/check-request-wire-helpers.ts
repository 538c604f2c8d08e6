// Shared by the wire-decoder tests: the projection both decoders are compared
// on, random protobuf-es CheckRequests (read and unread fields alike), and the
// one kind of input where "same result as protobuf-es" is not promised.
import fc from 'fast-check';
import { create, ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { CheckRequestSchema, type CheckRequest } from '../../proto/gen/envoy/service/auth/v3/external_auth_pb.js';
import type { CheckRequestFields } from '../src/check-request.js';

/** Everything CheckRequestFields holds, as plain data (entries keep their order). */
export function project(c: CheckRequestFields): unknown {
  const a = c.attributes;
  if (a === undefined) return null;
  const req = a.request;
  const http = req?.http;
  const address = a.destination?.address?.address;
  const port = address?.case === 'socketAddress' ? address.value.portSpecifier : undefined;
  return {
    destination: a.destination === undefined ? null : {
      address: a.destination.address === undefined ? null : {
        case: address?.case ?? null,
        port: port === undefined ? null : { case: port.case ?? null, value: port.case === 'portValue' ? port.value : null },
      },
    },
    tlsSession: a.tlsSession === undefined ? null : { sni: a.tlsSession.sni },
    contextExtensions: Object.entries(a.contextExtensions),
    request: req === undefined ? null : {
      time: req.time === undefined ? null : { seconds: req.time.seconds, nanos: req.time.nanos },
      http: http === undefined ? null : {
        method: http.method, path: http.path, host: http.host, scheme: http.scheme, query: http.query,
        headers: Object.entries(http.headers),
        headerMap: http.headerMap === undefined ? null : http.headerMap.headers.map((h) => ({ key: h.key, value: h.value, rawValue: Array.from(h.rawValue) })),
        body: http.body, rawBody: Array.from(http.rawBody),
      },
    },
  };
}

/** A record with these entries in order, later ones winning; `__proto__` is an own key, as in protobuf-es. */
function record(entries: readonly (readonly [string, string])[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, writable: true, enumerable: true, configurable: true });
  return out;
}

const text = fc.oneof(
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  // Lone surrogates (encoded as U+FFFD), a byte-order mark, multi-byte characters.
  fc.string({ unit: fc.constantFrom('a', 'Z', '\ud800', '\udfff', '\ufeff', 'é', '€', '𝄞', '\0', '\x7f'), maxLength: 10 }),
  // Longer than the decoder's ASCII fast path.
  fc.string({ minLength: 250, maxLength: 300 }),
);
const headerName = fc.oneof(
  fc.constantFrom(':authority', 'host', 'Host', 'HOST', 'content-type', 'Content-Type', 'x-a', 'X-A', 'traceparent', 'TraceParent', 'tracestate',
    'x-envoy-auth-partial-body', '__proto__', 'constructor', 'toString', '0', '12', '1x', ''),
  text,
);
const entries = (key: fc.Arbitrary<string>): fc.Arbitrary<Record<string, string>> =>
  fc.array(fc.tuple(key, text), { maxLength: 8 }).map(record);
const bytes = fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ maxLength: 24 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 300, maxLength: 600 }) });
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

const portSpecifier = fc.oneof(
  fc.record({ case: fc.constant('portValue' as const), value: fc.nat(65535) }),
  fc.record({ case: fc.constant('namedPort' as const), value: text }),
);
const address = fc.oneof(
  { weight: 4, arbitrary: fc.record({ case: fc.constant('socketAddress' as const), value: fc.record({ address: text, portSpecifier, resolverName: text, ipv4Compat: fc.boolean() }, { requiredKeys: [] }) }) },
  { weight: 1, arbitrary: fc.record({ case: fc.constant('pipe' as const), value: fc.record({ path: text, mode: fc.nat(511) }) }) },
);
const peer = fc.record({
  address: opt(fc.record({ address })),
  service: text,
  labels: entries(text),
  principal: text,
});
const struct = fc.array(fc.tuple(text, text), { maxLength: 3 }).map((kv) => ({
  fields: Object.fromEntries(kv.map(([k, v]) => [k, { kind: { case: 'stringValue' as const, value: v } }])),
}));
const metadata = fc.array(fc.tuple(text, struct), { maxLength: 2 }).map((kv) => ({ filterMetadata: Object.fromEntries(kv) }));

const http = fc.record({
  id: text, method: fc.oneof(fc.constantFrom('GET', 'post', 'PATCH', ''), text), headers: entries(headerName),
  path: fc.oneof(fc.constantFrom('/', '/ok', '/a/b?x=1&y=%2F', ''), text), host: fc.oneof(fc.constantFrom('api.example.com', 'API.example.com:8443', ''), text),
  scheme: fc.constantFrom('http', 'https', ''), query: text, fragment: text, size: int64, protocol: text,
  body: fc.oneof(text, fc.json({ maxDepth: 2 }), fc.constant('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}')),
  rawBody: bytes,
  headerMap: opt(fc.record({ headers: fc.array(fc.record({ key: headerName, value: fc.oneof(fc.constant(''), text), rawValue: bytes }), { maxLength: 4 }) })),
}, { requiredKeys: [] });

/** Random protobuf-es CheckRequests: every read field, and values in fields the decoder skips. */
export const checkRequests: fc.Arbitrary<CheckRequest> = fc.record({
  source: opt(peer), destination: opt(peer),
  request: opt(fc.record({ time: opt(fc.record({ seconds: int64, nanos: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) })), http: opt(http) })),
  contextExtensions: entries(fc.oneof(fc.constant('agentwarden.io/tls-origination'), text)),
  metadataContext: opt(metadata), routeMetadataContext: opt(metadata),
  tlsSession: opt(fc.record({ sni: text })),
}, { requiredKeys: [] }).chain((attributes) => fc.oneof(
  { weight: 19, arbitrary: fc.constant(attributes).map((a) => create(CheckRequestSchema, { attributes: a })) },
  { weight: 1, arbitrary: fc.constant(null).map(() => create(CheckRequestSchema, {})) },
));

// The decoder walks these messages field by field; it steps over all others by their length.
const READ_TYPES = new Set([
  'envoy.service.auth.v3.CheckRequest', 'envoy.service.auth.v3.AttributeContext', 'envoy.service.auth.v3.AttributeContext.Request',
  'envoy.service.auth.v3.AttributeContext.HttpRequest', 'google.protobuf.Timestamp', 'envoy.config.core.v3.HeaderMap', 'envoy.config.core.v3.HeaderValue',
  'envoy.service.auth.v3.AttributeContext.Peer', 'envoy.config.core.v3.Address', 'envoy.config.core.v3.SocketAddress', 'envoy.service.auth.v3.AttributeContext.TLSSession',
]);
/**
 * Fields of those messages it steps over all the same: HttpRequest id, fragment, size, protocol;
 * Peer service, labels, principal, certificate; SocketAddress protocol, address, named_port,
 * resolver_name, ipv4_compat. (Address pipe and envoy_internal_address are messages not read.)
 * The source Peer is not read at all.
 */
const UNREAD_FIELDS = new Map<string, ReadonlySet<number>>([
  ['envoy.service.auth.v3.AttributeContext', new Set([1])],
  ['envoy.service.auth.v3.AttributeContext.HttpRequest', new Set([1, 8, 9, 10])],
  ['envoy.service.auth.v3.AttributeContext.Peer', new Set([2, 3, 4, 5])],
  ['envoy.config.core.v3.SocketAddress', new Set([1, 2, 4, 5, 6])],
]);

function scalarWire(t: ScalarType): WireType {
  switch (t) {
    case ScalarType.STRING: case ScalarType.BYTES: return WireType.LengthDelimited;
    case ScalarType.DOUBLE: case ScalarType.FIXED64: case ScalarType.SFIXED64: return WireType.Bit64;
    case ScalarType.FLOAT: case ScalarType.FIXED32: case ScalarType.SFIXED32: return WireType.Bit32;
    default: return WireType.Varint;
  }
}

/** How protobuf-es and the decoder must relate on some bytes (see classify). */
export type WireClass = 'comparable' | 'anomaly' | 'fails-in-read' | 'fails-in-skipped';

class FailsIn extends Error {
  constructor(readonly where: 'fails-in-read' | 'fails-in-skipped') {
    super(where);
  }
}

/**
 * Walks `bytes` as protobuf-es reads them (same primitives, same order) and says
 * what the decoder must do:
 * - 'anomaly': a declared field comes with another wire type (the decoder
 *   throws, protobuf-es misreads), or, inside a message the decoder steps over,
 *   a field runs past the end of that message (protobuf-es reads on from where
 *   it ended, the decoder from the declared end). Envoy sends neither; nothing
 *   is promised.
 * - 'fails-in-read': protobuf-es throws in a message the decoder reads: so must the decoder.
 * - 'fails-in-skipped': protobuf-es throws inside a message or field the
 *   decoder steps over: the decoder may decode (tolerated).
 * - 'comparable': where protobuf-es decodes, the decoder gives the same fields.
 */
export function classify(bytes: Uint8Array): WireClass {
  const r = new BinaryReader(bytes);
  try {
    return walk(r, CheckRequestSchema, bytes.length, 1) ? 'comparable' : 'anomaly';
  } catch (e: unknown) {
    if (e instanceof FailsIn) return e.where;
    throw e;
  }
}

function readScalar(r: BinaryReader, t: ScalarType): void {
  switch (t) {
    case ScalarType.STRING: r.string(true); return;
    case ScalarType.BYTES: r.bytes(); return;
    case ScalarType.INT64: case ScalarType.UINT64: case ScalarType.SINT64: case ScalarType.BOOL: r.int64(); return;
    case ScalarType.DOUBLE: case ScalarType.FIXED64: case ScalarType.SFIXED64: r.double(); return;
    case ScalarType.FLOAT: case ScalarType.FIXED32: case ScalarType.SFIXED32: r.float(); return;
    default: r.uint32();
  }
}

interface Expect { readonly wire: WireType; readonly scalar: ScalarType | undefined; readonly message: DescMessage | undefined; readonly map: DescField | undefined }

function expected(desc: DescMessage | DescField, no: number): Expect | undefined {
  if (desc.kind === 'field') {
    // A map entry: key 1, value 2.
    if (desc.fieldKind !== 'map') return undefined;
    if (no === 1) return { wire: scalarWire(desc.mapKey), scalar: desc.mapKey, message: undefined, map: undefined };
    if (no !== 2) return undefined;
    if (desc.mapKind === 'message') return { wire: WireType.LengthDelimited, scalar: undefined, message: desc.message, map: undefined };
    if (desc.mapKind === 'enum') return { wire: WireType.Varint, scalar: ScalarType.INT32, message: undefined, map: undefined };
    return { wire: scalarWire(desc.scalar), scalar: desc.scalar, message: undefined, map: undefined };
  }
  const f = desc.fields.find((x) => x.number === no);
  if (f === undefined) return undefined;
  switch (f.fieldKind) {
    case 'scalar': return { wire: scalarWire(f.scalar), scalar: f.scalar, message: undefined, map: undefined };
    case 'enum': return { wire: WireType.Varint, scalar: ScalarType.INT32, message: undefined, map: undefined };
    case 'message': return { wire: WireType.LengthDelimited, scalar: undefined, message: f.message, map: undefined };
    case 'map': return { wire: WireType.LengthDelimited, scalar: undefined, message: undefined, map: f };
    case 'list':
      if (f.listKind === 'message') return { wire: WireType.LengthDelimited, scalar: undefined, message: f.message, map: undefined };
      return { wire: f.listKind === 'enum' ? WireType.Varint : scalarWire(f.scalar), scalar: f.listKind === 'enum' ? ScalarType.INT32 : f.scalar, message: undefined, map: undefined };
  }
}

/** False on an anomaly; throws FailsIn where protobuf-es would throw. `depth` counts messages as protobuf-es does. */
function walk(r: BinaryReader, desc: DescMessage | DescField, end: number, depth: number, readHere = true): boolean {
  const read = readHere && (desc.kind === 'field' || READ_TYPES.has(desc.typeName));
  const fail = (): never => {
    throw new FailsIn(read ? 'fails-in-read' : 'fails-in-skipped');
  };
  while (r.pos < end) {
    let no: number;
    let wt: WireType;
    try {
      [no, wt] = r.tag();
    } catch {
      return fail();
    }
    const e = expected(desc, no);
    if (e !== undefined && e.wire !== wt) return false;
    try {
      if (e === undefined) r.skip(wt, no, 100 - depth);
      else if (e.scalar !== undefined) readScalar(r, e.scalar);
    } catch {
      if (desc.kind === 'message' && UNREAD_FIELDS.get(desc.typeName)?.has(no) === true) throw new FailsIn('fails-in-skipped');
      return fail();
    }
    if (e?.message !== undefined || e?.map !== undefined) {
      let inner: number;
      try {
        inner = r.uint32() + r.pos;
      } catch {
        return fail();
      }
      const unread = desc.kind === 'message' && UNREAD_FIELDS.get(desc.typeName)?.has(no) === true;
      const ok = e.message !== undefined ? walk(r, e.message, inner, depth + 1, read && !unread) : walk(r, e.map ?? desc, inner, depth, read && !unread);
      if (!ok) return false;
    }
    if (!read && r.pos > end) return false;
  }
  return true;
}
