// What `agentwarden inject` does to one decoded manifest (pure): a Pod goes
// through the webhook's own mutatePod; a workload's pod template goes through
// it as the pod that template creates would; anything else is left as it is.
import type { V1Pod } from '@kubernetes/client-node';
import { InjectionError, mutatePod, type InjectOptions } from '../../controller/src/inject/index.js';
import { Problems, type FieldProblem } from '../../policy/src/errors.js';
import { FieldReader, child, isPlain, type Plain } from '../../policy/src/fields.js';

export interface InjectContext {
  readonly options: InjectOptions;
  /** Labels of the namespace the objects are created in; undefined: unknown (as when the namespace has none). */
  readonly namespaceLabels: Readonly<Record<string, string>> | undefined;
}

/** The object as the API server would store it, and, when a pod in it is not injected, why. */
export interface ObjectResult {
  readonly object: unknown;
  readonly notes: readonly string[];
}

/** An input object the injector cannot read; `problems` name fields inside it. */
export class ObjectError extends Error {
  constructor(readonly problems: readonly FieldProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
    this.name = 'ObjectError';
  }
}

const MAX_TEXT = 4 << 20;

/** Where each kind keeps the pod template its controller creates pods from. */
const TEMPLATE_PATHS: Readonly<Record<string, { readonly groups: readonly string[]; readonly path: readonly string[] }>> = {
  Pod: { groups: [''], path: [] },
  ReplicationController: { groups: [''], path: ['spec', 'template'] },
  Deployment: { groups: ['apps'], path: ['spec', 'template'] },
  StatefulSet: { groups: ['apps'], path: ['spec', 'template'] },
  DaemonSet: { groups: ['apps'], path: ['spec', 'template'] },
  ReplicaSet: { groups: ['apps'], path: ['spec', 'template'] },
  Job: { groups: ['batch'], path: ['spec', 'template'] },
  CronJob: { groups: ['batch'], path: ['spec', 'jobTemplate', 'spec', 'template'] },
};

/** "Deployment support/agent", for messages. */
export function describeObject(value: unknown): string {
  if (!isPlain(value)) return 'a non-object';
  const meta = isPlain(value['metadata']) ? value['metadata'] : {};
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  const name = text(meta['name']) || (text(meta['generateName']) === '' ? '<unnamed>' : `${text(meta['generateName'])}<generated>`);
  const ns = text(meta['namespace']);
  return `${text(value['kind']) || '<no kind>'} ${ns === '' ? '' : `${ns}/`}${name}`;
}

/** Injects `value` (one decoded document); throws ObjectError naming the field. */
export function injectObject(value: unknown, ctx: InjectContext): ObjectResult {
  if (!isPlain(value)) throw new ObjectError([{ field: '(document)', message: 'must be an object (a Kubernetes manifest)' }]);
  if (value['kind'] === 'List' && Array.isArray(value['items'])) {
    const items = value['items'].map((item: unknown, i) => prefixed(`items[${i}]`, () => injectObject(item, ctx)));
    return { object: { ...value, items: items.map((r) => r.object) }, notes: items.flatMap((r) => r.notes) };
  }
  const where = templatePath(value);
  if (where === undefined) return { object: value, notes: [] };
  const path = where.join('.');
  const template = where.reduce<unknown>((v, key) => (isPlain(v) ? v[key] : undefined), value);
  checkPodShape(template, path);
  const podLike = template as Plain;
  const pod = (path === '' ? podLike : { apiVersion: 'v1', kind: 'Pod', metadata: podLike['metadata'] ?? {}, spec: podLike['spec'] }) as V1Pod;
  let result;
  try {
    result = mutatePod(pod, ctx.namespaceLabels, ctx.options);
  } catch (e: unknown) {
    // InjectionError's message is "<field>: <reason>"; the field moves under the template's path.
    if (e instanceof InjectionError) throw new ObjectError([{ field: path === '' ? e.field : `${path}.${e.field}`, message: e.message.slice(`${e.field}: `.length) }]);
    throw e;
  }
  if (!result.injected) return { object: value, notes: [`not injected: ${result.reason}${path === '' ? '' : ` (${path})`}`] };
  if (path === '') return { object: result.pod, notes: [] };
  return { object: replaceAt(value, where, { ...podLike, metadata: result.pod.metadata, spec: result.pod.spec }), notes: [] };
}

function templatePath(value: Plain): readonly string[] | undefined {
  const kind = value['kind'];
  const apiVersion = value['apiVersion'];
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') return undefined;
  const entry = Object.hasOwn(TEMPLATE_PATHS, kind) ? TEMPLATE_PATHS[kind] : undefined;
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return entry?.groups.includes(group) === true ? entry.path : undefined;
}

function replaceAt(value: Plain, path: readonly string[], replacement: unknown): Plain {
  const [head, ...rest] = path;
  if (head === undefined) return replacement as Plain;
  return { ...value, [head]: replaceAt(isPlain(value[head]) ? value[head] : {}, rest, replacement) };
}

function prefixed<T>(prefix: string, run: () => T): T {
  try {
    return run();
  } catch (e: unknown) {
    if (e instanceof ObjectError) throw new ObjectError(e.problems.map((p) => ({ field: p.field === '(document)' ? prefix : `${prefix}.${p.field}`, message: p.message })));
    throw e;
  }
}

/**
 * The shape the API server's decoding guarantees the webhook (the injector
 * relies on it): metadata maps of strings, a spec with lists of named
 * containers and volumes, environment lists of named variables.
 */
function checkPodShape(template: unknown, path: string): void {
  const problems = new Problems();
  const root = FieldReader.of(problems, path, template);
  if (root === undefined) {
    if (template === undefined || template === null) problems.add(path, 'required');
    throw new ObjectError(problems.list);
  }
  const meta = root.object('metadata');
  // Types only: lengths and syntax are the API server's validation, after admission.
  meta?.stringMap('labels', { maxLength: MAX_TEXT });
  meta?.stringMap('annotations', { maxLength: MAX_TEXT });
  const spec = root.object('spec', true);
  if (spec !== undefined) {
    const named = (key: string, required: boolean, each?: (item: FieldReader) => void): void => {
      spec.list(key, { required, max: 10_000 }, (v, at) => {
        const item = spec.reader(at, v);
        if (item === undefined) return undefined;
        item.string('name', { required: true });
        each?.(item);
        return item;
      });
    };
    const container = (c: FieldReader): void => {
      c.list('env', { max: 10_000 }, (v, at) => { c.reader(at, v)?.string('name', { required: true }); return v; });
    };
    named('containers', true, container);
    named('initContainers', false, container);
    named('volumes', false);
    const hostNetwork = isPlain(template) && isPlain(template['spec']) ? template['spec']['hostNetwork'] : undefined;
    if (hostNetwork !== undefined && hostNetwork !== null && typeof hostNetwork !== 'boolean') problems.add(child(spec.path, 'hostNetwork'), 'must be true or false');
  }
  if (!problems.empty) throw new ObjectError(problems.list);
}
