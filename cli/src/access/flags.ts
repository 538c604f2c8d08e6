// Flags the access commands share (kubeconfig as kubectl: --kubeconfig,
// --context, -n), and the parsing of `<namespace>/<name>` and durations.
import { InputError } from '../../../policy/io/manifests.js';
import { parseDurationMs } from '../../../policy/src/duration.js';
import type { FlagTable } from '../../../common/flags.js';
import type { AccessRequestApi, KubeTarget } from './kube.js';

export const KUBE_FLAGS = {
  namespace: { type: 'string', short: 'n', value: 'ns', shownDefault: 'the kubeconfig context\'s namespace, else "default"', help: 'namespace of the request, when it is not given as <ns>/<name>' },
  kubeconfig: { type: 'string', value: 'file', shownDefault: '$KUBECONFIG, else ~/.kube/config', help: 'kubeconfig file, as for kubectl' },
  context: { type: 'string', value: 'name', shownDefault: 'the kubeconfig\'s current context', help: 'kubeconfig context to use' },
} as const satisfies FlagTable;

export const KUBE_ENV_HELP = [{ name: 'KUBECONFIG', text: 'kubeconfig files (colon separated), when --kubeconfig is not given' }] as const;

export function kubeTarget(values: { readonly kubeconfig?: string; readonly context?: string }): KubeTarget {
  return { kubeconfig: values.kubeconfig, context: values.context };
}

export interface RequestRef {
  readonly namespace: string;
  readonly name: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `<ns>/<name>`, or `<name>` in -n's namespace (else the context's). */
export function requestRef(command: string, positionals: readonly string[], namespaceFlag: string | undefined, api: Pick<AccessRequestApi, 'defaultNamespace'> | undefined): RequestRef {
  if (positionals.length !== 1) throw new InputError(`agentwarden ${command}: give one request as <namespace>/<name>${positionals.length > 1 ? `, not ${positionals.length} (${positionals.join(' ')})` : ''}`);
  const text = positionals[0] ?? '';
  const slash = text.indexOf('/');
  const namespace = slash < 0 ? (namespaceFlag ?? api?.defaultNamespace ?? 'default') : text.slice(0, slash);
  const name = slash < 0 ? text : text.slice(slash + 1);
  if (slash >= 0 && namespaceFlag !== undefined && namespaceFlag !== namespace) throw new InputError(`agentwarden ${command}: "${text}" is in namespace ${namespace}, but -n says ${namespaceFlag}`);
  if (!DNS_LABEL.test(namespace)) throw new InputError(`agentwarden ${command}: "${namespace}" is not a namespace name (in "${text}")`);
  if (!DNS_SUBDOMAIN.test(name)) throw new InputError(`agentwarden ${command}: "${name}" is not an AgentAccessRequest name (in "${text}")`);
  return { namespace, name };
}

/** A Go duration ("15m", "1h30m") greater than zero, as given; undefined stays undefined. */
export function durationFlag(command: string, flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) throw new InputError(`agentwarden ${command}: ${flag}: "${text}" is not a duration greater than zero (like 15m, 1h or 1h30m)`);
  return text;
}

/** A flag that must be there and not blank. */
export function required(command: string, flag: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '') throw new InputError(`agentwarden ${command}: ${flag} is required`);
  return value;
}
