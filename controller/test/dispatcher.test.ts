// shareDispatchers (kube/dispatcher.ts): client-node's KubeConfig hands every
// request the same undici dispatcher for the same TLS identity (it built one per
// request: a TLS context and connection each), a different one for another
// identity, and closes the oldest when more than four identities were seen.
import { describe, expect, it } from '@jest/globals';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { shareDispatchers } from '../src/kube/dispatcher.js';

function config(ca: string, certData?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: Buffer.from(ca).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'u', token: 'token-1', ...(certData === undefined ? {} : { certData: Buffer.from(certData).toString('base64'), keyData: Buffer.from(`key of ${certData}`).toString('base64') }) }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function dispatcherOf(kc: KubeConfig): Promise<unknown> {
  const ctx = new RequestContext('https://127.0.0.1:6443/api/v1/pods', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getDispatcher();
}

describe('shareDispatchers', () => {
  it('gives every request of one identity the same dispatcher; without it, client-node makes one per request', async () => {
    const plain = config('ca-1');
    const a = await dispatcherOf(plain);
    expect(a).toBeDefined();
    expect(await dispatcherOf(plain)).not.toBe(a);

    const shared = shareDispatchers(config('ca-1'));
    const first = await dispatcherOf(shared);
    expect(await dispatcherOf(shared)).toBe(first);
    // Idempotent: wrapping again changes nothing.
    expect(await dispatcherOf(shareDispatchers(shared))).toBe(first);
  });

  it('gives another CA or client certificate another dispatcher, and closes the oldest beyond four identities', async () => {
    const kc = shareDispatchers(config('ca-1', 'cert-1'));
    const byCert = async (cert: string): Promise<{ close(): Promise<void>; closed?: boolean } & object> => {
      // The same KubeConfig whose user's certificate was rotated (client-node re-reads it per request).
      const user = kc.getCurrentUser() as { certData?: string; keyData?: string };
      user.certData = Buffer.from(cert).toString('base64');
      user.keyData = Buffer.from(`key of ${cert}`).toString('base64');
      return (await dispatcherOf(kc)) as { close(): Promise<void>; closed?: boolean };
    };
    const d1 = await byCert('cert-1');
    const d2 = await byCert('cert-2');
    expect(d2).not.toBe(d1);
    expect(await byCert('cert-1')).toBe(d1);
    await byCert('cert-3');
    await byCert('cert-4');
    expect(d2.closed).toBeFalsy();
    // A fifth identity: the least recently used (cert-2; cert-1 was used again) is closed.
    await byCert('cert-5');
    expect(d2.closed).toBe(true);
    expect(d1.closed).toBeFalsy();
    expect(await byCert('cert-1')).toBe(d1);
  });
});
