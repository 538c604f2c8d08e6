// What every started test server hands back: where it listens, what it received, close().
import type { AddressInfo } from 'node:net';
import type { Listening } from './listen.js';
import type { Recorder } from './recorder.js';

export interface RunningServer<T> {
  /** The first listen address; addresses has them all (in --listen order). */
  readonly address: AddressInfo;
  readonly addresses: readonly AddressInfo[];
  /** Bounded (MAX_RECEIVED newest), with dropped and waitFor(). */
  readonly recorder: Recorder<T>;
  /** recorder.received: what arrived, oldest first. */
  readonly received: readonly T[];
  readonly close: () => Promise<void>;
}

export function runningServer<T>(listening: Listening, recorder: Recorder<T>): RunningServer<T> {
  const first = listening.addresses[0];
  if (first === undefined) throw new Error('runningServer: the server listens on no address');
  return {
    address: first,
    addresses: listening.addresses,
    recorder,
    get received() {
      return recorder.received;
    },
    close: listening.close,
  };
}
