// `agentwarden baseline accept <ns>/<sa> --operation …` and `agentwarden
// release <ns>/<pod>` (DESIGN.md "Behaviour: baselines and anomalies"): edits
// of an AgentBaseline's spec, read and written at one resourceVersion (tried
// again when the controller wrote in between).
import { parseCommand } from '../../../common/flags.js';
import { InputError } from '../../../policy/io/manifests.js';
import { EXIT_OK } from '../exit-codes.js';
import { errorExit } from '../access/main.js';
import { kubeTarget, requestRef } from '../access/flags.js';
import { AccessApiError, loadKubeConfig, type KubeTarget } from '../access/kube.js';
import { BASELINE_COMMAND, RELEASE_COMMAND } from './help.js';
import { connectBaselines, type AgentBaselineObject, type BaselineApi } from './kube.js';

export interface BaselineIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly connect?: (target: KubeTarget) => BaselineApi;
  readonly nowMs?: number;
}

/** What an operation fingerprint looks like (policy/src/fingerprint.ts). */
const OPERATION = /^((GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|CONNECT|TRACE) [^\s/]+\/\S*|MCP [^\s/]+ \S+( \S+)?|TLS [^\s/]+:[0-9]+)$/;
const CONFLICT_ATTEMPTS = 5;
const MAX_RELEASES = 256;

export async function baselineCommand(command: 'baseline' | 'release', argv: readonly string[], io: BaselineIo): Promise<number> {
  const connect = io.connect ?? ((target: KubeTarget) => connectBaselines(loadKubeConfig(target)));
  try {
    if (command === 'baseline') await accept(argv, io, connect);
    else await release(argv, io, connect, io.nowMs ?? Date.now());
    return EXIT_OK;
  } catch (e: unknown) {
    const code = errorExit(command, e, io.err, io.out);
    if (code === undefined) throw e;
    return code;
  }
}

async function accept(argv: readonly string[], io: BaselineIo, connect: (target: KubeTarget) => BaselineApi): Promise<void> {
  const { values, positionals } = parseCommand(BASELINE_COMMAND, argv);
  if (positionals.length === 0) throw new InputError('agentwarden baseline: give a subcommand (accept); agentwarden baseline --help shows how');
  const [sub, ...rest] = positionals;
  if (sub !== 'accept') throw new InputError(`agentwarden baseline: unknown subcommand "${sub ?? ''}" (accept)`);
  const operations: readonly string[] = values.operation;
  if (operations.length === 0) throw new InputError('agentwarden baseline accept: --operation is required (e.g. --operation "GET api.example.com/v1/items/{id}")');
  for (const op of operations) {
    if (!OPERATION.test(op)) throw new InputError(`agentwarden baseline accept: --operation "${op}" is not an operation such as "GET api.example.com/v1/items/{id}", "MCP mcp.internal tools/call create_ticket" or "TLS host:443"`);
  }
  const api = connect(kubeTarget(values));
  const ref = requestRef('baseline accept', rest, values.namespace, api);
  const updated = await edit(api, ref.namespace, ref.name, (b) => {
    const accepted = [...new Set([...(b.spec?.accepted ?? []), ...operations])];
    return { accepted };
  });
  io.out(`agentwarden baseline accept: AgentBaseline ${ref.namespace}/${ref.name}: ${operations.length} operation(s) accepted; spec.accepted has ${updated.spec?.accepted?.length ?? 0}`);
}

async function release(argv: readonly string[], io: BaselineIo, connect: (target: KubeTarget) => BaselineApi, nowMs: number): Promise<void> {
  const { values, positionals } = parseCommand(RELEASE_COMMAND, argv);
  const api = connect(kubeTarget(values));
  const ref = requestRef('release', positionals, values.namespace, api);
  const serviceAccount = await api.podServiceAccount(ref.namespace, ref.name);
  const at = new Date(nowMs).toISOString();
  await edit(api, ref.namespace, serviceAccount, (b) => ({
    // spec.releases holds at most MAX_RELEASES (the CRD's maxItems): the oldest go first.
    releases: [...(b.spec?.releases ?? []).filter((r) => r.pod !== ref.name).slice(-(MAX_RELEASES - 1)), { pod: ref.name, at }],
  }));
  io.out(`agentwarden release: pod ${ref.namespace}/${ref.name} released at ${at} (AgentBaseline ${ref.namespace}/${serviceAccount} spec.releases); its sidecar lifts the quarantine with its next snapshot`);
}

/** Reads the baseline, patches its spec with `change(read)` at the read resourceVersion; again on a conflict. */
async function edit(api: BaselineApi, namespace: string, name: string, change: (b: AgentBaselineObject) => Readonly<Record<string, unknown>>): Promise<AgentBaselineObject> {
  for (let attempt = 1; ; attempt++) {
    let current: AgentBaselineObject;
    try {
      current = await api.get(namespace, name);
    } catch (e: unknown) {
      if (e instanceof AccessApiError && e.status === 404) throw new AccessApiError(404, `no AgentBaseline ${namespace}/${name}: the controller creates it once a sidecar of ServiceAccount ${name} under a policy with spec.anomaly reported`, { cause: e });
      throw e;
    }
    try {
      return await api.patchSpec(namespace, name, current.metadata.resourceVersion ?? '', change(current));
    } catch (e: unknown) {
      if (!(e instanceof AccessApiError) || e.status !== 409 || attempt >= CONFLICT_ATTEMPTS) throw e;
    }
  }
}
