// The demo asks the CLI why one decision fell as it did, as an operator would
// with the decision id a denied agent got back: `agentwarden explain <id>`
// reads the decision's span from Jaeger and the rule as the API server holds it;
// `agentwarden status` shows the snapshot version the pod runs, from the controller.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../e2e/pod/pod.js';
import { KUBECONFIG } from '../e2e/test/cluster.js';
import type { Row } from './table.js';
import { isBuiltInRule } from '../cli/src/explain/render.js';

const CLI = join(ROOT, 'bin/agentwarden');
const TIMEOUT_MS = 30_000;

/** Prints `$ agentwarden status -n <ns>` against the demo's controller and what it printed; true when the pod shows SYNCED. */
export function statusOf(metricsAddress: string, namespace: string, pod: string): Promise<boolean> {
  const url = `http://${metricsAddress}`;
  console.log(`\n$ agentwarden status -n ${namespace} --controller-url ${url}   # in a cluster: through the API server's service proxy`);
  return new Promise((resolve) => {
    execFile(CLI, ['status', '-n', namespace, '--controller-url', url], { timeout: TIMEOUT_MS }, (err, stdout, stderr) => {
      process.stdout.write(stdout + stderr);
      resolve(err === null && new RegExp(`^${namespace} +${pod} +SYNCED `, 'm').test(stdout));
    });
  });
}

/**
 * The row to explain: a call denied by a rule of the policy (so its text shows)
 * that the same call, earlier, got allowed, else the first such denied call.
 */
export function rowToExplain(rows: readonly Row[]): Row | undefined {
  const denied = rows.filter((r) => r.span?.decision === 'deny' && r.observed.decisionId !== null && !isBuiltInRule(r.span.rule));
  return denied.find((d) => rows.some((r) => r !== d && r.observed.call === d.observed.call && r.span?.decision === 'allow')) ?? denied[0];
}

/** Prints `$ agentwarden explain <id> …` and what it printed; true when it exited 0 naming the row's rule. */
export function explainRow(row: Row, jaeger: string): Promise<boolean> {
  const id = row.observed.decisionId ?? '';
  console.log(`\n$ agentwarden explain ${id}   # the decision id ${row.observed.call} got back (x-agentwarden-decision-id)`);
  return new Promise((resolve) => {
    execFile(CLI, ['explain', id, '--jaeger-url', jaeger], { env: { ...process.env, KUBECONFIG }, timeout: TIMEOUT_MS }, (err, stdout, stderr) => {
      process.stdout.write(stdout + stderr);
      resolve(err === null && stdout.includes(`rule       ${row.span?.rule ?? '?'}`));
    });
  });
}
