// The controller's AgentAccessRequest webhooks (DESIGN.md "Approvals and
// break-glass"), registered by URL on the local control plane as the chart
// registers them by Service: the status stamp (who and when), the status
// transitions and the create/update check. failurePolicy Fail, scoped to the
// namespaces a test names, so suites running side by side never see each other's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, kubectlOk, waitFor } from './cluster.js';
import { PKI } from './controller-env.js';

/** Controller flags that serve the webhooks on `port` with the e2e PKI's webhook certificate. */
export function approvalWebhookFlags(port: number): string[] {
  return ['--webhook-listen', `127.0.0.1:${port}`, '--webhook-cert', join(PKI, 'webhook.crt'), '--webhook-key', join(PKI, 'webhook.key')];
}

/** The Mutating- and ValidatingWebhookConfiguration `name`, for namespaces whose labels match `namespaceLabels`. */
export function approvalWebhookConfigurations(name: string, port: number, namespaceLabels: Readonly<Record<string, string>>): string {
  const clientConfig = (path: string): object => ({ url: `https://127.0.0.1:${port}${path}`, caBundle: readFileSync(join(PKI, 'ca.crt')).toString('base64') });
  const common = { namespaceSelector: { matchLabels: namespaceLabels }, failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 10 };
  const rules = (resource: string, operations: string[]): object[] => [{ operations, apiGroups: ['agentwarden.io'], apiVersions: ['v1alpha1'], resources: [resource] }];
  const mutating = {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name },
    webhooks: [{ name: 'agentaccessrequests-status.stamp.agentwarden.io', clientConfig: clientConfig('/mutate-agentaccessrequests-status'), rules: rules('agentaccessrequests/status', ['UPDATE']), reinvocationPolicy: 'Never', ...common }],
  };
  const validating = {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name },
    webhooks: [
      { name: 'agentaccessrequests.validate.agentwarden.io', clientConfig: clientConfig('/validate-agentaccessrequests'), rules: rules('agentaccessrequests', ['CREATE', 'UPDATE']), ...common },
      { name: 'agentaccessrequests-status.validate.agentwarden.io', clientConfig: clientConfig('/validate-agentaccessrequests-status'), rules: rules('agentaccessrequests/status', ['UPDATE']), ...common },
    ],
  };
  return `${JSON.stringify(mutating)}\n---\n${JSON.stringify(validating)}\n`;
}

/**
 * Registers the webhooks and waits until the API server calls them: a server-side dry run of a
 * request for a pod that does not exist in `namespace` is refused by the create check.
 */
export async function installApprovalWebhooks(name: string, port: number, namespace: string, namespaceLabels: Readonly<Record<string, string>>): Promise<() => Promise<void>> {
  await kubectlOk(['apply', '-f', '-'], approvalWebhookConfigurations(name, port, namespaceLabels));
  const probe = JSON.stringify({
    apiVersion: 'agentwarden.io/v1alpha1', kind: 'AgentAccessRequest', metadata: { name: 'webhook-probe', namespace },
    spec: { pod: 'no-such-pod', serviceAccount: 'agent', duration: '1m', justification: 'probe', rules: [{ name: 'probe', to: { hosts: ['probe.example.com'] } }] },
  });
  await waitFor('the AgentAccessRequest webhooks to be active', async () => {
    const r = await kubectl(['create', '--dry-run=server', '-f', '-'], probe);
    return r.code !== 0 && r.stderr.includes('agentaccessrequests.validate.agentwarden.io') ? true : undefined;
  }, 60_000, 200);
  return async () => { await kubectl(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', name, '--ignore-not-found']); };
}
