// The agent's HTTP client: one request with Node's fetch, one JSON line with what came back or
// how it failed. Exits 0 whatever happened.
//
//   node dist/e2e/pod/agent/fetch.js --url http://api.example.com/x [--method POST] [--header 'Name: v' ...]
//        [--body TEXT] [--proxy-env] [--timeout-ms 10000]
//
// --proxy-env: route through HTTP_PROXY / HTTPS_PROXY / NO_PROXY, with Node's own proxy support
// (http.setGlobalProxyFromEnv, the same as NODE_USE_ENV_PROXY=1); without it fetch goes direct.
//
// stdout: {"request":{"method","url","proxyEnv"},"response":{"status","statusText","headers":[[n,v]...],
//   "body":TEXT (first 64 KiB),"bodyLength","truncated"}} or {"request":...,"error":{"class","code","message","cause"}}
import { setGlobalProxyFromEnv, type ProxyEnv } from 'node:http';
import { parseArgs } from 'node:util';
import { describeError, parseHeader, positiveInt, printResult, runProgram, type ErrorDescription } from './result.js';

export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
/** How much of the response body is printed; bodyLength counts all of it. */
export const BODY_PRINT_LIMIT = 64 * 1024;

export interface FetchOptions {
  readonly url: string;
  readonly method?: string;
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string;
  /** Proxy through these HTTP_PROXY / HTTPS_PROXY / NO_PROXY variables (the CLI's --proxy-env passes process.env); direct when absent. */
  readonly proxyEnv?: ProxyEnv;
  readonly timeoutMs?: number;
}

export interface FetchResponseSummary {
  readonly status: number;
  readonly statusText: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
  readonly bodyLength: number;
  readonly truncated: boolean;
}

export interface FetchRun {
  readonly request: { readonly method: string; readonly url: string; readonly proxyEnv: boolean };
  readonly response?: FetchResponseSummary;
  readonly error?: ErrorDescription;
}

export async function runFetch(options: FetchOptions): Promise<FetchRun> {
  const method = options.method ?? 'GET';
  const request = { method, url: options.url, proxyEnv: options.proxyEnv !== undefined };
  const restore = options.proxyEnv === undefined ? undefined : setGlobalProxyFromEnv(options.proxyEnv);
  try {
    const response = await fetch(options.url, {
      method,
      headers: options.headers?.map(([name, value]) => [name, value]),
      body: options.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    return {
      request,
      response: {
        status: response.status,
        statusText: response.statusText,
        headers: [...response.headers.entries()],
        body: bytes.subarray(0, BODY_PRINT_LIMIT).toString('utf8'),
        bodyLength: bytes.length,
        truncated: bytes.length > BODY_PRINT_LIMIT,
      },
    };
  } catch (error: unknown) {
    return { request, error: describeError(error) };
  } finally {
    restore?.();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      method: { type: 'string' },
      header: { type: 'string', multiple: true },
      body: { type: 'string' },
      'proxy-env': { type: 'boolean' },
      'timeout-ms': { type: 'string' },
    },
  });
  if (values.url === undefined) throw new Error('--url is required');
  printResult(
    await runFetch({
      url: values.url,
      method: values.method,
      headers: (values.header ?? []).map(parseHeader),
      body: values.body,
      proxyEnv: values['proxy-env'] === true ? process.env : undefined,
      timeoutMs: positiveInt(values['timeout-ms'], '--timeout-ms', DEFAULT_FETCH_TIMEOUT_MS),
    }),
  );
}

if (import.meta.main) runProgram(main);
