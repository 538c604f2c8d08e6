// Brokered OAuth credentials in the controller: the broker wired to the
// credential Secrets cache (client_id and client_secret, read at every fetch)
// and to a TLS token client that trusts the system CAs plus --oauth-ca-file.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { OAUTH2_CLIENT_ID_KEY, OAUTH2_CLIENT_SECRET_KEY } from '../../../policy/src/index.js';
import { CREDENTIAL_SELECTOR } from '../kube/credentials.js';
import type { SlimSecret } from '../kube/objects.js';
import { TokenBroker, type ClientSecretLookup, type TokenBrokerDeps } from './broker.js';
import type { OAuthOptions } from './options.js';
import { fetchToken } from './token-client.js';

export { TokenBroker, type TokenDemand, type TokenStatus, type TokenState } from './broker.js';
export { tokenDemand } from './demand.js';
export { DEFAULT_OAUTH_OPTIONS, type OAuthOptions } from './options.js';

/** client_id and client_secret of a credential's Secret from the credential Secrets cache. */
export function clientSecretFrom(secret: (namespace: string, name: string) => SlimSecret | undefined): ClientSecretLookup {
  return (namespace, name) => {
    const s = secret(namespace, name);
    if (s === undefined) return { ok: false, version: 'missing', message: `Secret ${namespace}/${name} is not among the Secrets labelled ${CREDENTIAL_SELECTOR}` };
    const version = s.metadata.resourceVersion;
    const id = s.data[OAUTH2_CLIENT_ID_KEY];
    const secretValue = s.data[OAUTH2_CLIENT_SECRET_KEY];
    if (id === undefined || secretValue === undefined) return { ok: false, version, message: `Secret ${namespace}/${name} needs keys ${OAUTH2_CLIENT_ID_KEY} and ${OAUTH2_CLIENT_SECRET_KEY}` };
    const decode = (b64: string): string => Buffer.from(b64, 'base64').toString('utf8').replace(/[\r\n]+$/, '');
    return { ok: true, version, clientId: decode(id), clientSecret: decode(secretValue) };
  };
}

/** The CAs a token endpoint may chain to: Node's bundled roots plus --oauth-ca-file (undefined: Node's defaults). */
export function trustedCas(caFile: string | undefined): string | undefined {
  if (caFile === undefined) return undefined;
  return [...rootCertificates, readFileSync(caFile, 'utf8')].join('\n');
}

export function startTokenBroker(options: OAuthOptions, secret: (namespace: string, name: string) => SlimSecret | undefined, deps: Pick<TokenBrokerDeps, 'mayFetch' | 'onChange' | 'log'>): TokenBroker {
  const ca = trustedCas(options.caFile);
  return new TokenBroker({
    ...deps, options, clientSecret: clientSecretFrom(secret),
    fetch: (r) => fetchToken(r, { ca, timeoutMs: options.requestTimeoutMs, maxResponseBytes: options.maxResponseBytes }),
  });
}
