// The controller's cache limits against the real API server (the small
// version of `make bench-flood`): a tenant labels 20 Secrets of 700 KB as
// credentials and reads them from its policy. The controller keeps none of
// those values: the policy's status says why (CredentialTooLarge, with the
// limit), /metrics counts the refusals, and a small credential beside them is
// still kept.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, kubectlOk, uniqueNamespace, waitFor } from './cluster.js';
import { controllerOn, freePort } from './controller-env.js';
import type { RunningController } from '../../controller/src/main.js';

const ns = uniqueNamespace('limits');
const FLOOD = 20;
let controller: RunningController | undefined;
let createdInMs = 0;

const secretName = (i: number): string => `big-${String(i).padStart(2, '0')}`;

beforeAll(async () => {
  await kubectlOk(['apply', '-f', join(ROOT, 'crds/agentpolicy.yaml')]);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/agentpolicies.agentwarden.io']);
  await kubectlOk(['create', 'namespace', ns]);
  controller = await controllerOn(await freePort(), ns);
  const value = randomBytes(700 * 1024).toString('base64');
  const secret = (name: string, data: string): string => JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns, labels: { 'agentwarden.io/credential': 'true' } }, data: { token: data } });
  const docs = [...Array.from({ length: FLOOD }, (_, i) => secret(secretName(i), value)), secret('small', Buffer.from('tk').toString('base64'))];
  const start = Date.now();
  await kubectlOk(['create', '-f', '-'], docs.join('\n---\n'));
  createdInMs = Date.now() - start;
  const credentials = [...Array.from({ length: FLOOD }, (_, i) => ({ name: `c${i}`, secretRef: { name: secretName(i), key: 'token' } })), { name: 'small', secretRef: { name: 'small', key: 'token' } }];
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentPolicy', metadata: { name: 'flood', namespace: ns },
    spec: { podSelector: { matchLabels: { app: 'agent' } }, credentials, rules: [{ name: 'use', to: { hosts: ['api.example.com'] }, credential: 'small' }] },
  }));
});

afterAll(async () => {
  await controller?.stop();
  // No namespace controller runs here: the Secrets go explicitly, so that later suites' controllers do not list them.
  await kubectlOk(['delete', 'secrets,agentpolicies', '--all', '-n', ns, '--wait=false']);
});

describe('a tenant flooding the controller with large labelled credential Secrets', () => {
  it('gets its policy\'s Ready condition False with CredentialTooLarge, naming the Secret, the size and the limit', async () => {
    const ready = await waitFor('the policy status to name the refused credentials', async () => {
      const out = JSON.parse(await kubectlOk(['get', 'agentpolicy', '-n', ns, 'flood', '-o', 'json'])) as { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } };
      const r = out.status?.conditions?.find((c) => c.type === 'Ready');
      return r?.reason === 'CredentialTooLarge' ? r : undefined;
    }, 120_000, 200);
    expect(ready.status).toBe('False');
    expect(ready.message).toContain(`credential "c0" refused: Secret ${ns}/big-00: the value of key "token" is ${700 * 1024} bytes, above the controller's --max-credential-value-bytes 8192`);
    expect(ready.message).not.toContain('"small"');
    console.log(`created ${FLOOD} Secrets of 700 KB in ${createdInMs} ms`);
  });

  it('keeps none of the large values, keeps the small one, and counts each refusal in /metrics', async () => {
    const secrets = controller?.informers.secrets;
    await waitFor('every Secret in the cache', () => (secrets?.get(ns, secretName(FLOOD - 1)) !== undefined && secrets.get(ns, 'small')?.data['token'] !== undefined ? true : undefined), 60_000, 100);
    for (let i = 0; i < FLOOD; i++) expect(secrets?.get(ns, secretName(i))?.data).toEqual({});
    expect(secrets?.get(ns, 'small')?.data).toEqual({ token: Buffer.from('tk').toString('base64') });
    const metrics = await (await fetch(`http://${controller?.metricsAddress ?? ''}/metrics`)).text();
    const refused = Number(/agentwarden_informer_refused_total\{resource="secrets",reason="value_too_large"\} (\d+)/.exec(metrics)?.[1] ?? '0');
    expect(refused).toBeGreaterThanOrEqual(FLOOD);
  });
});
