// The admission webhooks served in-process for the e2e suites: HTTPS on
// 127.0.0.1 with the e2e PKI's serving certificate (the API server trusts it
// through caBundle = pki/ca.crt), namespace labels read from the API server.
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { kubeConfig } from './cluster.js';
import { PKI } from './controller-env.js';
import { freshNamespaceLabels, startWebhookServer, type FreshNamespaceOptions, type RunningWebhookServer } from '../../controller/src/admission/index.js';
import type { InjectOptions } from '../../controller/src/inject/index.js';

export function startLocalWebhookServer(port: number, inject: InjectOptions, fresh: FreshNamespaceOptions = {}): Promise<RunningWebhookServer> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  return startWebhookServer({
    listen: `127.0.0.1:${port}`,
    certFile: join(PKI, 'webhook.crt'),
    keyFile: join(PKI, 'webhook.key'),
    inject,
    namespaceLabels: freshNamespaceLabels(async (name) => {
      try {
        return (await core.readNamespace({ name })).metadata?.labels ?? {};
      } catch (e: unknown) {
        if (typeof e === 'object' && e !== null && 'code' in e && e.code === 404) return undefined;
        throw e;
      }
    }, fresh),
  });
}
