// `agentwarden grant --pod <name>|--selector k=v,… -n <ns> --service-account <sa>
// --rule-file <f> --for 1h --justification …`: break-glass. Builds the
// AgentAccessRequest (checked by the policy core as the webhook will), creates
// it, then approves it through the status subresource as the same user.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseCommand } from '../../../common/flags.js';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../../../policy/io/manifests.js';
import { API_VERSION, parseAccessRequest } from '../../../policy/src/index.js';
import { durationFlag, kubeTarget, required } from './flags.js';
import { GRANT_COMMAND } from './help.js';
import { AccessApiError, KIND, type AccessRequestApi, type AccessRequestObject, type KubeTarget } from './kube.js';
import { decideRequest } from './decide.js';
import { describeRequest } from './describe.js';

export interface GrantIo {
  readonly connect: (target: KubeTarget) => AccessRequestApi;
  readonly out: (line: string) => void;
  readonly readFile: (path: string) => string;
}

export const defaultReadFile = (path: string): string => readFileSync(path, 'utf8');

/** What the flags say, checked. */
export interface GrantSpec {
  readonly name: string;
  readonly namespace: string;
  readonly pod: string | undefined;
  readonly selector: Readonly<Record<string, string>> | undefined;
  readonly serviceAccount: string;
  readonly rules: readonly unknown[];
  readonly duration: string;
  readonly justification: string;
}

const MAX_RULE_FILE_BYTES = 1 << 20;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export async function runGrant(argv: readonly string[], io: GrantIo): Promise<void> {
  const { values } = parseCommand(GRANT_COMMAND, argv);
  if ((values.pod === undefined) === (values.selector === undefined)) throw new InputError('agentwarden grant: give exactly one of --pod <name> and --selector k=v,…');
  const ruleFile = required('grant', '--rule-file', values['rule-file']);
  const api = io.connect(kubeTarget(values));
  const namespace = values.namespace ?? api.defaultNamespace;
  const serviceAccount = required('grant', '--service-account', values['service-account']);
  const spec: GrantSpec = {
    name: values.name ?? generatedName(values.pod ?? serviceAccount),
    namespace,
    pod: values.pod,
    selector: values.selector === undefined ? undefined : selectorLabels(values.selector),
    serviceAccount,
    rules: readRules(ruleFile, io.readFile),
    duration: required('grant', '--for', durationFlag('grant', '--for', values.for)),
    justification: required('grant', '--justification', values.justification),
  };
  const object = breakGlassRequest(spec);
  // The policy core reads it as the webhook will: rules, selector, duration, justification.
  parseAccessRequest(object, ruleFile);
  const created = await api.create(object);
  const ref = `${created.metadata.namespace}/${created.metadata.name}`;
  io.out(`agentwarden grant: created AgentAccessRequest ${ref}`);
  let approved: AccessRequestObject;
  try {
    approved = await decideRequest(api, created.metadata.namespace, created.metadata.name, { kind: 'approve', duration: undefined, reason: spec.justification }, 'agentwarden grant');
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message : String(e);
    throw new AccessApiError(e instanceof AccessApiError ? e.status : 0, `created ${ref} but could not approve it: ${why}\nsomeone allowed to approves it with: agentwarden approve ${ref}`, { cause: e });
  }
  io.out(`agentwarden grant: ${describeRequest(approved)}`);
  io.out(`when it ends it needs a review: agentwarden review ${ref} --notes "…"`);
}

/** The AgentAccessRequest a break-glass grant is (pure). */
export function breakGlassRequest(spec: GrantSpec): AccessRequestObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: spec.name, namespace: spec.namespace },
    spec: {
      ...(spec.pod === undefined ? {} : { pod: spec.pod }),
      ...(spec.selector === undefined ? {} : { podSelector: { matchLabels: { ...spec.selector } } }),
      serviceAccount: spec.serviceAccount,
      rules: [...spec.rules],
      duration: spec.duration,
      justification: spec.justification,
    },
  };
}

/** "break-glass-<pod or service account>-<6 hex>", within the 253 characters of a name. */
function generatedName(base: string): string {
  return `break-glass-${base.slice(0, 40).replace(/[^a-z0-9-]/g, '-').replace(/-+$/, '')}-${randomBytes(3).toString('hex')}`;
}

/** "k=v,k2=v2" -> matchLabels. */
export function selectorLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const [key, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
    if (eq < 0 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) throw new InputError(`agentwarden grant: --selector: "${pair}" is not label=value`);
    labels[key] = value;
  }
  if (Object.keys(labels).length === 0) throw new InputError('agentwarden grant: --selector: give at least one label=value (an empty selector would select every pod)');
  return labels;
}

/**
 * The rules of a rule file: a YAML list of rules (AgentPolicy rule schema,
 * action Allow), or an object with `rules`, or an AgentPolicy whose spec.rules
 * are taken.
 */
export function readRules(file: string, read: (path: string) => string): unknown[] {
  let text: string;
  try {
    text = read(file);
  } catch (e: unknown) {
    throw new InputError(`${file}: cannot read: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (Buffer.byteLength(text) > MAX_RULE_FILE_BYTES) throw new InputError(`${file}: larger than ${MAX_RULE_FILE_BYTES} bytes`);
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 100 });
  } catch (e: unknown) {
    throw new InputError(`${file}: not YAML: ${(e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''}`, { cause: e });
  }
  const object = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  const spec = object?.['spec'];
  const rules = Array.isArray(value) ? value
    : Array.isArray(object?.['rules']) ? object['rules']
    : typeof spec === 'object' && spec !== null && Array.isArray((spec as Record<string, unknown>)['rules']) ? (spec as Record<string, unknown[]>)['rules']
    : undefined;
  if (rules === undefined || rules.length === 0) throw new InputError(`${file}: no rules: give a YAML list of rules, an object with rules:, or an AgentPolicy`);
  return rules as unknown[];
}
