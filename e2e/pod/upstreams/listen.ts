// Listen addresses ("ip:port", "[v6]:port") and net.Server start/stop shared by the test
// servers. close() destroys the connections still open, so a test's teardown never waits on
// a keep-alive connection that Envoy holds.
import { isIP, type AddressInfo, type Server, type Socket } from 'node:net';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses "127.0.0.1:8080" or "[::1]:8080"; port 0 picks a free port. */
export function parseListen(text: string): ListenAddress {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const host = match?.[1];
  const port = Number(match?.[2]);
  if (host === undefined || isIP(host) === 0 || !Number.isInteger(port) || port > 65535) {
    throw new Error(`listen address "${text}": want IP:PORT or [IPv6]:PORT`);
  }
  return { host, port };
}

export function formatAddress(address: { address: string; port: number }): string {
  return isIP(address.address) === 6 ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

export interface Listening {
  readonly addresses: readonly AddressInfo[];
  readonly close: () => Promise<void>;
}

/** Starts one server per address (made by makeServer) and tracks their sockets for close(). */
export async function listenAll(makeServer: () => Server, addresses: readonly ListenAddress[]): Promise<Listening> {
  if (addresses.length === 0) throw new Error('listen: no address given');
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  };
  try {
    const bound: AddressInfo[] = [];
    for (const address of addresses) {
      const server = makeServer();
      servers.push(server);
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      bound.push(await listenOne(server, address));
    }
    return { addresses: bound, close };
  } catch (error: unknown) {
    await close();
    throw error;
  }
}

function listenOne(server: Server, address: ListenAddress): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(new Error(`listen ${formatAddress({ address: address.host, port: address.port })}: ${error.message}`, { cause: error }));
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
