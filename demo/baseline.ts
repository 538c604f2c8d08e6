// What the demo's calls taught the agent's baseline (DESIGN.md "Behaviour:
// baselines and anomalies"). The example's policy has spec.anomaly with a
// day of learning: the sidecar counts every allowed operation and sends
// summaries to the controller, whose leader writes the AgentBaseline of the
// pod's ServiceAccount. The demo runs the sidecar and the controller with
// short intervals (1 s) so that the object fills while you watch; the chart's
// defaults are 30 s and 10 s. Once learning ends, an operation the rules allow
// but the baseline lacks is an anomaly (here: Alert).
import { kubectl } from '../e2e/test/cluster.js';

const WAIT_MS = 30_000;
const POLL_MS = 250;
/** Operations printed under the table, most used first. */
const SHOWN = 8;

/** The sidecar's summary interval and the controller's write interval in the demo. */
export const DEMO_SUMMARY_INTERVAL = '1s';
export const DEMO_BASELINE_WRITE_INTERVAL = '1s';

interface Baseline {
  readonly metadata: { readonly name: string };
  readonly status?: { readonly operationCount?: number; readonly learningUntil?: string; readonly operations?: readonly { readonly operation: string; readonly count: number }[] };
}

/** AgentBaselines of earlier runs: deleted, so the table shows this run's calls. Quiet before the CRD exists. */
export async function removeEarlierBaselines(namespace: string): Promise<void> {
  await kubectl(['delete', 'agentbaselines', '--all', '-n', namespace, '--ignore-not-found']);
}

async function baselines(namespace: string): Promise<Baseline[]> {
  const r = await kubectl(['get', 'agentbaselines', '-n', namespace, '-o', 'json']);
  if (r.code !== 0) return [];
  try {
    return (JSON.parse(r.stdout) as { items?: Baseline[] }).items ?? [];
  } catch {
    return [];
  }
}

/**
 * Waits until the controller has written a baseline with at least `minOperations`
 * operations in `namespace`, then prints it as kubectl shows it and its most
 * used operations; false when none appears within 30 s.
 */
export async function printBaseline(namespace: string, minOperations: number): Promise<boolean> {
  const deadline = Date.now() + WAIT_MS;
  let found: Baseline | undefined;
  while (found === undefined && Date.now() < deadline) {
    found = (await baselines(namespace)).find((b) => (b.status?.operationCount ?? 0) >= minOperations);
    if (found === undefined) await new Promise((r) => setTimeout(r, POLL_MS));
  }
  if (found === undefined) {
    console.log(`(no AgentBaseline with ${minOperations} operations appeared in ${namespace} within ${WAIT_MS / 1000} s)`);
    return false;
  }
  const table = await kubectl(['get', 'agentbaselines', '-n', namespace]);
  console.log(`$ kubectl get agentbaselines -n ${namespace}\n${table.stdout.trimEnd()}`);
  const ops = [...(found.status?.operations ?? [])].sort((a, b) => b.count - a.count || a.operation.localeCompare(b.operation));
  console.log(`\nits most used operations (status.operations; ${ops.length} in all):`);
  for (const o of ops.slice(0, SHOWN)) console.log(`  ${String(o.count).padStart(4)}  ${o.operation}`);
  console.log(`Until ${found.status?.learningUntil ?? '?'} it learns; after that, a call the rules allow but no operation here matches is an anomaly (novelOperation: Alert), and \`agentwarden baseline accept\` adds one.`);
  return true;
}
