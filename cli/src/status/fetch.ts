// Reads the controller's /debug/syncz: directly (--controller-url) or through
// the API server's service proxy with the kubeconfig's credentials, as
// kubectl get --raw /api/v1/namespaces/<ns>/services/<svc>:<port>/proxy/... does.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { SYNC_STATES, SYNCZ_PATH, type SynczPod, type SynczReplica, type SynczReport } from '../../../common/syncz.js';

/** The controller or the API server could not be reached or answered with an error: the message says which and why. */
export class StatusFetchError extends Error {}

const TIMEOUT_MS = 10_000;
const MAX_BYTES = 16 << 20;

export interface ProxyTarget {
  readonly namespace: string;
  readonly service: string;
  readonly port: string;
}

export function proxyPath(t: ProxyTarget): string {
  return `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/services/${encodeURIComponent(t.service)}:${encodeURIComponent(t.port)}/proxy${SYNCZ_PATH}`;
}

/** GET /debug/syncz on the controller at `base` (http://host:port). */
export async function fetchDirect(base: string): Promise<SynczReport> {
  const url = new URL(SYNCZ_PATH, base);
  return parseReport(await get(url, {}, `controller ${base}`), url.toString());
}

/** GET /debug/syncz through the API server's service proxy. */
export async function fetchThroughApiServer(kc: KubeConfig, target: ProxyTarget): Promise<SynczReport> {
  const server = kc.getCurrentCluster()?.server ?? '';
  const url = new URL(proxyPath(target), server);
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  return parseReport(await get(url, options, `the controller through the API server (${url.toString()})`), url.toString());
}

function get(url: URL, options: RequestOptions, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { ...options, method: 'GET', timeout: TIMEOUT_MS, headers: { ...options.headers, accept: 'application/json' } }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BYTES) req.destroy(new Error(`answer larger than ${MAX_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(body);
        else reject(new StatusFetchError(`${what}: HTTP ${res.statusCode ?? 0}: ${apiMessage(body)}`));
      });
      res.on('error', (e) => { reject(new StatusFetchError(`${what}: ${e.message}`, { cause: e })); });
    });
    req.on('timeout', () => { req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)); });
    req.on('error', (e: Error & { code?: string }) => { reject(new StatusFetchError(`cannot reach ${what}: ${e.code === undefined ? '' : `${e.code}: `}${e.message}`, { cause: e })); });
    req.end();
  });
}

/** The API server's Status message, else the body's first line. */
function apiMessage(body: string): string {
  try {
    const v: unknown = JSON.parse(body);
    if (typeof v === 'object' && v !== null && 'message' in v && typeof v.message === 'string') return v.message;
  } catch {
    // not JSON: the body as it came
  }
  return body.split('\n')[0]?.slice(0, 300) ?? '';
}

/** Checks the answer's shape; a field missing or of the wrong type is named. */
export function parseReport(text: string, source: string): SynczReport {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e: unknown) {
    throw new StatusFetchError(`${source}: not JSON (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  const bad = (field: string): never => { throw new StatusFetchError(`${source}: ${field} missing or not of the expected type (is this an agentwarden controller?)`); };
  if (!isRecord(v)) return bad('the answer');
  const controller = v['controller'];
  if (!isRecord(controller) || typeof controller['identity'] !== 'string' || typeof controller['leader'] !== 'boolean') return bad('controller');
  if (typeof v['generatedAt'] !== 'string') return bad('generatedAt');
  const pods = v['pods'];
  if (!Array.isArray(pods)) return bad('pods');
  return {
    controller: { identity: controller['identity'], leader: controller['leader'] },
    generatedAt: v['generatedAt'],
    pods: pods.map((p: unknown, i): SynczPod => {
      if (!isRecord(p)) return bad(`pods[${i}]`);
      const str = (k: string): string => { const x = p[k]; return typeof x === 'string' ? x : bad(`pods[${i}].${k}`); };
      const state = SYNC_STATES.find((s) => s === p['state']) ?? bad(`pods[${i}].state`);
      const nackError = p['nackError'];
      const streams = p['streams'];
      return {
        namespace: str('namespace'), pod: str('pod'), state, acked: str('acked'), sent: str('sent'), desired: str('desired'),
        nackError: typeof nackError === 'string' ? nackError : null, lastChange: str('lastChange'), connectedAt: str('connectedAt'),
        streams: typeof streams === 'number' ? streams : bad(`pods[${i}].streams`),
        ...(p['replica'] === undefined ? {} : { replica: str('replica') }),
      };
    }),
    ...(v['replicas'] === undefined ? {} : { replicas: replicasOf(v['replicas'], bad) }),
  };
}

/** The other live replicas of the answer (a controller with replica reports). */
function replicasOf(v: unknown, bad: (field: string) => never): SynczReplica[] {
  if (!Array.isArray(v)) return bad('replicas');
  return v.map((r: unknown, i): SynczReplica => {
    if (!isRecord(r) || typeof r['identity'] !== 'string' || typeof r['renewedAt'] !== 'string' || typeof r['pods'] !== 'number') return bad(`replicas[${i}]`);
    return { identity: r['identity'], renewedAt: r['renewedAt'], pods: r['pods'] };
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
