// A real OTLP/HTTP trace receiver for tests: node:http accepting POST /v1/traces
// with JSON (http/json), keeping every raw payload so tests can read the spans
// and search the exact bytes that left the sidecar.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';

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
}

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
  /** The traces endpoint, http://127.0.0.1:<port>/v1/traces. */
  readonly url: string;
  /** Every request body received on /v1/traces, decompressed, as received. */
  readonly payloads: Buffer[];
  spans(): ReceivedSpan[];
  /** From now on answers every export, the held ones included. */
  startAnswering(): void;
  close(): Promise<void>;
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

/**
 * Starts a receiver on an ephemeral loopback port. `answer: false` makes it a
 * receiver that accepts each export and never answers (until it is closed).
 */
export async function startOtlpReceiver(options: { readonly answer: boolean } = { answer: true }): Promise<OtlpReceiver> {
  const payloads: Buffer[] = [];
  const held: ServerResponse[] = [];
  let answer = options.answer;
  const ok = (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      payloads.push(req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw);
      if (!answer) {
        held.push(res);
        return;
      }
      ok(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    payloads,
    spans() {
      const out: ReceivedSpan[] = [];
      for (const p of payloads) {
        const parsed = JSON.parse(p.toString('utf8')) as OtlpPayload;
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
      for (const res of held.splice(0)) ok(res);
    },
    close: () => new Promise<void>((resolve) => {
      // Held exports fail with a non-retryable status, so the exporter gives up at once.
      for (const res of held.splice(0)) res.writeHead(400).end();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
