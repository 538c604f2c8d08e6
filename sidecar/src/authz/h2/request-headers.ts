// The request header fields of one stream, checked as RFC 9113 §8.2-8.3 asks
// while HPACK decodes them: the HPACK sink keeps only what the gRPC layer reads
// (no header object per request) and notes the first reason the field section
// is malformed (a stream error PROTOCOL_ERROR, §8.1.1).
import { headerFieldSize, type HeaderSink } from './hpack.js';

/** What the gRPC layer needs from a request's headers. */
export interface RequestHeaders {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly grpcTimeout: string | undefined;
  readonly grpcEncoding: string | undefined;
  /** content-length, -1 when absent. */
  readonly contentLength: number;
}

/** Field names that are connection-specific and so malformed in HTTP/2 (§8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'proxy-connection', 'keep-alive', 'transfer-encoding', 'upgrade']);

export class RequestHeaderSink implements HeaderSink, RequestHeaders {
  method = '';
  path = '';
  scheme = '';
  authority = '';
  contentType: string | undefined = undefined;
  grpcTimeout: string | undefined = undefined;
  grpcEncoding: string | undefined = undefined;
  contentLength = -1;
  /** Bytes of the field section as §6.5.2 counts them (name + value + 32 per field). */
  listSize = 0;
  /** Why the section is malformed; '' when it is not. */
  malformed = '';
  private regularSeen = false;
  private trailers = false;

  /** Ready for a new field section; `trailers`: the section ends a request (no pseudo-header fields allowed). */
  reset(trailers: boolean): void {
    this.method = '';
    this.path = '';
    this.scheme = '';
    this.authority = '';
    this.contentType = undefined;
    this.grpcTimeout = undefined;
    this.grpcEncoding = undefined;
    this.contentLength = -1;
    this.listSize = 0;
    this.malformed = '';
    this.regularSeen = false;
    this.trailers = trailers;
  }

  header(name: string, value: string): void {
    this.listSize += headerFieldSize(name, value);
    if (this.malformed !== '') return; // keep decoding (HPACK state), but the first reason stands
    if (!validName(name)) {
      this.malformed = 'invalid header field name';
      return;
    }
    if (!validValue(value)) {
      this.malformed = `invalid value in header field ${name}`;
      return;
    }
    if (name.charCodeAt(0) === 58 /* : */) {
      this.pseudo(name, value);
      return;
    }
    this.regularSeen = true;
    switch (name) {
      case 'content-type': this.contentType = value; return;
      case 'grpc-timeout': this.grpcTimeout = value; return;
      case 'grpc-encoding': this.grpcEncoding = value; return;
      case 'te':
        if (value !== 'trailers') this.malformed = 'te other than "trailers"';
        return;
      case 'content-length': {
        const n = /^[0-9]{1,15}$/.test(value) ? Number(value) : -1;
        if (n < 0 || (this.contentLength >= 0 && n !== this.contentLength)) this.malformed = 'invalid content-length';
        else this.contentLength = n;
        return;
      }
      default:
        if (CONNECTION_SPECIFIC.has(name)) this.malformed = `connection-specific header field ${name}`;
    }
  }

  private pseudo(name: string, value: string): void {
    if (this.trailers) {
      this.malformed = 'pseudo-header field in trailers';
      return;
    }
    if (this.regularSeen) {
      this.malformed = `pseudo-header field ${name} after a regular field`;
      return;
    }
    let seen: boolean;
    switch (name) {
      case ':method': seen = this.method !== ''; this.method = value; break;
      case ':path': seen = this.path !== ''; this.path = value; break;
      case ':scheme': seen = this.scheme !== ''; this.scheme = value; break;
      case ':authority': seen = this.authority !== ''; this.authority = value; break;
      default:
        this.malformed = `unknown pseudo-header field ${name.slice(0, 40)}`;
        return;
    }
    if (seen || value === '') this.malformed = seen ? `repeated pseudo-header field ${name}` : `empty pseudo-header field ${name}`;
  }

  /** After the whole section: the request pseudo-header fields are all there (§8.3.1). */
  complete(): void {
    if (this.malformed !== '' || this.trailers) return;
    if (this.method === '') this.malformed = 'missing :method';
    else if (this.method === 'CONNECT') {
      if (this.authority === '' || this.path !== '' || this.scheme !== '') this.malformed = 'malformed CONNECT request';
    } else if (this.path === '' || this.scheme === '') this.malformed = this.path === '' ? 'missing :path' : 'missing :scheme';
  }
}

/** Lowercase token characters only (§8.2.1: no uppercase, controls, space, DEL or non-ASCII); a leading ':' is allowed. */
function validName(name: string): boolean {
  const n = name.length;
  if (n === 0) return false;
  for (let i = name.charCodeAt(0) === 58 ? 1 : 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || (c >= 0x41 && c <= 0x5a) || c >= 0x7f || c === 58) return false;
  }
  return true;
}

/** No NUL, CR or LF, and no leading or trailing space or tab (§8.2.1). */
function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}
