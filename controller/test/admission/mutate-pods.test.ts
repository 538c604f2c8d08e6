// /mutate-pods over HTTP: injection answered as a base64 JSONPatch, and never
// a fail-open answer to a review it cannot read.
import { DEFAULT_INJECT_OPTIONS, injectPod, type JsonPatchOperation } from '../../src/inject/index.js';
import { applyPatch } from '../inject/helpers.js';
import { decodePatch, pod, review, startApp, type TestApp } from './helpers.js';

describe('the /mutate-pods webhook', () => {
  let app: TestApp;
  beforeAll(async () => { app = await startApp(); });
  afterAll(async () => { await app.close(); });

  it('injects a pod created in an enabled namespace with a JSONPatch the API server can apply', async () => {
    const body = review({ object: pod('agent-0') });
    const { status, response } = await app.post('/mutate-pods', body);
    expect(status).toBe(200);
    expect(response).toMatchObject({ uid: body.request['uid'], allowed: true, patchType: 'JSONPatch' });
    const patch = decodePatch(response) as JsonPatchOperation[];
    expect(applyPatch(pod('agent-0'), patch)).toEqual(JSON.parse(JSON.stringify(injectPod(pod('agent-0'), DEFAULT_INJECT_OPTIONS))));
    expect(patch.map((op) => op.path)).toContain('/metadata/annotations');
  });

  it('warns whoever creates a proxy-env pod that its capture is cooperative, and does not warn for iptables capture', async () => {
    const { response } = await app.post('/mutate-pods', review({ object: pod('agent-2', {}, { annotations: { 'agentwarden.io/capture': 'proxy-env' } }) }));
    expect(response?.['allowed']).toBe(true);
    expect(response?.['warnings']).toEqual(['pod support/agent-2: agentwarden.io/capture=proxy-env is cooperative: an agent that ignores HTTP_PROXY/HTTPS_PROXY is not governed; iptables capture (the default) governs every connection']);
    const plain = await app.post('/mutate-pods', review({ object: pod('agent-3') }));
    expect(plain.response?.['warnings']).toBeUndefined();
  });

  it('escapes "/" in annotation keys in the patch paths', async () => {
    const { response } = await app.post('/mutate-pods', review({ object: pod('agent-1', {}, { annotations: { 'example.com/owner': 'team-a' } }) }));
    const paths = (decodePatch(response) as JsonPatchOperation[]).map((op) => op.path);
    expect(paths).toContain('/metadata/annotations/agentwarden.io~1injected');
  });

  it('answers a pod in a namespace without the label with no patch', async () => {
    const { response } = await app.post('/mutate-pods', review({ namespace: 'web', object: pod('frontend', {}, { namespace: 'web' }) }));
    expect(response?.allowed).toBe(true);
    expect(response?.patch).toBeUndefined();
  });

  it('injects a pod that opts in with its own label in any namespace', async () => {
    const { response } = await app.post('/mutate-pods', review({ namespace: 'web', object: pod('x', {}, { namespace: 'web', labels: { 'agentwarden.io/inject': 'enabled' } }) }));
    expect(response?.patchType).toBe('JSONPatch');
  });

  it('leaves pod updates alone (injection happens at creation only)', async () => {
    const { response } = await app.post('/mutate-pods', review({ operation: 'UPDATE', object: pod('agent-0'), oldObject: pod('agent-0') }));
    expect(response).toEqual({ uid: expect.any(String) as string, allowed: true });
  });

  it('refuses a pod whose agentwarden annotation it cannot honour, naming the annotation', async () => {
    const { response } = await app.post('/mutate-pods', review({ object: pod('agent-2', {}, { annotations: { 'agentwarden.io/tls-origination': 'https://api.zendesk.com' } }) }));
    expect(response?.allowed).toBe(false);
    expect(response?.status?.code).toBe(422);
    expect(response?.status?.message).toBe('agentwarden: cannot inject pod support/agent-2: metadata.annotations["agentwarden.io/tls-origination"]: "https://api.zendesk.com" is not a host name or host:port (no wildcards, no scheme)');
  });

  it('refuses, rather than admits uninjected, when the namespace labels cannot be read', async () => {
    const { response } = await app.post('/mutate-pods', review({ namespace: 'broken', object: pod('agent-3', {}, { namespace: 'broken' }) }));
    expect(response?.allowed).toBe(false);
    expect(response?.status?.message).toContain('cannot read the labels of namespace broken, try again: connect ECONNREFUSED');
  });

  it('answers malformed JSON with HTTP 400 and the parser\'s reason', async () => {
    const { status, text } = await app.post('/mutate-pods', '{"apiVersion": "admission.k8s.io/v1", ');
    expect(status).toBe(400);
    expect(text).toMatch(/^agentwarden: the body is not valid JSON: /);
  });

  it.each([
    ['an AdmissionReview of another version', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u' } }, 'expected apiVersion admission.k8s.io/v1, kind AdmissionReview; got "admission.k8s.io/v1beta1", "AdmissionReview"'],
    ['a review without request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'request: required'],
    ['a request without uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } }, 'request.uid: required'],
    ['an unknown operation', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', operation: 'PATCH' } }, 'request.operation: "PATCH" is not CREATE, UPDATE, DELETE or CONNECT'],
    ['a JSON list', [], 'the body is not a JSON object'],
  ])('answers %s with HTTP 400 saying what is wrong', async (_what, body, reason) => {
    const { status, text, response } = await app.post('/mutate-pods', body);
    expect(status).toBe(400);
    expect(response).toBeUndefined();
    expect(text).toBe(`agentwarden mutate-pods: not an AdmissionReview: ${reason}\n`);
  });

  it('answers a body that is not application/json with HTTP 400', async () => {
    const { status, text } = await app.post('/mutate-pods', JSON.stringify(review({ object: pod('a') })), { 'content-type': 'text/plain' });
    expect(status).toBe(400);
    expect(text).toContain('the body is not a JSON object');
  });

  it('answers a body over the size bound with HTTP 413', async () => {
    const small = await startApp({ maxBodyBytes: 64 * 1024 });
    try {
      const big = pod('big', {}, { annotations: { filler: 'x'.repeat(100 * 1024) } });
      const { status, text } = await small.post('/mutate-pods', review({ object: big }));
      expect(status).toBe(413);
      expect(text).toBe('agentwarden: the AdmissionReview is larger than 65536 bytes\n');
    } finally {
      await small.close();
    }
  });

  it('accepts a pod as large as the API server stores (1.5 MiB) under the default 3 MiB bound', async () => {
    const big = pod('big', {}, { annotations: { filler: 'x'.repeat(1536 * 1024 - 4096) } });
    const { status, response } = await app.post('/mutate-pods', review({ object: big }));
    expect(status).toBe(200);
    expect(response?.patchType).toBe('JSONPatch');
  });
});
