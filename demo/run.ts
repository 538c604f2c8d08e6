// make demo: the whole loop through the real data plane. On the local control
// plane (`make cluster-up`) it starts the support-agent example as a pod in its
// own network namespace (the pod harness, e2e/pod): the injector's capture
// rules, Envoy and the sidecar, the controller serving the example's policies
// over TLS, and the services the agent talks to. The agent's REST calls (curl)
// and its MCP session (the official SDK client) go agent → Envoy → sidecar →
// upstream; the table shows what the agent got, the decision and why, what the
// upstream received, and the trace, checked in Jaeger one by one. Then one
// approval round trip: a large refund denied until a human approves it with
// the CLI (approval.ts), the lethal trifecta refused per session with the
// lineage of its deny read back from Jaeger (trifecta.ts), the baseline the
// calls taught (baseline.ts), `agentwarden explain`
// on a denied call's decision id and `agentwarden status` (explain-step.ts).
// Needs root (network namespaces, iptables).
import { approvalRoundTrip, removeEarlierRequests } from './approval.js';
import { printBaseline, removeEarlierBaselines } from './baseline.js';
import { MCP_TOOL_CALLS, MCP_URL, REST_CALLS } from './calls.js';
import { readDemoConfig, type DemoConfig } from './config.js';
import { collectDecisions, jaegerReachable } from './jaeger.js';
import { runMcpSession } from './mcp-agent.js';
import type { Observed } from './observed.js';
import { agentPoliciesWhenSynced, removeEarlierPods } from './policies.js';
import { lethalTrifecta, printLineage } from './trifecta.js';
import { runRestCall } from './rest-agent.js';
import { RuleBook } from './rule-book.js';
import { startSupportPod, EXAMPLE, NAMESPACE, type SupportPod } from './support-pod.js';
import { buildRows, printRows, printTraceCheck, type Row } from './table.js';
import { explainRow, rowToExplain, statusOf } from './explain-step.js';

const TRACES_TIMEOUT_MS = 30_000;
/** Distinct operations the demo's allowed calls make, at least (tickets, MCP methods and tools, Slack). */
const BASELINE_MIN_OPERATIONS = 8;

function step(text: string): void {
  console.log(`\n== ${text}`);
}

async function demo(config: DemoConfig): Promise<boolean> {
  if (process.getuid?.() !== 0) {
    throw new Error('make demo runs the agent pod in its own network namespace (ip netns, iptables, a second UID): run it as root, e.g. `sudo make demo`');
  }
  if (!(await jaegerReachable(config.jaeger))) throw new Error(`Jaeger does not answer at ${config.jaeger}: start the local control plane with \`make cluster-up\``);

  step(`Starting the support-agent pod (namespace ${NAMESPACE}): capture rules, Envoy, the sidecar, the controller, and the services it calls`);
  await removeEarlierPods(NAMESPACE);
  await removeEarlierRequests(NAMESPACE);
  await removeEarlierBaselines(NAMESPACE);
  const started = Date.now();
  let pod: SupportPod | undefined;
  process.once('SIGINT', () => {
    void (pod?.scenario.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
  try {
    pod = await startSupportPod({ slot: config.slot, otlp: config.otlp });
    console.log(`pod ${pod.scenario.network.podIp} ready in ${((Date.now() - started) / 1000).toFixed(1)} s; the sidecar holds the rules the controller compiled from examples/support-agent/policies/`);

    step('The agent\'s REST calls (curl) and MCP session (the official MCP SDK client), through Envoy and the sidecar');
    const observed: Observed[] = [];
    for (const call of REST_CALLS) observed.push(await runRestCall(pod.scenario.pod, call, pod.attackerIp));
    const mcp = await runMcpSession(pod.scenario.pod, MCP_URL, MCP_TOOL_CALLS);
    observed.push(...mcp.rows);

    const book = RuleBook.load(EXAMPLE, NAMESPACE);
    const rows = await tableRows(config, pod, observed);
    printRows(rows, book, new Date());

    const puzzle = rowToExplain(rows);
    step('Why was it denied? The decision id the agent got back, asked with the CLI');
    const explained = puzzle !== undefined && await explainRow(puzzle, config.jaeger);
    if (!explained) console.log('(agentwarden explain did not print the decision\'s rule)');

    step('An approval round trip: a refund over 50 EUR waits for a human (rule mcp-large-refunds)');
    const roundTrip = await approvalRoundTrip(pod, NAMESPACE);
    const approvalRows = await tableRows(config, pod, roundTrip.rows);
    printRows(approvalRows, book, new Date(), false);
    if (!roundTrip.ok) console.log('(the round trip did not come out as expected: denied, approved and allowed, another amount denied)');

    step('The lethal trifecta, refused per session: the ticket reads above tainted it pii; a web page fetched with web_fetch taints it untrusted');
    const trifecta = await lethalTrifecta(pod);
    const trifectaRows = await tableRows(config, pod, trifecta.rows);
    printRows(trifectaRows, book, new Date(), false);
    if (!trifecta.ok) console.log('(the trifecta did not come out as expected: first post delivered, page fetched, second post refused)');
    const lineage = await printLineage(trifectaRows, config.jaeger);

    step('What the agent\'s baseline learned: spec.anomaly (learnFor 24h, novelOperation Alert), the AgentBaseline the controller wrote from the sidecar\'s summaries');
    const learned = await printBaseline(NAMESPACE, BASELINE_MIN_OPERATIONS);

    const { synced, table } = await agentPoliciesWhenSynced(NAMESPACE);
    console.log(`\n$ kubectl get agentpolicies -n ${NAMESPACE}\n${table.trimEnd()}`);
    if (!synced) console.log('(the policies did not report Ready and Synced within 30 s)');

    const podStatus = await statusOf(pod.scenario.controller.metricsAddress, NAMESPACE, pod.scenario.pod.pod.metadata?.name ?? '');
    if (!podStatus) console.log('(agentwarden status did not show the pod SYNCED)');

    const complete = printTraceCheck([...rows, ...approvalRows, ...trifectaRows], config.jaeger);
    return complete && synced && roundTrip.ok && trifecta.ok && lineage && learned && explained && podStatus;
  } finally {
    await pod?.scenario.stop();
  }
}

/** The decisions table's rows for `observed`, once Jaeger holds their decision spans. */
async function tableRows(config: DemoConfig, pod: SupportPod, observed: readonly Observed[]): Promise<Row[]> {
  const decided = observed.filter((o) => o.decisionId !== null).map((o) => o.traceId);
  const spans = await collectDecisions(config.jaeger, decided, TRACES_TIMEOUT_MS);
  return buildRows(observed, spans, pod.upstreams, pod.token);
}

async function main(): Promise<void> {
  try {
    const ok = await demo(readDemoConfig(process.argv.slice(2)));
    if (!ok) process.exitCode = 1;
  } catch (e: unknown) {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}

await main();
