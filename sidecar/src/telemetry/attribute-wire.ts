// OpenTelemetry attributes as OTLP KeyValue messages (common/v1/common.proto:
// KeyValue key=1 value=2; AnyValue string=1 bool=2 int=3 double=4 array=5
// kvlist=6 bytes=7; ArrayValue and KeyValueList values=1), as the SDK's
// serializer writes them: what otlp-trace-proto.ts writes for resources,
// scopes, spans, events and links.
import type { Attributes } from '@opentelemetry/api';
import { WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from '../../../policy/src/wire-reader.js';
import { WireWriter } from '../wire-writer.js';
import { PairCache } from '../pair-cache.js';

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** Attributes as repeated KeyValue field `field`, in the order of their keys. */
export function writeAttributes(w: WireWriter, attributes: Attributes, field: number): void {
  for (const key in attributes) {
    if (Object.prototype.hasOwnProperty.call(attributes, key)) writeAttribute(w, field, key, attributes[key]);
  }
}

/** One attribute as KeyValue field `field`. */
export function writeAttribute(w: WireWriter, field: number, key: string, value: unknown): void {
  w.tag(field, WIRE_LEN);
  const cached = typeof value === 'string' ? cachedKeyValue(key, value) : undefined;
  if (cached !== undefined) {
    w.bytes(cached);
    return;
  }
  const kv = w.begin();
  w.tag(1, WIRE_LEN);
  w.string(key);
  w.tag(2, WIRE_LEN);
  const at = w.begin();
  writeAnyValue(w, value);
  w.end(at);
  w.end(kv);
}

function writeAnyValue(w: WireWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.tag(1, WIRE_LEN);
      w.string(value);
      return;
    case 'boolean':
      w.tag(2, WIRE_VARINT);
      w.varint(value ? 1 : 0);
      return;
    case 'number':
      // int_value for integers int64 can hold (beyond 2^53 too), else double_value.
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.tag(3, WIRE_VARINT);
        w.varint(value);
      } else {
        w.tag(4, WIRE_FIXED64);
        w.double(value);
      }
      return;
    case 'object':
      if (value === null) return;
      if (value instanceof Uint8Array) {
        w.tag(7, WIRE_LEN);
        w.bytes(value);
      } else if (Array.isArray(value)) {
        w.tag(5, WIRE_LEN);
        const array = w.begin();
        for (const item of value as unknown[]) {
          w.tag(1, WIRE_LEN);
          const at = w.begin();
          writeAnyValue(w, item);
          w.end(at);
        }
        w.end(array);
      } else {
        w.tag(6, WIRE_LEN);
        const list = w.begin();
        const record = value as Record<string, unknown>;
        for (const k in record) {
          if (!Object.prototype.hasOwnProperty.call(record, k)) continue;
          w.tag(1, WIRE_LEN);
          const kv = w.begin();
          w.tag(1, WIRE_LEN);
          w.string(k);
          w.tag(2, WIRE_LEN);
          const at = w.begin();
          writeAnyValue(w, record[k]);
          w.end(at);
          w.end(kv);
        }
        w.end(list);
      }
      return;
    default:
      // undefined, functions, symbols, bigints: no value (as the SDK writes them).
      return;
  }
}

/**
 * Encoded KeyValue messages of string attributes, by key and value. Decision
 * spans repeat most of theirs (decision, policy, rule, host, pod...), so most
 * attributes are a copy. Bounded: at most KV_KEYS keys and KV_VALUES_PER_KEY
 * values of each (a key with more, like url.path, is mostly encoded each time),
 * values up to KV_VALUE_MAX characters; at most ~1 MB.
 */
const KV_KEYS = 64;
const KV_VALUES_PER_KEY = 32;
const KV_VALUE_MAX = 256;
const kvCache = new PairCache<Buffer>(KV_KEYS, KV_VALUES_PER_KEY);

/** The KeyValue of a string attribute from the cache, added when there is room; undefined: not cached. */
function cachedKeyValue(key: string, value: string): Buffer | undefined {
  const hit = kvCache.get(key, value);
  if (hit !== undefined) return hit;
  if (value.length > KV_VALUE_MAX || !kvCache.hasRoom(key)) return undefined;
  const w = new WireWriter(key.length * 3 + value.length * 3 + 16);
  w.tag(1, WIRE_LEN);
  w.string(key);
  w.tag(2, WIRE_LEN);
  const at = w.begin();
  w.tag(1, WIRE_LEN);
  w.string(value);
  w.end(at);
  const bytes = Buffer.from(w.finish());
  kvCache.set(key, value, bytes);
  return bytes;
}
