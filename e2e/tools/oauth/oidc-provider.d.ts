// The part of oidc-provider's API (npm oidc-provider, pinned in package.json)
// that e2e/tools/oauth uses; the package ships no type declarations.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ResourceServer {
    readonly scope: string;
    readonly audience?: string;
    readonly accessTokenTTL?: number;
    readonly accessTokenFormat?: 'opaque' | 'jwt';
  }

  export interface ClientMetadata {
    readonly client_id: string;
    readonly client_secret?: string;
    readonly grant_types?: readonly string[];
    readonly response_types?: readonly string[];
    readonly redirect_uris?: readonly string[];
    readonly scope?: string;
    readonly token_endpoint_auth_method?: string;
  }

  export interface Configuration {
    readonly clients?: readonly ClientMetadata[];
    readonly scopes?: readonly string[];
    readonly features?: Record<string, unknown>;
    readonly ttl?: Record<string, unknown>;
    readonly clientBasedCORS?: () => boolean;
  }

  export interface Adapter {
    upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void>;
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    proxy: boolean;
    readonly Client: { readonly adapter: Adapter };
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
