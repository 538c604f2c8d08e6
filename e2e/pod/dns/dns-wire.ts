// The little of the DNS wire format (RFC 1035) that a test resolver needs: read a query with one
// question, write an authoritative answer with A records (or none) and a response code.
// Pure functions over bytes; dns-server.ts does the I/O.

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
export type Rcode = keyof typeof RCODE;

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
const TYPE_NAMES: Readonly<Record<number, string>> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 64: 'SVCB', 65: 'HTTPS', 255: 'ANY' };

const HEADER_LENGTH = 12;
const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;

export interface DnsQuery {
  readonly id: number;
  readonly opcode: number;
  readonly recursionDesired: boolean;
  /** Lower case, without the trailing dot ("" for the root). */
  readonly name: string;
  readonly type: number;
  readonly class: number;
  /** The question section as received, echoed in the answer. */
  readonly questionBytes: Buffer;
}

export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

/** Reads a query; throws (with the id when the header could be read) on anything else. */
export function parseQuery(message: Buffer): DnsQuery {
  if (message.length < HEADER_LENGTH) throw new DnsFormatError(null, `message of ${message.length} bytes is shorter than a header`);
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  if ((flags & FLAG_QR) !== 0) throw new DnsFormatError(id, 'message is a response, not a query');
  const questions = message.readUInt16BE(4);
  if (questions !== 1) throw new DnsFormatError(id, `${questions} questions (want 1)`);
  const labels: string[] = [];
  let at = HEADER_LENGTH;
  for (;;) {
    const length = message[at];
    if (length === undefined) throw new DnsFormatError(id, 'name runs past the end');
    at++;
    if (length === 0) break;
    if (length > 63) throw new DnsFormatError(id, `label length ${length} (compression is not expected in a question)`);
    if (at + length > message.length) throw new DnsFormatError(id, 'label runs past the end');
    labels.push(message.toString('latin1', at, at + length).toLowerCase());
    at += length;
  }
  if (at + 4 > message.length) throw new DnsFormatError(id, 'question has no type and class');
  return {
    id,
    opcode: (flags >> 11) & 0xf,
    recursionDesired: (flags & FLAG_RD) !== 0,
    name: labels.join('.'),
    type: message.readUInt16BE(at),
    class: message.readUInt16BE(at + 2),
    questionBytes: message.subarray(HEADER_LENGTH, at + 4),
  };
}

export class DnsFormatError extends Error {
  constructor(
    readonly id: number | null,
    message: string,
  ) {
    super(`DNS query: ${message}`);
  }
}

/** An answer to query: rcode, and one A record per address (addresses only with NOERROR). */
export function buildResponse(query: Pick<DnsQuery, 'id' | 'opcode' | 'recursionDesired' | 'questionBytes'>, rcode: Rcode, addresses: readonly string[], ttl: number): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt16BE(query.id, 0);
  header.writeUInt16BE(FLAG_QR | (query.opcode << 11) | FLAG_AA | (query.recursionDesired ? FLAG_RD : 0) | FLAG_RA | RCODE[rcode], 2);
  header.writeUInt16BE(query.questionBytes.length > 0 ? 1 : 0, 4);
  header.writeUInt16BE(addresses.length, 6);
  const answers = addresses.map((address) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc000 | HEADER_LENGTH, 0); // the name: a pointer to the question's
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(1, 4); // class IN
    record.writeUInt32BE(ttl, 6);
    record.writeUInt16BE(4, 10);
    address.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
    return record;
  });
  return Buffer.concat([header, query.questionBytes, ...answers]);
}

/** An error answer to a message whose question could not be read (id only, no question). */
export function buildErrorResponse(id: number, rcode: Rcode): Buffer {
  return buildResponse({ id, opcode: 0, recursionDesired: false, questionBytes: Buffer.alloc(0) }, rcode, [], 0);
}
