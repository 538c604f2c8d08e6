// The operator's view: `kubectl get agentpolicies`, once the controller has
// compiled the example's policies and every selected pod's sidecar has ACKed them.
import { kubectlOk } from '../e2e/test/cluster.js';

const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 200;

/** Waits for Ready=True and Synced=True on every AgentPolicy in `namespace`, then returns the kubectl table. */
export async function agentPoliciesWhenSynced(namespace: string): Promise<{ synced: boolean; table: string }> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const json = JSON.parse(await kubectlOk(['get', 'agentpolicies', '-n', namespace, '-o', 'json'])) as {
      items: { status?: { conditions?: { type: string; status: string }[] } }[];
    };
    const ok = (p: (typeof json.items)[number], type: string): boolean => p.status?.conditions?.some((c) => c.type === type && c.status === 'True') === true;
    const synced = json.items.length > 0 && json.items.every((p) => ok(p, 'Ready') && ok(p, 'Synced'));
    if (synced || Date.now() > deadline) return { synced, table: await kubectlOk(['get', 'agentpolicies', '-n', namespace]) };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Pods of earlier runs in `namespace` (there is no kubelet to remove them):
 * deleted, so that the policies' Synced counts only the demo's pod.
 */
export async function removeEarlierPods(namespace: string): Promise<void> {
  await kubectlOk(['delete', 'pods', '--all', '-n', namespace, '--ignore-not-found', '--wait=false']);
}
