// Bad answers from a token endpoint are bounded in size and time and reported
// with a reason; none yields a token. The endpoint here is a TLS server that
// misbehaves on purpose (the real authorization server never does): each path
// answers one way.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { makeServerPki } from '../../../e2e/tools/oauth/authorization-server.js';
import { fetchToken, tokenForm, type TokenRequest } from '../../src/oauth/token-client.js';

const SECRET = 'client-secret-never-echoed';
const GOOD = { access_token: 'tok-abc', token_type: 'Bearer', expires_in: 60, scope: 'a' };

describe('a token request', () => {
  let server: Server;
  let base = '';
  let ca = '';
  const sockets = new Set<Socket>();
  const bodies: string[] = [];

  beforeAll(async () => {
    const pki = makeServerPki();
    ca = readFileSync(pki.caFile, 'utf8');
    server = createServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        bodies.push(`${req.headers.authorization ?? ''} ${body}`);
        const json = (status: number, value: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value)); };
        switch (req.url) {
          case '/good': return json(200, GOOD);
          case '/malformed': return void res.writeHead(200).end('{"access_token": "tok-abc", ');
          case '/no-expiry': return json(200, { access_token: 'tok-abc', token_type: 'Bearer' });
          case '/not-bearer': return json(200, { ...GOOD, token_type: 'mac' });
          case '/huge': {
            res.writeHead(200, { 'content-type': 'application/json' });
            const chunk = 'x'.repeat(16_384);
            for (let i = 0; i < 64; i++) res.write(chunk);
            return void res.end();
          }
          case '/slow': return; // never answers
          case '/revoked': return json(401, { error: 'invalid_client', error_description: `client ${SECRET} revoked` });
          case '/wider': return json(200, { ...GOOD, scope: 'a admin' });
          default: return json(404, {});
        }
      });
    });
    server.on('connection', (s: Socket) => { sockets.add(s); });
    await new Promise<void>((r) => { server.listen(0, '127.0.0.1', r); });
    const a = server.address();
    base = `https://127.0.0.1:${a !== null && typeof a === 'object' ? a.port : 0}`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => { server.close(() => { r(); }); });
  });

  const req = (path: string): TokenRequest => ({
    spec: { tokenUrl: `${base}${path}`, clientSecretRef: { name: 's' }, scopes: ['a', 'b'], audience: 'https://api', parameters: { team: 'x' }, clientAuth: 'ClientSecretBasic' },
    clientId: 'agent/1', clientSecret: SECRET, scopes: ['a'],
  });
  const opts = (): { ca: string; timeoutMs: number; maxResponseBytes: number } => ({ ca, timeoutMs: 500, maxResponseBytes: 65_536 });

  it('sends the client-credentials form with the scope set, the audience as resource, and the client in HTTP Basic', async () => {
    expect(await fetchToken(req('/good'), opts())).toEqual({ ok: true, accessToken: 'tok-abc', lifetimeMs: 60_000 });
    const seen = bodies.at(-1) ?? '';
    expect(seen).toBe(`Basic ${Buffer.from(`agent%2F1:${SECRET}`).toString('base64')} grant_type=client_credentials&scope=a&resource=https%3A%2F%2Fapi&team=x`);
    expect(tokenForm({ ...req('/good'), spec: { ...req('/good').spec, clientAuth: 'ClientSecretPost' } }).get('client_secret')).toBe(SECRET);
  });

  it.each([
    ['/malformed', 'TokenResponseMalformed', 'token endpoint answered 200 with a body that is not a JSON object'],
    ['/no-expiry', 'TokenResponseMalformed', 'token endpoint answered without a positive expires_in: a token that never expires is not taken (it could never be refreshed in time)'],
    ['/not-bearer', 'TokenResponseMalformed', 'token_type is "mac", not Bearer'],
    ['/huge', 'TokenResponseTooLarge', 'token endpoint answered more than the controller\'s --oauth-max-response-bytes 65536 bytes'],
    ['/slow', 'TokenEndpointTimeout', 'token endpoint did not answer within the controller\'s --oauth-token-timeout 500 ms'],
    ['/revoked', 'TokenEndpointError', 'token endpoint answered 401 invalid_client'],
    ['/wider', 'TokenScopeMismatch', 'token endpoint granted scopes beyond those asked for (admin)'],
  ])('%s fails with %s and words that carry no secret', async (path, reason, message) => {
    const started = Date.now();
    const result = await fetchToken(req(path), opts());
    expect(result).toEqual({ ok: false, reason, message });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it('fails with TokenEndpointTLS when the server\'s CA is not trusted', async () => {
    const result = await fetchToken(req('/good'), { ...opts(), ca: undefined });
    expect(result).toMatchObject({ ok: false, reason: 'TokenEndpointTLS' });
    expect(result.ok ? '' : result.message).toMatch(/^TLS with the token endpoint failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE \(does the controller trust its CA\? --oauth-ca-file\)$/);
  });

  it('fails with TokenEndpointUnreachable when nothing listens', async () => {
    const result = await fetchToken({ ...req('/good'), spec: { ...req('/good').spec, tokenUrl: 'https://127.0.0.1:1/token' } }, opts());
    expect(result).toEqual({ ok: false, reason: 'TokenEndpointUnreachable', message: 'token endpoint unreachable: ECONNREFUSED' });
  });
});
