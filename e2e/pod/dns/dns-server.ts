// A test DNS resolver for the pod: answers A queries from a name → IPv4 map, NOERROR with no
// record for other types of a known name (AAAA included), NXDOMAIN for any other name; over UDP
// and over TCP on the same port. Each query is recorded with its source address.
//
//   node dist/e2e/pod/dns/dns-server.js --listen 10.0.0.53:53 --host api.example.com=10.0.0.1 [--host ...] [--ttl 5]
//
// stdout: {"ready":true,"kind":"dns","listen":["10.0.0.53:53"]}, then one DnsReceived per line.
// A name given twice gets both addresses.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv4, isIP, type AddressInfo, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { closeOnSignal, listenFlags, printLine, runMain } from '../upstreams/cli.js';
import { formatAddress, listenAll, type ListenAddress } from '../upstreams/listen.js';
import { Recorder } from '../upstreams/recorder.js';
import { runningServer, type RunningServer } from '../upstreams/running.js';
import { buildErrorResponse, buildResponse, DnsFormatError, parseQuery, TYPE_A, typeName, type DnsQuery, type Rcode } from './dns-wire.js';

export const DEFAULT_TTL = 5;
const MAX_TCP_MESSAGE = 65535;

export interface DnsReceived {
  readonly seq: number;
  readonly time: string;
  readonly protocol: 'udp' | 'tcp';
  /** Lower case, no trailing dot; null when the query could not be read. */
  readonly name: string | null;
  readonly type: string | null;
  readonly source: { readonly address: string; readonly port: number };
  readonly local: { readonly address: string; readonly port: number };
  readonly rcode: Rcode;
  readonly answers: readonly string[];
  readonly error: string | null;
}

export interface DnsServerOptions {
  readonly listen: readonly ListenAddress[];
  /** Name (any case, trailing dot or not) → its IPv4 addresses. */
  readonly hosts: Readonly<Record<string, readonly string[]>>;
  readonly ttl?: number;
  readonly onReceived?: (received: DnsReceived) => void;
}

export type RunningDnsServer = RunningServer<DnsReceived>;

/** The answer the server gives to a query: pure, over the hosts map. */
export function answer(query: DnsQuery, hosts: ReadonlyMap<string, readonly string[]>): { rcode: Rcode; addresses: readonly string[] } {
  if (query.opcode !== 0 || query.class !== 1) return { rcode: 'NOTIMP', addresses: [] };
  const addresses = hosts.get(query.name);
  if (addresses === undefined) return { rcode: 'NXDOMAIN', addresses: [] };
  return { rcode: 'NOERROR', addresses: query.type === TYPE_A || query.type === 255 ? addresses : [] };
}

export async function startDnsServer(options: DnsServerOptions): Promise<RunningDnsServer> {
  const hosts = normalizeHosts(options.hosts);
  const ttl = options.ttl ?? DEFAULT_TTL;
  const recorder = new Recorder<DnsReceived>(options.onReceived);
  let seq = 0;
  const respond = (message: Buffer, protocol: DnsReceived['protocol'], source: AddressInfo, local: AddressInfo): Buffer | null => {
    const base = { seq: ++seq, time: new Date().toISOString(), protocol, source: pick(source), local: pick(local) };
    try {
      const query = parseQuery(message);
      const { rcode, addresses } = answer(query, hosts);
      recorder.add({ ...base, name: query.name, type: typeName(query.type), rcode, answers: addresses, error: null });
      return buildResponse(query, rcode, addresses, ttl);
    } catch (error: unknown) {
      const id = error instanceof DnsFormatError ? error.id : null;
      recorder.add({ ...base, name: null, type: null, rcode: 'FORMERR', answers: [], error: String(error) });
      return id === null ? null : buildErrorResponse(id, 'FORMERR');
    }
  };

  // Port 0: the port UDP got may be taken for TCP by another process; try again with another.
  let attempt = 1;
  for (;;) {
    try {
      const { udpSockets, tcp, closeUdp } = await bindUdpAndTcp(options.listen, respond);
      return runningServer(
        {
          addresses: udpSockets.map((socket) => socket.address()),
          close: async () => {
            await Promise.all([closeUdp(), tcp.close()]);
          },
        },
        recorder,
      );
    } catch (error: unknown) {
      const taken = options.listen.some((a) => a.port === 0) && String(error).includes('EADDRINUSE');
      if (!taken || attempt++ >= BIND_ATTEMPTS) throw error;
    }
  }
}

/** Attempts at a free port pair when the caller asked for port 0. */
const BIND_ATTEMPTS = 5;

/** UDP on each address, then TCP on the port UDP got, so that port 0 gives one port for both. */
async function bindUdpAndTcp(listen: readonly ListenAddress[], respond: (message: Buffer, protocol: DnsReceived['protocol'], source: AddressInfo, local: AddressInfo) => Buffer | null) {
  const udpSockets: UdpSocket[] = [];
  const closeUdp = (): Promise<void> => Promise.all(udpSockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve())))).then(() => undefined);
  const bound: ListenAddress[] = [];
  try {
    for (const address of listen) {
      const socket = createSocket(isIP(address.host) === 6 ? 'udp6' : 'udp4');
      udpSockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(address.port, address.host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      const local = socket.address();
      socket.on('message', (message, rinfo) => {
        const reply = respond(message, 'udp', { address: rinfo.address, family: rinfo.family, port: rinfo.port }, local);
        if (reply !== null) socket.send(reply, rinfo.port, rinfo.address);
      });
      // TCP on the port UDP got, so that port 0 gives one port for both.
      bound.push({ host: address.host, port: local.port });
    }
  } catch (error: unknown) {
    await closeUdp();
    throw new Error(`dns-server: cannot bind UDP: ${String(error)}`, { cause: error });
  }

  const tcp = await listenAll(() => createServer((socket) => serveTcp(socket, respond)), bound).catch(async (error: unknown) => {
    await closeUdp();
    throw error;
  });
  return { udpSockets, tcp, closeUdp };
}

/** DNS over TCP: each message is preceded by its 16-bit length (RFC 1035 4.2.2). */
function serveTcp(socket: Socket, respond: (message: Buffer, protocol: 'tcp', source: AddressInfo, local: AddressInfo) => Buffer | null): void {
  let pending = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) {
        if (pending.length > 2 + MAX_TCP_MESSAGE) socket.destroy();
        return;
      }
      const message = pending.subarray(2, 2 + length);
      pending = pending.subarray(2 + length);
      const source = { address: socket.remoteAddress ?? '', family: socket.remoteFamily ?? '', port: socket.remotePort ?? 0 };
      const local = { address: socket.localAddress ?? '', family: socket.localFamily ?? '', port: socket.localPort ?? 0 };
      const reply = respond(message, 'tcp', source, local);
      if (reply === null) {
        socket.destroy();
        return;
      }
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(reply.length, 0);
      socket.write(Buffer.concat([prefix, reply]));
    }
  });
}

function normalizeHosts(hosts: Readonly<Record<string, readonly string[]>>): Map<string, readonly string[]> {
  const map = new Map<string, string[]>();
  for (const [name, addresses] of Object.entries(hosts)) {
    for (const address of addresses) {
      if (!isIPv4(address)) throw new Error(`dns-server: host "${name}": "${address}" is not an IPv4 address`);
    }
    const key = name.toLowerCase().replace(/\.$/, '');
    map.set(key, [...(map.get(key) ?? []), ...addresses]);
  }
  return map;
}

function pick(address: AddressInfo): { address: string; port: number } {
  return { address: address.address, port: address.port };
}

/** "api.example.com=10.0.0.1" flags → hosts map. */
export function parseHostFlags(values: readonly string[]): Record<string, string[]> {
  const hosts: Record<string, string[]> = {};
  for (const text of values) {
    const at = text.indexOf('=');
    if (at <= 0) throw new Error(`--host "${text}": want NAME=IPv4`);
    const name = text.slice(0, at);
    hosts[name] = [...(hosts[name] ?? []), text.slice(at + 1)];
  }
  return hosts;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { listen: { type: 'string', multiple: true }, host: { type: 'string', multiple: true }, ttl: { type: 'string' } },
  });
  const ttl = values.ttl === undefined ? DEFAULT_TTL : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 0) throw new Error(`--ttl "${values.ttl ?? ''}": want seconds, an integer >= 0`);
  const running = await startDnsServer({ listen: listenFlags(values.listen), hosts: parseHostFlags(values.host ?? []), ttl, onReceived: printLine });
  closeOnSignal(running.close);
  printLine({ ready: true, kind: 'dns', listen: running.addresses.map(formatAddress) });
}

if (import.meta.main) runMain(main);
