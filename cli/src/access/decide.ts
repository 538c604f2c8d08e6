// `agentwarden approve|deny <ns/name> [--for 15m] [--reason …]` and
// `agentwarden review <ns/name> --notes …`: read the request, check the
// transition, and write the verdict through the status subresource; the
// server's webhooks check who may and stamp who did and when.
import { parseCommand } from '../../../common/flags.js';
import { InputError } from '../../../policy/io/manifests.js';
import { durationFlag, kubeTarget, requestRef, required } from './flags.js';
import { APPROVE_COMMAND, DENY_COMMAND, REVIEW_COMMAND } from './help.js';
import { AccessApiError, type AccessRequestApi, type AccessRequestObject, type KubeTarget } from './kube.js';
import { statusPatch, type Verdict } from './status-patch.js';
import { describeRequest } from './describe.js';

export type DecideCommand = 'approve' | 'deny' | 'review';

export interface DecideIo {
  readonly connect: (target: KubeTarget) => AccessRequestApi;
  readonly out: (line: string) => void;
}

/** Parses the command line, decides, prints one line; throws InputError or AccessApiError. */
export async function runDecide(command: DecideCommand, argv: readonly string[], io: DecideIo): Promise<void> {
  const { verdict, values, positionals } = parseDecision(command, argv);
  const api = io.connect(kubeTarget(values));
  const ref = requestRef(command, positionals, values.namespace, api);
  const decided = await decideRequest(api, ref.namespace, ref.name, verdict, `agentwarden ${command}`);
  io.out(`agentwarden ${command}: ${describeRequest(decided)}`);
}

interface ParsedDecision {
  readonly verdict: Verdict;
  readonly values: { readonly namespace?: string; readonly kubeconfig?: string; readonly context?: string };
  readonly positionals: readonly string[];
}

/** Each command parses its own flags: `deny --for` is an unknown option, as its --help says. */
function parseDecision(command: DecideCommand, argv: readonly string[]): ParsedDecision {
  switch (command) {
    case 'approve': {
      const { values, positionals } = parseCommand(APPROVE_COMMAND, argv);
      return { verdict: { kind: 'approve', duration: durationFlag(command, '--for', values.for), reason: values.reason }, values, positionals };
    }
    case 'deny': {
      const { values, positionals } = parseCommand(DENY_COMMAND, argv);
      return { verdict: { kind: 'deny', reason: values.reason }, values, positionals };
    }
    case 'review': {
      const { values, positionals } = parseCommand(REVIEW_COMMAND, argv);
      return { verdict: { kind: 'review', notes: required(command, '--notes', values.notes) }, values, positionals };
    }
  }
}

/** Times a decision is re-read and tried again when the request changed in between (409). */
const CONFLICT_ATTEMPTS = 5;

/**
 * Reads the request, checks the transition and writes the status patch with the
 * read resourceVersion. When the request changed in between (HTTP 409: the
 * controller wrote its summary, say), it is read and checked again: a decision
 * is never written over a state it did not see.
 */
export async function decideRequest(api: AccessRequestApi, namespace: string, name: string, verdict: Verdict, who: string): Promise<AccessRequestObject> {
  for (let attempt = 1; ; attempt++) {
    const current = await readRequest(api, namespace, name);
    const patch = statusPatch(current, verdict);
    if (typeof patch === 'string') throw new InputError(`${who}: ${patch}`);
    try {
      return await api.patchStatus(namespace, name, patch);
    } catch (e: unknown) {
      if (!(e instanceof AccessApiError && e.status === 409) || attempt >= CONFLICT_ATTEMPTS) throw e;
    }
  }
}

/** The request, or an InputError naming it when it does not exist. */
export async function readRequest(api: AccessRequestApi, namespace: string, name: string): Promise<AccessRequestObject> {
  try {
    return await api.get(namespace, name);
  } catch (e: unknown) {
    // The API server's NotFound names the object; a 404 without it is a cluster without the CRD.
    if (e instanceof AccessApiError && e.status === 404 && e.message.includes(`"${name}" not found`)) {
      throw new InputError(`no AgentAccessRequest ${namespace}/${name} (agentwarden requests -n ${namespace} lists those there)`, { cause: e });
    }
    throw e;
  }
}
