// `agentwarden explain <decision-id>`: the decision's span from Jaeger, and the
// rule and the AgentAccessRequest as the API server holds them now.
import { parseCommand } from '../../../common/flags.js';
import { InputError } from '../../../policy/io/manifests.js';
import type { CommandIo } from '../command-io.js';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.js';
import { loadKubeConfig } from '../access/kube.js';
import { describeRequest } from '../access/describe.js';
import { EXPLAIN_COMMAND } from './command.js';
import { connectExplainKube, type ExplainKube } from './kube.js';
import { decisionsOfJaegerTrace, spanCount, type DecisionRecord } from './trace.js';
import { renderDecision, type Current } from './render.js';

const TIMEOUT_MS = 10_000;
const DECISION_ID = /^[0-9a-f]{32}$/;

/** Jaeger could not be reached or answered with an error. */
export class TraceFetchError extends Error {}

export async function runExplain(argv: readonly string[], io: CommandIo, connect: (kubeconfig: string | undefined, context: string | undefined) => ExplainKube = defaultConnect): Promise<number> {
  const { values, positionals } = parseCommand(EXPLAIN_COMMAND, argv, io.env);
  if (positionals.length !== 1) throw new InputError(`give one decision id${positionals.length > 1 ? `, not ${positionals.length}` : ''} (agentwarden explain --help)`);
  const id = (positionals[0] ?? '').toLowerCase();
  if (!DECISION_ID.test(id)) throw new InputError(`"${positionals[0] ?? ''}" is not a decision id (32 hex digits, the decisionId a denied request carries)`);
  if (values.output !== 'text' && values.output !== 'json') throw new InputError(`-o: "${values.output}" is not text or json`);
  const jaeger = values['jaeger-url'].replace(/\/+$/, '');
  const body = await fetchTrace(jaeger, id);
  const decisions = body === undefined ? [] : decisionsOfJaegerTrace(body);
  if (decisions.length === 0) {
    io.err(body === undefined
      ? `agentwarden explain: Jaeger at ${jaeger} has no trace ${id} (a decision's span reaches it after the sidecar's export delay, OTEL_BSP_SCHEDULE_DELAY, 1 s by default)`
      : `agentwarden explain: trace ${id} in Jaeger at ${jaeger} has ${spanCount(body)} spans, none of them a decision (agentwarden.decision)`);
    return EXIT_FAILED;
  }
  const kube = values['skip-api-server'] ? undefined : lazy(() => connect(values.kubeconfig, values.context));
  const explained = await Promise.all(decisions.map(async (d) => ({ decision: d, current: kube === undefined ? {} : await currentOf(d, kube) })));
  if (values.output === 'json') {
    io.out(JSON.stringify({ decisions: explained }, null, 2));
  } else {
    explained.forEach(({ decision, current }, i) => {
      if (i > 0) io.out('');
      for (const line of renderDecision(decision, current)) io.out(line);
    });
  }
  return EXIT_OK;
}

function defaultConnect(kubeconfig: string | undefined, context: string | undefined): ExplainKube {
  return connectExplainKube(loadKubeConfig({ kubeconfig, context }));
}

/** Connects once, on first use; a kubeconfig that cannot be loaded becomes the error each part reports. */
function lazy(connect: () => ExplainKube): () => ExplainKube {
  let kube: ExplainKube | undefined;
  return () => (kube ??= connect());
}

/** The policy and AgentAccessRequests as the API server holds them now; failures are reported, never thrown. */
async function currentOf(d: DecisionRecord, kube: () => ExplainKube): Promise<Current> {
  const why = (e: unknown): { error: string } => ({ error: e instanceof Error ? e.message : String(e) });
  let policy: Current['policy'];
  try {
    policy = d.policy === '' ? undefined : ((await kube().policy(d.namespace, d.policy)) ?? 'none');
  } catch (e: unknown) {
    policy = why(e);
  }
  const names = [d.grant, d.approvalRequest].filter((n): n is string => n !== null);
  const requests = await Promise.all(names.map(async (name): Promise<readonly [string, string | { error: string }]> => {
    try {
      const o = await kube().accessRequest(d.namespace, name);
      return [name, o === undefined ? `AgentAccessRequest ${d.namespace}/${name} no longer exists` : describeRequest(o)];
    } catch (e: unknown) {
      return [name, why(e)];
    }
  }));
  return { policy, requests };
}

/** Jaeger's answer for the trace; undefined when it has none (404). */
async function fetchTrace(jaeger: string, id: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${jaeger}/api/traces/${id}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e: unknown) {
    const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : '';
    throw new TraceFetchError(`cannot reach Jaeger at ${jaeger}: ${e instanceof Error ? e.message : String(e)}${cause}; give its query API with --jaeger-url or AGENTWARDEN_JAEGER_URL`, { cause: e });
  }
  if (res.status === 404) return undefined;
  if (!res.ok) throw new TraceFetchError(`Jaeger at ${jaeger}: GET /api/traces/${id}: HTTP ${res.status}`);
  return res.json();
}
