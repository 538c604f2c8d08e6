// Before any load: every request of the mix once through every front Envoy. An
// allowed request must come back 200 from the upstream; with ext_authz a denied one
// must not reach it (403, or for MCP the JSON-RPC error the sidecar answers with);
// without ext_authz, or with a floor engine (fixed allow), everything reaches it. Any other outcome stops the run: the
// figures would not be of the same requests.
import * as http from 'node:http';
import { MIX, type MixEntry } from '../compare/mix.js';
import { UPSTREAM_BODY } from './envoy.js';
import { httpRequestOf } from './requests.js';
import { ALLOW_ALL, type Variant } from './engines.js';

const TIMEOUT_MS = 5000;
const BODY_LIMIT = 64 * 1024;

export interface Outcome {
  readonly status: number;
  /** The upstream's answer, not Envoy's or the engine's. */
  readonly upstream: boolean;
}

export interface VerifyRow {
  readonly entry: MixEntry;
  readonly outcomes: ReadonlyMap<Variant, Outcome>;
  readonly ok: boolean;
}

/** Sends one request through the proxy at 127.0.0.1:proxyPort (absolute-form request line, as to an HTTP proxy). */
export function sendThroughProxy(proxyPort: number, entry: MixEntry): Promise<Outcome> {
  const r = httpRequestOf(entry);
  const { host } = new URL(r.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: r.method, path: r.url, headers: { ...r.headers, host }, agent: false, timeout: TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (body.length < BODY_LIMIT) body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, upstream: body === UPSTREAM_BODY }));
    });
    req.on('timeout', () => req.destroy(new Error(`${r.method} ${r.url} through 127.0.0.1:${proxyPort}: no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

export function expectedOutcome(variant: Variant, entry: MixEntry, o: Outcome): boolean {
  const reaches = ALLOW_ALL.has(variant) || entry.expect === 'allow';
  return reaches ? o.status === 200 && o.upstream : !o.upstream;
}

export async function verifyThroughEnvoys(proxies: ReadonlyMap<Variant, number>): Promise<VerifyRow[]> {
  const rows: VerifyRow[] = [];
  for (const entry of MIX) {
    const outcomes = new Map<Variant, Outcome>();
    for (const [variant, port] of proxies) outcomes.set(variant, await sendThroughProxy(port, entry));
    rows.push({ entry, outcomes, ok: [...outcomes].every(([v, o]) => expectedOutcome(v, entry, o)) });
  }
  return rows;
}

export function verifyTable(variants: readonly Variant[], rows: readonly VerifyRow[]): string {
  const cell = (o: Outcome | undefined): string => (o === undefined ? '-' : `${o.status}${o.upstream ? ' upstream' : ''}`);
  const lines = [`${'request'.padEnd(15)} ${'expect'.padEnd(7)} ${variants.map((v) => v.padEnd(13)).join(' ')} ok`];
  for (const r of rows) lines.push(`${r.entry.id.padEnd(15)} ${r.entry.expect.padEnd(7)} ${variants.map((v) => cell(r.outcomes.get(v)).padEnd(13)).join(' ')} ${r.ok ? 'yes' : 'NO'}`);
  return lines.join('\n');
}
