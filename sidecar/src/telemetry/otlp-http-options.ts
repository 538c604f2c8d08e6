// The OTLP/HTTP transport's options (otlp-http-transport.ts), read from
// OTEL_EXPORTER_OTLP_TRACES_* / OTEL_EXPORTER_OTLP_* as the SDK's exporter read
// them (@opentelemetry/otlp-exporter-base 0.223: the signal-specific variable
// first; the general endpoint gets v1/traces appended; headers "k=v,k2=v2",
// percent-decoded). config.ts calls otlpHttpOptionsFromEnv once, at start: a
// value the SDK would have ignored with a diagnostic nobody sees (an endpoint
// that is not a URL, a timeout that is not a positive number, a compression
// other than gzip or none, a certificate file that cannot be read) is an
// error naming the variable.
const { readFileSync } = process.getBuiltinModule('node:fs');
const nodePath = process.getBuiltinModule('node:path');

export type OtlpCompression = 'none' | 'gzip';

export interface OtlpHttpOptions {
  /** Where batches are POSTed. Default http://localhost:4318/v1/traces. */
  readonly url: URL;
  /** Headers sent with every export (Content-Type and User-Agent are the transport's). */
  readonly headers: Readonly<Record<string, string>>;
  /** An export, retries included, ends after this long, ms. Default 10,000. */
  readonly timeoutMs: number;
  readonly compression: OtlpCompression;
  /** PEM: the CA to trust, the client certificate chain and its key (https only). */
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Exports in flight, at most; one more fails at once. Default 30. */
  readonly concurrencyLimit: number;
}

/** The OTLP exporter specification's defaults, as the SDK's (getHttpConfigurationDefaults). */
export const DEFAULT_OTLP_HTTP = { url: 'http://localhost:4318/v1/traces', timeoutMs: 10_000, compression: 'none', concurrencyLimit: 30 } as const;

type Env = Readonly<Record<string, string | undefined>>;

/** A variable's value, undefined when unset or blank (the SDK's getStringFromEnv). */
function read(env: Env, name: string): { name: string; value: string } | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : { name, value };
}

/** The signal-specific variable, else the general one. */
function either(env: Env, suffix: string): { name: string; value: string } | undefined {
  return read(env, `OTEL_EXPORTER_OTLP_TRACES_${suffix}`) ?? read(env, `OTEL_EXPORTER_OTLP_${suffix}`);
}

function url(name: string, value: string): URL {
  try {
    const parsed = new URL(value);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return parsed;
  } catch {
    // below
  }
  throw new Error(`${name}: "${value}" is not an http:// or https:// URL`);
}

/**
 * "k1=v1,k2=v2", each part percent-decoded and trimmed, as the SDK parses
 * them (parseKeyPairsIntoRecord): an entry without a key or a value, or one
 * that does not decode, is left out; what follows a ";" in an entry is not
 * part of its value.
 */
export function parseOtlpHeaders(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of (raw ?? '').split(',')) {
    const pair = entry.split(';', 1)[0] ?? '';
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (key === '' || value === '') continue;
    try {
      out[decodeURIComponent(key)] = decodeURIComponent(value);
    } catch {
      // not percent-encoded correctly: left out, as the SDK does
    }
  }
  return out;
}

function pem(env: Env, suffix: string): Buffer | undefined {
  const v = either(env, suffix);
  if (v === undefined) return undefined;
  try {
    return readFileSync(nodePath.resolve(v.value));
  } catch (e: unknown) {
    throw new Error(`${v.name}: cannot read "${v.value}": ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** The transport's options from OTEL_EXPORTER_OTLP_*; throws an Error naming the variable it cannot use. */
export function otlpHttpOptionsFromEnv(env: Env): OtlpHttpOptions {
  const specific = read(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const general = read(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  // The signal-specific endpoint is used as given; the general one gets v1/traces appended.
  const endpoint = specific !== undefined
    ? url(specific.name, specific.value)
    : general !== undefined
      ? url(general.name, `${url(general.name, general.value).href.replace(/\/?$/, '/')}v1/traces`)
      : new URL(DEFAULT_OTLP_HTTP.url);
  const timeout = either(env, 'TIMEOUT');
  const timeoutMs = timeout === undefined ? DEFAULT_OTLP_HTTP.timeoutMs : Number(timeout.value);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error(`${timeout?.name ?? 'OTEL_EXPORTER_OTLP_TIMEOUT'}: "${timeout?.value ?? ''}" is not a positive number of milliseconds`);
  const compression = either(env, 'COMPRESSION');
  const c = compression?.value.trim() ?? DEFAULT_OTLP_HTTP.compression;
  if (c !== 'none' && c !== 'gzip') throw new Error(`${compression?.name ?? 'OTEL_EXPORTER_OTLP_COMPRESSION'}: "${c}" is not gzip or none`);
  const ca = pem(env, 'CERTIFICATE');
  const cert = pem(env, 'CLIENT_CERTIFICATE');
  const key = pem(env, 'CLIENT_KEY');
  return {
    url: endpoint,
    // Signal-specific headers win over the general ones.
    headers: { ...parseOtlpHeaders(read(env, 'OTEL_EXPORTER_OTLP_HEADERS')?.value), ...parseOtlpHeaders(read(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS')?.value) },
    timeoutMs, compression: c, concurrencyLimit: DEFAULT_OTLP_HTTP.concurrencyLimit,
    ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }),
  };
}
