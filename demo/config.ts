// make demo's settings: flags only (the demo reads no environment). Only
// run.ts imports this module.
import { parseArgs } from 'node:util';

/** The pod network slot of `make demo`: 10.254.40.0/24 (the pod harness's suites use 21-30). */
export const DEFAULT_SLOT = 40;
/** Jaeger's query API, as `make cluster-up` starts it. */
export const DEFAULT_JAEGER = 'http://127.0.0.1:16686';
/** Jaeger's OTLP/HTTP receiver on loopback, as `make cluster-up` starts it. */
export const DEFAULT_OTLP = '127.0.0.1:4318';

export interface DemoConfig {
  /** 1-250: the agent pod's network is 10.254.<slot>.0/24 and its namespace aw-<slot>. */
  readonly slot: number;
  /** Jaeger's query API base URL (the traces are checked through /api/traces/<id>). */
  readonly jaeger: string;
  /** Where the pod's OTLP export is forwarded to (Jaeger's OTLP/HTTP receiver), host:port. */
  readonly otlp: { readonly host: string; readonly port: number };
}

const USAGE = 'usage: node dist/demo/run.js [--slot 40] [--jaeger http://127.0.0.1:16686] [--otlp 127.0.0.1:4318]';

export function readDemoConfig(argv: readonly string[]): DemoConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      slot: { type: 'string', default: String(DEFAULT_SLOT) },
      jaeger: { type: 'string', default: DEFAULT_JAEGER },
      otlp: { type: 'string', default: DEFAULT_OTLP },
    },
  });
  const slot = Number(values.slot);
  if (!Number.isInteger(slot) || slot < 1 || slot > 250) throw new Error(`--slot "${values.slot}": want an integer 1-250\n${USAGE}`);
  const otlp = /^([^:]+):(\d+)$/.exec(values.otlp);
  if (otlp?.[1] === undefined || otlp[2] === undefined) throw new Error(`--otlp "${values.otlp}": want HOST:PORT\n${USAGE}`);
  return Object.freeze({ slot, jaeger: values.jaeger.replace(/\/$/, ''), otlp: { host: otlp[1], port: Number(otlp[2]) } });
}
