// Fakes of what cannot run in a unit test: the API server behind Kube (lists
// over in-memory objects, watches that stay open until aborted) and behind the
// CA root publisher (namespaces and ConfigMaps in memory, failures on demand),
// and an openssl-made PKI (a test CA and leaf certificates it signs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, type CoordinationV1Api, type V1ConfigMap, type Watch } from '@kubernetes/client-node';
import type { Kube } from '../src/kube/api.js';
import type { CaRootApi } from '../src/kube/ca-root-api.js';
import type { ListResult } from '../src/kube/informer.js';
import type { AgentPolicyObject, SlimNamespace, SlimPod, SlimSecret } from '../src/kube/objects.js';
import type { TokenReviewResult } from '../src/distribution/auth.js';

/** Watches that report nothing and end, as client-node's do, when aborted. */
export const silentWatch = {
  watch(_path: string, _params: unknown, _callback: unknown, done: (err: unknown) => void): Promise<AbortController> {
    const controller = new AbortController();
    controller.signal.addEventListener('abort', () => { setImmediate(() => { done(new DOMException('This operation was aborted', 'AbortError')); }); });
    return Promise.resolve(controller);
  },
} as unknown as Watch;

export class FakeKube implements Kube {
  readonly config = new KubeConfig();
  readonly watch = silentWatch;
  readonly coordination = {} as CoordinationV1Api;
  policies: AgentPolicyObject[] = [];
  pods: SlimPod[] = [];
  private rv = 100;

  listPolicies(): Promise<ListResult<AgentPolicyObject>> { return Promise.resolve({ items: this.policies, resourceVersion: String(this.rv++) }); }
  listPods(): Promise<ListResult<SlimPod>> { return Promise.resolve({ items: this.pods, resourceVersion: String(this.rv++) }); }
  listSecrets(): Promise<ListResult<SlimSecret>> { return Promise.resolve({ items: [], resourceVersion: String(this.rv++) }); }
  reviewToken(): Promise<TokenReviewResult> {
    return Promise.resolve({ authenticated: false, username: '', extra: {}, audiences: [], error: 'invalid bearer token' });
  }
  namespaceLabels(): Promise<Record<string, string>> { return Promise.resolve({}); }
  writeStatus(): Promise<void> { return Promise.resolve(); }
}

export function namespace(name: string, labels: Record<string, string> = {}, resourceVersion = '1', terminating = false): SlimNamespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, resourceVersion, labels }, terminating };
}

export interface ApiCall { readonly verb: 'get' | 'create' | 'update'; readonly namespace: string }

/** ConfigMaps in memory with the API server's create/update rules (409 on an existing name or a stale resourceVersion). */
export class FakeCaRootApi implements CaRootApi {
  namespaces: SlimNamespace[] = [];
  readonly configMaps = new Map<string, V1ConfigMap>();
  readonly calls: ApiCall[] = [];
  /** Namespaces whose requests fail, with what. */
  readonly failing = new Map<string, Error>();
  /** Each request takes this long, ms; maxInFlight is the most requests seen at once. */
  delayMs = 0;
  maxInFlight = 0;
  private inFlight = 0;
  private rv = 1;

  listNamespaces(): Promise<ListResult<SlimNamespace>> { return Promise.resolve({ items: this.namespaces, resourceVersion: String(this.rv++) }); }

  readConfigMap(ns: string, name: string): Promise<V1ConfigMap | undefined> {
    return this.call('get', ns, () => structuredClone(this.configMaps.get(`${ns}/${name}`)));
  }

  createConfigMap(ns: string, body: V1ConfigMap): Promise<void> {
    return this.call('create', ns, () => {
      const key = `${ns}/${body.metadata?.name ?? ''}`;
      if (this.configMaps.has(key)) throw Object.assign(new Error('AlreadyExists'), { code: 409 });
      this.put(key, body);
    });
  }

  replaceConfigMap(ns: string, name: string, body: V1ConfigMap): Promise<void> {
    return this.call('update', ns, () => {
      const key = `${ns}/${name}`;
      const current = this.configMaps.get(key);
      if (current === undefined) throw Object.assign(new Error('NotFound'), { code: 404 });
      if (current.metadata?.resourceVersion !== body.metadata?.resourceVersion) throw Object.assign(new Error('Conflict'), { code: 409 });
      this.put(key, body);
    });
  }

  /** A ConfigMap as someone else (kubectl, Helm) would have made it. */
  put(key: string, body: V1ConfigMap): void {
    this.configMaps.set(key, { ...structuredClone(body), metadata: { ...structuredClone(body.metadata), resourceVersion: String(this.rv++) } });
  }

  writes(): ApiCall[] { return this.calls.filter((c) => c.verb !== 'get'); }

  private async call<T>(verb: ApiCall['verb'], ns: string, fn: () => T): Promise<T> {
    this.calls.push({ verb, namespace: ns });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      const failure = this.failing.get(ns);
      if (failure !== undefined) throw failure;
      return fn();
    } finally {
      this.inFlight--;
    }
  }
}

/** A test CA in a fresh directory; `leaf` makes certificates it signs for 127.0.0.1. */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'aw-pki-'));
  readonly caCert: string;
  readonly caKey: string;

  constructor(cn = 'agentwarden-test-ca') {
    this.caCert = join(this.dir, 'ca.crt');
    this.caKey = join(this.dir, 'ca.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.caKey, '-out', this.caCert, '-days', '1', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  }

  leaf(name: string, cn: string): { readonly cert: string; readonly key: string } {
    const cert = join(this.dir, `${name}.crt`);
    const key = join(this.dir, `${name}.key`);
    execFileSync('openssl', ['req', '-x509', '-CA', this.caCert, '-CAkey', this.caKey, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`,
      '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth'], { stdio: 'ignore' });
    return { cert, key };
  }
}
