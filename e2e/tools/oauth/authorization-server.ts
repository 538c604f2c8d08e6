// A real OAuth 2.0 authorization server for the e2e suites and the bench:
// oidc-provider (npm, pinned) with its in-memory store, over TLS on loopback,
// with the client-credentials grant, token introspection (RFC 7662) and
// resource indicators (RFC 8707) for the token's audience. Its CA is made here
// (openssl), so that a client trusts it only when told to (--oauth-ca-file).
// stop() closes the listener and start() opens it again on the same port with
// the same store: an outage, after which issued tokens still introspect.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Provider, { type ClientMetadata } from 'oidc-provider';

export interface OAuthClient {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Scopes it may ask for. */
  readonly scopes: readonly string[];
}

export interface AuthorizationServerOptions {
  /** The client the controller uses (client_credentials). */
  readonly client: OAuthClient;
  /** The client the upstream uses to introspect tokens. */
  readonly introspector: { readonly clientId: string; readonly clientSecret: string };
  /** The API (resource indicator, the token's aud) and the scopes it knows. */
  readonly resource: string;
  /** Lifetime of an access token, seconds. */
  readonly accessTokenTtlS: number;
  /** Listen port (0: any). */
  readonly port?: number;
}

export interface Introspection {
  readonly active: boolean;
  readonly client_id?: string;
  readonly scope?: string;
  readonly aud?: string | string[];
  readonly exp?: number;
}

export interface RunningAuthorizationServer {
  readonly issuer: string;
  readonly tokenUrl: string;
  /** PEM of the CA that signed the server's certificate (give it to the controller's --oauth-ca-file). */
  readonly caFile: string;
  /** Access tokens issued so far (client_credentials). */
  readonly issued: number;
  introspect(token: string): Promise<Introspection>;
  /** Replaces the client's secret (rotation): the old one is refused from now on. */
  rotateClientSecret(secret: string): Promise<void>;
  /** Closes the listener (connections too): the token endpoint is down. */
  stop(): Promise<void>;
  /** Listens again on the same port with the same store. */
  start(): Promise<void>;
}

/** A CA and a server certificate for 127.0.0.1, made with openssl in a temporary directory. */
export function makeServerPki(): { readonly dir: string; readonly caFile: string; readonly certFile: string; readonly keyFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'aw-oauth-pki-'));
  const f = (name: string): string => join(dir, name);
  const run = (args: string[]): void => { execFileSync('openssl', args, { stdio: 'ignore' }); };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=agentwarden-e2e-oauth-ca']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('ext.cnf')]);
  return { dir, caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}

function clientMetadata(c: { clientId: string; clientSecret: string }, scopes: readonly string[], grants: readonly string[]): ClientMetadata {
  return {
    client_id: c.clientId, client_secret: c.clientSecret, grant_types: [...grants], response_types: [], redirect_uris: [],
    ...(scopes.length === 0 ? {} : { scope: scopes.join(' ') }), token_endpoint_auth_method: 'client_secret_basic',
  };
}

export async function startAuthorizationServer(options: AuthorizationServerOptions): Promise<RunningAuthorizationServer> {
  const pki = makeServerPki();
  const server: Server = createServer({ cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => { server.listen(options.port ?? 0, '127.0.0.1', resolve); });
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  const issuer = `https://127.0.0.1:${port}`;
  const scopes = options.client.scopes;
  const provider = new Provider(issuer, {
    // Dynamic (adapter-stored) clients, so that a secret can be rotated at run time.
    clients: [],
    scopes: [...scopes],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: (_ctx: unknown, client: { clientId: string }) => client.clientId === options.introspector.clientId },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== options.resource) throw new Error(`unknown resource ${indicator}`);
          return { scope: scopes.join(' '), audience: options.resource, accessTokenTTL: options.accessTokenTtlS, accessTokenFormat: 'opaque' };
        },
      },
    },
    ttl: { ClientCredentials: () => options.accessTokenTtlS },
  });
  provider.proxy = false;
  let issued = 0;
  provider.on('client_credentials.saved', () => { issued++; });
  await provider.Client.adapter.upsert(options.client.clientId, { ...clientMetadata(options.client, scopes, ['client_credentials']) });
  await provider.Client.adapter.upsert(options.introspector.clientId, { ...clientMetadata(options.introspector, [], ['client_credentials']) });
  const callback = provider.callback();
  server.on('request', callback);
  let currentSecret = options.client.clientSecret;

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    caFile: pki.caFile,
    get issued() { return issued; },
    async introspect(token) {
      const basic = Buffer.from(`${options.introspector.clientId}:${options.introspector.clientSecret}`).toString('base64');
      const body = await postForm(`${issuer}/token/introspection`, new URLSearchParams({ token }).toString(), `Basic ${basic}`, readFileSync(pki.caFile, 'utf8'));
      return JSON.parse(body) as Introspection;
    },
    async rotateClientSecret(secret) {
      currentSecret = secret;
      await provider.Client.adapter.upsert(options.client.clientId, { ...clientMetadata({ clientId: options.client.clientId, clientSecret: currentSecret }, scopes, ['client_credentials']) });
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => { resolve(); });
        for (const s of sockets) s.destroy();
      });
    },
    async start() {
      await new Promise<void>((resolve) => { server.listen(port, '127.0.0.1', resolve); });
    },
  };
}

/** POSTs a form over TLS trusting `ca`; resolves with the body (any status). */
export function postForm(url: string, body: string, authorization: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca, headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolve(Buffer.concat(chunks).toString('utf8')); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
