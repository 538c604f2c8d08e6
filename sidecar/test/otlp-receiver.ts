// A real OTLP trace receiver for tests, in each protocol the sidecar exports
// with: http/json and http/protobuf (node:http accepting POST /v1/traces) and
// grpc (a grpc-js server implementing TraceService/Export). It keeps every raw
// payload so tests can read the spans and search the exact bytes that left the
// sidecar. Protobuf payloads are decoded with protobufjs (otlp-protos.ts), not
// with the sidecar's own serializer, so a test reads what a collector would.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import type { OtlpProtocol } from '../src/telemetry/protocol.js';
import { decodeTraceRequest, ExportTraceServiceResponse, TRACE_EXPORT_PATH } from './otlp-protos.js';

export interface OtlpAttribute {
  readonly key: string;
  readonly value: Readonly<Record<string, unknown>>;
}

export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly traceState?: string;
  readonly name: string;
  readonly attributes?: readonly OtlpAttribute[];
  /** Links to other spans (ids in hex). */
  readonly links?: readonly { readonly traceId: string; readonly spanId: string; readonly flags?: number }[];
}

/** An ExportTraceServiceRequest in OTLP/JSON's shape (protobuf payloads are converted to it). */
interface OtlpPayload {
  readonly resourceSpans?: readonly {
    readonly resource?: { readonly attributes?: readonly OtlpAttribute[] };
    readonly scopeSpans?: readonly { readonly spans?: readonly OtlpSpan[] }[];
  }[];
}

export interface ReceivedSpan {
  readonly span: OtlpSpan;
  readonly attributes: Record<string, string | number | boolean>;
  readonly resource: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  readonly protocol: OtlpProtocol;
  /**
   * What OTEL_EXPORTER_OTLP_TRACES_ENDPOINT takes for the protocol:
   * http://127.0.0.1:<port>/v1/traces over HTTP, http://127.0.0.1:<port> for gRPC.
   */
  readonly url: string;
  /** Every export request body received, decompressed, as received. */
  readonly payloads: Buffer[];
  spans(): ReceivedSpan[];
  /** From now on answers every export, the held ones included. */
  startAnswering(): void;
  close(): Promise<void>;
}

export interface OtlpReceiverOptions {
  /** Default http/json. Over HTTP, a request in the other encoding is refused (415). */
  readonly protocol?: OtlpProtocol;
  /** false: accept each export and never answer it (until answering starts or the receiver closes). Default true. */
  readonly answer?: boolean;
}

/** OTLP JSON AnyValue -> a plain value (ints may be encoded as strings). */
function plain(value: Readonly<Record<string, unknown>>): string | number | boolean {
  if ('stringValue' in value) return String(value['stringValue']);
  if ('intValue' in value) return Number(value['intValue']);
  if ('doubleValue' in value) return Number(value['doubleValue']);
  if ('boolValue' in value) return value['boolValue'] === true;
  return JSON.stringify(value);
}

export function attributeMap(attributes: readonly OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((attributes ?? []).map((a) => [a.key, plain(a.value)]));
}

/** A string-array attribute of a span as the receiver decoded it (an ArrayValue of string AnyValues); [] when absent. */
export function stringArrayAttribute(span: ReceivedSpan | undefined, key: string): string[] {
  const attribute = span?.span.attributes?.find((a) => a.key === key);
  const values = (attribute?.value['arrayValue'] as { values?: { stringValue?: string }[] } | undefined)?.values ?? [];
  return values.map((v) => v.stringValue ?? '');
}

/** An export the receiver has taken and not answered yet. */
interface PendingExport {
  ok(): void;
  /** Fails the export with a status the SDK's exporters do not retry. */
  fail(): void;
}

type OnExport = (payload: Buffer, reply: PendingExport) => void;

interface Listener {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a receiver on an ephemeral loopback port. */
export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const protocol = options.protocol ?? 'http/json';
  const payloads: Buffer[] = [];
  const held: PendingExport[] = [];
  let answer = options.answer ?? true;
  const onExport: OnExport = (payload, reply) => {
    payloads.push(payload);
    if (answer) reply.ok();
    else held.push(reply);
  };
  const listener = protocol === 'grpc' ? await listenGrpc(onExport) : await listenHttp(protocol, onExport);
  const decode = protocol === 'http/json' ? (p: Buffer): unknown => JSON.parse(p.toString('utf8')) : decodeTraceRequest;
  return {
    protocol,
    url: listener.url,
    payloads,
    spans() {
      const out: ReceivedSpan[] = [];
      for (const p of payloads) {
        const parsed = decode(p) as OtlpPayload;
        for (const rs of parsed.resourceSpans ?? []) {
          const resource = attributeMap(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const span of ss.spans ?? []) out.push({ span, attributes: attributeMap(span.attributes), resource });
          }
        }
      }
      return out;
    },
    startAnswering() {
      answer = true;
      for (const reply of held.splice(0)) reply.ok();
    },
    close() {
      // Held exports fail with a non-retryable status, so the exporter gives up at once.
      for (const reply of held.splice(0)) reply.fail();
      return listener.close();
    },
  };
}

const HTTP_CONTENT_TYPE = { 'http/json': 'application/json', 'http/protobuf': 'application/x-protobuf' } as const;

async function listenHttp(protocol: keyof typeof HTTP_CONTENT_TYPE, onExport: OnExport): Promise<Listener> {
  const contentType = HTTP_CONTENT_TYPE[protocol];
  // An empty ExportTraceServiceResponse: everything accepted.
  const accepted = protocol === 'http/json' ? Buffer.from('{}') : Buffer.from(ExportTraceServiceResponse.encode({}).finish());
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      // Another encoding than the one under test is refused, so that its spans never count.
      if (req.headers['content-type']?.split(';')[0]?.trim() !== contentType) {
        res.writeHead(415).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      onExport(req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw, {
        ok: () => res.writeHead(200, { 'content-type': contentType }).end(accepted),
        // 400: not one of the statuses the SDK's HTTP exporters retry (429, 502, 503, 504).
        fail: () => res.writeHead(400).end(),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function listenGrpc(onExport: OnExport): Promise<Listener> {
  const server = new grpc.Server();
  // Raw bytes in and out, as the SDK's gRPC exporter sends them.
  const raw = (b: Buffer): Buffer => b;
  const accepted = Buffer.from(ExportTraceServiceResponse.encode({}).finish());
  server.addService(
    { Export: { path: TRACE_EXPORT_PATH, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        onExport(call.request, {
          ok: () => callback(null, accepted),
          // The SDK's gRPC transport (0.223) retries no gRPC status; INVALID_ARGUMENT
          // is also one the OTLP specification says must not be retried.
          fail: () => callback({ code: grpc.status.INVALID_ARGUMENT, details: 'the test receiver closed' }),
        });
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
