// One client-credentials token request (RFC 6749 section 4.4) over TLS,
// bounded in time (the whole exchange) and size (the answer), with every way it
// can go wrong turned into a reason and words that name no token or secret.
import { request } from 'node:https';
import type { OAuth2Spec } from '../../../policy/src/index.js';

/** What one request needs: the credential's oauth2 settings, the client from its Secret, and the scope set. */
export interface TokenRequest {
  readonly spec: OAuth2Spec;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: readonly string[];
}

export interface TokenClientOptions {
  /** Trusted CAs (PEM); undefined: Node's defaults. */
  readonly ca: string | undefined;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

/** Status reasons of a failed fetch (AgentPolicy.status.tokens[].reason, metric label result). */
export type TokenFailureReason =
  | 'TokenEndpointError' | 'TokenEndpointTimeout' | 'TokenEndpointTLS' | 'TokenEndpointUnreachable'
  | 'TokenResponseTooLarge' | 'TokenResponseMalformed' | 'TokenScopeMismatch' | 'ClientSecretUnavailable';

export type TokenResult =
  | { readonly ok: true; readonly accessToken: string; readonly lifetimeMs: number }
  | { readonly ok: false; readonly reason: TokenFailureReason; readonly message: string };

/** Longest access token taken (a header value). */
export const MAX_ACCESS_TOKEN_LENGTH = 16_384;
/** Token characters: printable ASCII without spaces (RFC 6750 b64token and what servers send), so that the header is sound. */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;
/** An OAuth error code (RFC 6749 section 5.2): safe to repeat in status. */
const ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
const TLS_CODES = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_SSL_|EPROTO)/;

/** The form body of the request (client_secret only with ClientSecretPost). */
export function tokenForm(r: TokenRequest): URLSearchParams {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (r.scopes.length > 0) form.set('scope', r.scopes.join(' '));
  if (r.spec.audience !== undefined) form.set('resource', r.spec.audience);
  for (const [k, v] of Object.entries(r.spec.parameters)) form.set(k, v);
  if (r.spec.clientAuth === 'ClientSecretPost') {
    form.set('client_id', r.clientId);
    form.set('client_secret', r.clientSecret);
  }
  return form;
}

/** Fetches one token. Never throws; never rejects. */
export function fetchToken(r: TokenRequest, options: TokenClientOptions): Promise<TokenResult> {
  const body = tokenForm(r).toString();
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  };
  if (r.spec.clientAuth === 'ClientSecretBasic') {
    // RFC 6749 section 2.3.1: both form-urlencoded before Basic.
    headers['authorization'] = `Basic ${Buffer.from(`${encodeURIComponent(r.clientId)}:${encodeURIComponent(r.clientSecret)}`).toString('base64')}`;
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: TokenResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = request(r.spec.tokenUrl, { method: 'POST', headers, ...(options.ca === undefined ? {} : { ca: options.ca }) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const declared = Number(res.headers['content-length'] ?? '0');
      if (declared > options.maxResponseBytes) {
        done({ ok: false, reason: 'TokenResponseTooLarge', message: `token endpoint answered ${declared} bytes, above the controller's --oauth-max-response-bytes ${options.maxResponseBytes}` });
        return;
      }
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxResponseBytes) {
          done({ ok: false, reason: 'TokenResponseTooLarge', message: `token endpoint answered more than the controller's --oauth-max-response-bytes ${options.maxResponseBytes} bytes` });
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => { done(readAnswer(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), r.scopes)); });
      res.on('error', (e: Error) => { done(failure(e)); });
    });
    const timer = setTimeout(() => {
      done({ ok: false, reason: 'TokenEndpointTimeout', message: `token endpoint did not answer within the controller's --oauth-token-timeout ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    req.on('error', (e: Error) => { done(failure(e)); });
    req.end(body);
  });
}

function failure(e: Error): TokenResult {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (TLS_CODES.test(code) || /certificate|SSL|TLS/i.test(e.message)) {
    return { ok: false, reason: 'TokenEndpointTLS', message: `TLS with the token endpoint failed: ${code === '' ? e.message : code} (does the controller trust its CA? --oauth-ca-file)` };
  }
  return { ok: false, reason: 'TokenEndpointUnreachable', message: `token endpoint unreachable: ${code === '' ? e.message : code}` };
}

/** Reads a token endpoint answer (RFC 6749 sections 5.1 and 5.2). */
export function readAnswer(status: number, text: string, scopes: readonly string[]): TokenResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const o = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  if (status !== 200) {
    const code = typeof o?.['error'] === 'string' && ERROR_CODE.test(o['error']) ? ` ${o['error']}` : '';
    return { ok: false, reason: 'TokenEndpointError', message: `token endpoint answered ${status}${code}` };
  }
  if (o === undefined) return { ok: false, reason: 'TokenResponseMalformed', message: 'token endpoint answered 200 with a body that is not a JSON object' };
  const token = o['access_token'];
  if (typeof token !== 'string' || token === '') return { ok: false, reason: 'TokenResponseMalformed', message: 'token endpoint answered without access_token' };
  if (token.length > MAX_ACCESS_TOKEN_LENGTH || !TOKEN_CHARS.test(token)) return { ok: false, reason: 'TokenResponseMalformed', message: `access_token is not a header-safe token of at most ${MAX_ACCESS_TOKEN_LENGTH} characters` };
  const type = o['token_type'];
  if (typeof type !== 'string' || type.toLowerCase() !== 'bearer') return { ok: false, reason: 'TokenResponseMalformed', message: `token_type is ${typeof type === 'string' && ERROR_CODE.test(type) ? `"${type}"` : 'missing'}, not Bearer` };
  const expiresIn = typeof o['expires_in'] === 'string' ? Number(o['expires_in']) : o['expires_in'];
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    return { ok: false, reason: 'TokenResponseMalformed', message: 'token endpoint answered without a positive expires_in: a token that never expires is not taken (it could never be refreshed in time)' };
  }
  // A token with more scopes than asked for is more privilege than the rule has: refused.
  const granted = o['scope'];
  if (typeof granted === 'string' && granted.trim() !== '') {
    const extra = granted.trim().split(/ +/).filter((s) => !scopes.includes(s));
    if (extra.length > 0) return { ok: false, reason: 'TokenScopeMismatch', message: `token endpoint granted scopes beyond those asked for (${extra.slice(0, 8).join(' ')})` };
  }
  return { ok: true, accessToken: token, lifetimeMs: Math.round(expiresIn * 1000) };
}
