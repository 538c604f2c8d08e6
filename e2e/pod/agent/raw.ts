// The agent's raw probes for the capture tests: a TCP exchange, a UDP datagram, a DNS query.
// Exactly one probe per run; one JSON line; exit 0 whatever happened.
//
//   node dist/e2e/pod/agent/raw.js --tcp HOST:PORT [--send TEXT] [--end] [--idle-ms 1000] [--timeout-ms 5000]
//     {"probe":"tcp","target":...,"connected":bool,"received":TEXT,"receivedLength":N,"closedBy":"peer"|"idle"|"timeout"|"error","error":...}
//     Connects, writes TEXT (\r\n escapes allowed: "\\r\\n" in the flag becomes CRLF), half-closes with --end,
//     then reads until the peer closes, or nothing came for idle-ms after the last data, or timeout-ms.
//   node dist/e2e/pod/agent/raw.js --udp HOST:PORT [--send TEXT] [--timeout-ms 1000]
//     {"probe":"udp","target":...,"sent":bool,"outcome":"reply"|"no-reply"|"error","reply":TEXT|null,"error":...}
//     A connected UDP socket: a local refusal (EPERM from an iptables REJECT/DROP in OUTPUT) fails the send;
//     an ICMP port unreachable shows as ECONNREFUSED.
//   node dist/e2e/pod/agent/raw.js --dns NAME --server IP[:PORT] [--type A|AAAA] [--timeout-ms 2000]
//     {"probe":"dns","name":...,"server":...,"type":"A","addresses":[...]|null,"error":...}  (ENOTFOUND = NXDOMAIN, ENODATA, ETIMEOUT, ECONNREFUSED)
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { connect, isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { describeError, positiveInt, printResult, runProgram, type ErrorDescription } from './result.js';

/** How much of what came back is printed; receivedLength counts all of it. */
export const RECEIVED_PRINT_LIMIT = 64 * 1024;

export interface TcpProbe {
  readonly probe: 'tcp';
  readonly target: string;
  readonly connected: boolean;
  readonly received: string;
  readonly receivedLength: number;
  readonly closedBy: 'peer' | 'idle' | 'timeout' | 'error';
  readonly error: ErrorDescription | null;
}

export function probeTcp(target: string, send: string, options: { end: boolean; idleMs: number; timeoutMs: number }): Promise<TcpProbe> {
  const { host, port } = parseTarget(target);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let connected = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const socket = connect({ host, port });
    const finish = (closedBy: TcpProbe['closedBy'], error: unknown): void => {
      clearTimeout(overall);
      clearTimeout(idleTimer);
      socket.destroy();
      const received = Buffer.concat(chunks);
      resolve({ probe: 'tcp', target, connected, received: received.toString('utf8'), receivedLength: length, closedBy, error: error === null ? null : describeError(error) });
    };
    const overall = setTimeout(() => finish('timeout', null), options.timeoutMs);
    socket.once('connect', () => {
      connected = true;
      if (options.end) socket.end(send);
      else socket.write(send);
    });
    socket.on('data', (chunk: Buffer) => {
      length += chunk.length;
      const kept = chunks.reduce((n, c) => n + c.length, 0);
      if (kept < RECEIVED_PRINT_LIMIT) chunks.push(chunk.subarray(0, RECEIVED_PRINT_LIMIT - kept));
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finish('idle', null), options.idleMs);
    });
    socket.once('error', (error) => finish('error', error));
    socket.once('close', () => finish('peer', null));
  });
}

export interface UdpProbe {
  readonly probe: 'udp';
  readonly target: string;
  readonly sent: boolean;
  readonly outcome: 'reply' | 'no-reply' | 'error';
  readonly reply: string | null;
  readonly error: ErrorDescription | null;
}

export function probeUdp(target: string, send: string, timeoutMs: number): Promise<UdpProbe> {
  const { host, port } = parseTarget(target);
  return new Promise((resolve) => {
    const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    let sent = false;
    const finish = (outcome: UdpProbe['outcome'], reply: Buffer | null, error: unknown): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.close();
      resolve({ probe: 'udp', target, sent, outcome, reply: reply?.toString('utf8') ?? null, error: error === null ? null : describeError(error) });
    };
    const timer = setTimeout(() => finish('no-reply', null, null), timeoutMs);
    socket.once('error', (error) => finish('error', null, error));
    socket.once('message', (message) => finish('reply', message, null));
    socket.connect(port, host, () => {
      socket.send(send, (error) => {
        if (error) finish('error', null, error);
        else sent = true;
      });
    });
  });
}

export interface DnsProbe {
  readonly probe: 'dns';
  readonly name: string;
  readonly server: string;
  readonly type: 'A' | 'AAAA';
  readonly addresses: readonly string[] | null;
  readonly error: ErrorDescription | null;
}

export async function probeDns(name: string, server: string, type: 'A' | 'AAAA', timeoutMs: number): Promise<DnsProbe> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  const base = { probe: 'dns' as const, name, server, type };
  try {
    resolver.setServers([server]);
    const addresses = type === 'A' ? await resolver.resolve4(name) : await resolver.resolve6(name);
    return { ...base, addresses, error: null };
  } catch (error: unknown) {
    return { ...base, addresses: null, error: describeError(error) };
  }
}

/** "host:port", "[v6]:port"; the host may be a name (resolved by the system's resolver). */
export function parseTarget(text: string): { host: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`target "${text}": want HOST:PORT or [IPv6]:PORT`);
  return { host: match[1], port };
}

/** "\r\n", "\n", "\t" and "\\" written in a flag become the characters. */
export function unescapeText(text: string): string {
  return text.replace(/\\([rnt\\])/g, (_, c: string) => ({ r: '\r', n: '\n', t: '\t', '\\': '\\' })[c] ?? c);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tcp: { type: 'string' },
      udp: { type: 'string' },
      dns: { type: 'string' },
      server: { type: 'string' },
      type: { type: 'string' },
      send: { type: 'string' },
      end: { type: 'boolean' },
      'idle-ms': { type: 'string' },
      'timeout-ms': { type: 'string' },
    },
  });
  const send = unescapeText(values.send ?? '');
  if ([values.tcp, values.udp, values.dns].filter((v) => v !== undefined).length !== 1) throw new Error('give exactly one of --tcp HOST:PORT, --udp HOST:PORT, --dns NAME');
  if (values.tcp !== undefined) {
    const idleMs = positiveInt(values['idle-ms'], '--idle-ms', 1000);
    printResult(await probeTcp(values.tcp, send, { end: values.end === true, idleMs, timeoutMs: positiveInt(values['timeout-ms'], '--timeout-ms', 5000) }));
  } else if (values.udp !== undefined) {
    printResult(await probeUdp(values.udp, send, positiveInt(values['timeout-ms'], '--timeout-ms', 1000)));
  } else if (values.dns !== undefined) {
    if (values.server === undefined) throw new Error('--dns needs --server IP[:PORT]');
    const type = values.type ?? 'A';
    if (type !== 'A' && type !== 'AAAA') throw new Error(`--type "${type}": want A or AAAA`);
    printResult(await probeDns(values.dns, values.server, type, positiveInt(values['timeout-ms'], '--timeout-ms', 2000)));
  }
}

if (import.meta.main) runProgram(main);
