// startWebhookServer: the webhooks over real HTTPS (node:https) with a
// certificate from files, reloaded when the files change. The certificates
// are made with openssl, as `make cluster-up` makes the e2e PKI.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { startWebhookServer, type RunningWebhookServer } from '../../src/admission/index.js';
import { DEFAULT_INJECT_OPTIONS } from '../../src/inject/index.js';
import { fakeNamespaces, pod, review } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'aw-webhook-tls-'));

/** A self-signed ECDSA P-256 certificate for 127.0.0.1. */
function selfSigned(name: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

function post(address: string, ca: string, path: string, body: unknown): Promise<{ status: number; text: string; peer: string }> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', ca: readFileSync(ca), headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerX509Certificate();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text, peer: peer?.subject ?? '' }); });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('the webhook server over HTTPS', () => {
  const first = selfSigned('first', 'webhook-one');
  let server: RunningWebhookServer;
  beforeAll(async () => {
    server = await startWebhookServer({ listen: '127.0.0.1:0', certFile: first.cert, keyFile: first.key, certReloadMs: 50, inject: DEFAULT_INJECT_OPTIONS, namespaceLabels: fakeNamespaces });
  });
  afterAll(async () => { await server.close(); });

  it('answers an AdmissionReview over TLS with the certificate from the files', async () => {
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const r = await post(server.address, first.cert, '/mutate-pods', review({ object: pod('agent') }));
    expect(r.status).toBe(200);
    expect(r.peer).toBe('CN=webhook-one');
    expect((JSON.parse(r.text) as { response: { patchType: string } }).response.patchType).toBe('JSONPatch');
    expect(server.metrics.get('mutate-pods', 'patched')).toBe(1);
  });

  it('serves a rotated certificate without a restart', async () => {
    const second = selfSigned('second', 'webhook-two');
    renameSync(second.key, first.key);
    renameSync(second.cert, first.cert);
    expect(new X509Certificate(readFileSync(first.cert)).subject).toBe('CN=webhook-two');
    const deadline = Date.now() + 10_000;
    while (server.certReloads() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const r = await post(server.address, first.cert, '/validate-pods', review({ object: pod('agent', {}, { namespace: 'web' }), namespace: 'web' }));
    expect(r.status).toBe(200);
    expect(r.peer).toBe('CN=webhook-two');
  });

  it('counts reviews by webhook and outcome for /metrics', () => {
    expect(server.metrics.render()).toEqual(expect.arrayContaining([
      'agentwarden_admission_reviews_total{webhook="mutate-pods",outcome="patched"} 1',
      'agentwarden_admission_reviews_total{webhook="validate-pods",outcome="allowed"} 1',
    ]));
  });

  it('fails to start with a message naming the files when they cannot be read', async () => {
    await expect(startWebhookServer({ listen: '127.0.0.1:0', certFile: join(dir, 'nope.crt'), keyFile: join(dir, 'nope.key'), inject: DEFAULT_INJECT_OPTIONS, namespaceLabels: fakeNamespaces }))
      .rejects.toThrow(`webhook: cannot read --webhook-cert ${join(dir, 'nope.crt')} / --webhook-key ${join(dir, 'nope.key')}`);
  });
});
