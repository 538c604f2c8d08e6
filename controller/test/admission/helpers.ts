// Test helpers for the admission webhooks: AdmissionReview bodies, the
// express app served over plain HTTP on loopback, and a fake namespace lookup.
import type { Server } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import { createWebhookApp, type AdmissionResponse, type WebhookDeps } from '../../src/admission/index.js';
import { DEFAULT_INJECT_OPTIONS } from '../../src/inject/index.js';

export const NAMESPACES: Record<string, Record<string, string>> = {
  support: { 'agentwarden.io/inject': 'enabled', 'kubernetes.io/metadata.name': 'support' },
  web: { 'kubernetes.io/metadata.name': 'web' },
  legacy: { 'agentwarden.io/inject': 'enabled', 'agentwarden.io/allow-proxy-env': 'true', 'kubernetes.io/metadata.name': 'legacy' },
};

/** The fake behind namespaceLabels: the table above; "broken" fails as an unreachable API server would. */
export function fakeNamespaces(namespace: string): Promise<Readonly<Record<string, string>> | undefined> {
  if (namespace === 'broken') return Promise.reject(new Error('connect ECONNREFUSED 10.96.0.1:443'));
  return Promise.resolve(NAMESPACES[namespace]);
}

let uid = 0;

export interface ReviewRequest {
  readonly kind?: string;
  readonly group?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly operation?: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly subResource?: string;
  readonly object?: unknown;
  readonly oldObject?: unknown;
}

export function review(r: ReviewRequest): { apiVersion: string; kind: string; request: Record<string, unknown> } {
  uid++;
  const kind = r.kind ?? 'Pod';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `00000000-0000-0000-0000-${String(uid).padStart(12, '0')}`,
      kind: { group: r.group ?? '', version: 'v1', kind },
      resource: { group: r.group ?? '', version: 'v1', resource: `${kind.toLowerCase()}s` },
      ...(r.subResource === undefined ? {} : { subResource: r.subResource }),
      namespace: r.namespace ?? 'support',
      ...(r.name === undefined ? {} : { name: r.name }),
      operation: r.operation ?? 'CREATE',
      userInfo: { username: 'alice' },
      object: r.object ?? null,
      oldObject: r.oldObject ?? null,
      dryRun: false,
    },
  };
}

export function pod(name: string, spec: Partial<NonNullable<V1Pod['spec']>> = {}, metadata: Partial<NonNullable<V1Pod['metadata']>> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'support', labels: { app: 'agent' }, ...metadata },
    spec: { containers: [{ name: 'agent', image: 'registry.example/agent:1' }], ...spec },
  };
}

export interface TestApp {
  readonly url: string;
  /** POSTs a review (or any body) and returns the status, the parsed response, and the raw text. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; response: AdmissionResponse | undefined; text: string; uid: unknown }>;
  close(): Promise<void>;
}

export async function startApp(deps: Partial<WebhookDeps> = {}): Promise<TestApp> {
  const app = createWebhookApp({ inject: DEFAULT_INJECT_OPTIONS, namespaceLabels: fakeNamespaces, ...deps });
  const server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => { resolve(s); }); });
  const address = server.address();
  const url = `http://127.0.0.1:${address !== null && typeof address === 'object' ? address.port : 0}`;
  return {
    url,
    async post(path, body, headers = { 'content-type': 'application/json' }) {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
      const text = await res.text();
      let parsed: { response?: AdmissionResponse } | undefined;
      try { parsed = JSON.parse(text) as { response?: AdmissionResponse }; } catch { parsed = undefined; }
      return { status: res.status, response: parsed?.response, text, uid: parsed?.response?.uid };
    },
    close: () => new Promise<void>((resolve) => { server.close(() => { resolve(); }); server.closeAllConnections(); }),
  };
}

export function decodePatch(response: AdmissionResponse | undefined): unknown {
  return response?.patch === undefined ? undefined : JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
}
