// One connection pool to the API server per TLS identity, not one per request.
//
// @kubernetes/client-node 2.x builds a new undici Agent for every request
// (KubeConfig.applySecurityAuthentication → createDispatcher), each with its
// own TLS SecureContext and its own keep-alive HTTP/2 connection. With 1,000
// sidecars saying hello the controller made 1,000 TokenReviews and held about
// 760 idle TLS connections to the API server: 18 MB of nghttp2 buffers in the
// V8 heap's native part, the rest of ~270 MB RSS in OpenSSL contexts and
// sockets (measured by `make bench-controller-memory`, heap snapshot). Here the
// dispatcher is memoised by what makes it different (server, proxy, CA, client
// certificate and key, TLS options), so every request with the same identity
// shares one Agent; a rotated client certificate gets a new Agent and the old
// one is closed once its requests are done.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';

const SHARED: unique symbol = Symbol('agentwarden.sharedDispatchers');

/** Distinct identities kept (a rotation adds one; older ones are closed). */
const MAX_DISPATCHERS = 4;

interface Closable { close(): Promise<void> }
type CreateDispatcher = (cluster: { readonly server?: string; readonly proxyUrl?: string } | null, agentOptions: Record<string, unknown>) => Closable | undefined;

/** Makes `kc` reuse one dispatcher per identity; returns `kc`. Idempotent. */
export function shareDispatchers(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher?: CreateDispatcher; [SHARED]?: true };
  const original = target.createDispatcher;
  // An unknown client-node: leave it as it is (correct, only heavier).
  if (typeof original !== 'function' || target[SHARED] === true) return kc;
  const create = original.bind(kc);
  const cache = new Map<string, Closable | undefined>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = identityKey(cluster, agentOptions);
    if (key === undefined) return create(cluster, agentOptions);
    if (cache.has(key)) {
      const hit = cache.get(key);
      // Most recently used last.
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const dispatcher = create(cluster, agentOptions);
    cache.set(key, dispatcher);
    while (cache.size > MAX_DISPATCHERS) {
      const [oldKey, old] = cache.entries().next().value as [string, Closable | undefined];
      cache.delete(oldKey);
      // close() lets requests in flight finish; new ones use the newer dispatcher.
      void old?.close().catch(() => undefined);
    }
    return dispatcher;
  };
  target[SHARED] = true;
  return kc;
}

/** What makes a dispatcher different, hashed; undefined when an option cannot be compared (never shared). */
function identityKey(cluster: { readonly server?: string; readonly proxyUrl?: string } | null, options: Record<string, unknown>): string | undefined {
  const h = createHash('sha256');
  let shareable = true;
  const part = (v: unknown): void => {
    if (v === undefined || v === null) h.update('\0-');
    else if (Buffer.isBuffer(v) || v instanceof Uint8Array) h.update('\0b').update(v);
    else if (Array.isArray(v)) { h.update(`\0a${v.length}`); v.forEach(part); }
    else if (typeof v === 'object') {
      // e.g. key: [{ pem, passphrase }]: every field counts, so two identities never share.
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o).sort()) { h.update(`\0o${k}`); part(o[k]); }
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') h.update(`\0s${typeof v}:${String(v)}`);
    // A function or symbol cannot be compared: this identity is not shared.
    else shareable = false;
  };
  part(cluster?.server);
  part(cluster?.proxyUrl);
  for (const k of Object.keys(options).sort()) {
    h.update(`\0k${k}`);
    part(options[k]);
  }
  return shareable ? h.digest('hex') : undefined;
}
