// gRPC at the byte level: the 5-byte length-prefixed frame that h2load sends as
// its request body, and a unary call with node:http2 that sends exactly those
// bytes (so --verify checks what the load runs send, not a re-encoding).
import * as http2 from 'node:http2';

/** Uncompressed gRPC message frame: flag 0, 4-byte big-endian length, message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export interface RawResponse {
  readonly grpcStatus: number;
  readonly grpcMessage: string;
  readonly message: Uint8Array;
}

/** One connection to a gRPC server, for unary calls with pre-framed bodies. */
export class RawGrpcClient {
  private readonly session: http2.ClientHttp2Session;

  constructor(address: string) {
    this.session = http2.connect(`http://${address}`);
    this.session.on('error', () => { /* surfaced per call */ });
  }

  call(path: string, framed: Buffer, timeoutMs = 5000): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers',
      });
      const chunks: Buffer[] = [];
      let headerStatus: string | undefined;
      let trailerStatus: string | undefined;
      let grpcMessage = '';
      const timer = setTimeout(() => { stream.close(http2.constants.NGHTTP2_CANCEL); reject(new Error(`${path}: no answer in ${timeoutMs} ms`)); }, timeoutMs);
      stream.on('response', (h) => {
        headerStatus = h['grpc-status'] as string | undefined;
        grpcMessage = (h['grpc-message'] as string | undefined) ?? '';
      });
      stream.on('trailers', (t: http2.IncomingHttpHeaders) => {
        trailerStatus = t['grpc-status'] as string | undefined;
        grpcMessage = (t['grpc-message'] as string | undefined) ?? grpcMessage;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (e: Error) => { clearTimeout(timer); reject(e); });
      stream.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        const status = Number(trailerStatus ?? headerStatus ?? '2');
        const len = body.length >= 5 ? body.readUInt32BE(1) : 0;
        resolve({ grpcStatus: status, grpcMessage: decodeURIComponent(grpcMessage), message: body.subarray(5, 5 + len) });
      });
      stream.end(framed);
    });
  }

  close(): void {
    this.session.close();
  }
}
