// The pod's test resolver, asked by node:dns (c-ares) over UDP and by hand over TCP.
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { startDnsServer, type RunningDnsServer } from '../dns/dns-server.js';
import { buildResponse, parseQuery } from '../dns/dns-wire.js';

describe('dns-server', () => {
  let dns: RunningDnsServer;
  let resolver: Resolver;
  beforeEach(async () => {
    dns = await startDnsServer({ listen: [{ host: '127.0.0.1', port: 0 }], hosts: { 'Api.Example.com.': ['10.1.2.3', '10.1.2.4'] } });
    resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${dns.address.port}`]);
  });
  afterEach(() => dns.close());

  test('answers A from the map whatever the case of the name, and records the query and its source', async () => {
    expect(await resolver.resolve4('API.example.COM')).toEqual(['10.1.2.3', '10.1.2.4']);
    expect(dns.received[0]).toMatchObject({ protocol: 'udp', name: 'api.example.com', type: 'A', rcode: 'NOERROR', answers: ['10.1.2.3', '10.1.2.4'], source: { address: '127.0.0.1' } });
  });

  test('answers AAAA of a known name with no record, and any unknown name with NXDOMAIN', async () => {
    await expect(resolver.resolve6('api.example.com')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(resolver.resolve4('other.example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(dns.received.map((r) => [r.name, r.type, r.rcode])).toEqual([
      ['api.example.com', 'AAAA', 'NOERROR'],
      ['other.example.com', 'A', 'NXDOMAIN'],
    ]);
  });

  test('answers over TCP on the same port', async () => {
    const query = aQuery(0xabcd, 'api.example.com');
    const framed = Buffer.concat([Buffer.from([0, query.length]), query]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(dns.address.port, '127.0.0.1', () => socket.write(framed));
      socket.once('data', (data: Buffer) => {
        socket.destroy();
        resolve(data);
      });
      socket.once('error', reject);
    });
    expect(reply.readUInt16BE(0)).toBe(reply.length - 2);
    expect(reply.subarray(2)).toEqual(buildResponse(parseQuery(query), 'NOERROR', ['10.1.2.3', '10.1.2.4'], 5));
    expect(dns.received[0]).toMatchObject({ protocol: 'tcp', name: 'api.example.com', type: 'A' });
  });

  test('records a malformed query and answers FORMERR with its id', async () => {
    const reply = await new Promise<Buffer>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('message', (message) => {
        socket.close();
        resolve(message);
      });
      // A header with QDCOUNT 2 and no question.
      socket.send(Buffer.from('beef01000002000000000000', 'hex'), dns.address.port, '127.0.0.1');
    });
    expect(reply.readUInt16BE(0)).toBe(0xbeef);
    expect(reply.readUInt16BE(2) & 0xf).toBe(1); // FORMERR
    expect(dns.received[0]).toMatchObject({ name: null, rcode: 'FORMERR' });
    expect(dns.received[0]?.error).toContain('2 questions');
  });
});

/** A recursion-desired A/IN query with one question. */
function aQuery(id: number, name: string): Buffer {
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const labels = name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]));
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}
