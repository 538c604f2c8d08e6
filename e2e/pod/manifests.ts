// Manifests the pod-harness suites apply in their tenant namespace: credential
// Secrets (labelled so that the controller reads them) and the head of the
// AgentPolicy that selects the harness's pod (app=agent).

/** A credential Secret with key `token`, labelled agentwarden.io/credential=true. */
export function credentialSecret(name: string, token: string): string {
  return `apiVersion: v1
kind: Secret
metadata: {labels: {agentwarden.io/credential: "true"}, name: ${name}}
stringData: {token: ${token}}
---
`;
}

/** The AgentPolicy "agent" selecting the harness pod, up to its rules: append the rule list items. */
export const AGENT_POLICY_HEAD = `apiVersion: agentwarden.io/v1alpha1
kind: AgentPolicy
metadata: {name: agent}
spec:
  podSelector: {matchLabels: {app: agent}}
  rules:
`;
