// `agentwarden inject -f <file|-> [--options <file>] [--namespace-labels k=v,...] [-o yaml|json]`:
// reads manifests, injects them as the webhook would (inject-objects.ts), prints them.
import { readFileSync } from 'node:fs';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import { DEFAULT_INJECT_OPTIONS, INJECT_LABEL, InjectOptionsError, parseInjectOptions, type InjectOptions } from '../../controller/src/inject/index.js';
import { InputError } from '../../policy/io/manifests.js';
import { describeObject, injectObject, ObjectError, type InjectContext } from './inject-objects.js';

export interface InjectArgs {
  /** A file, or "-" for stdin. */
  readonly filename: string;
  /** Injection options file; undefined: the built-in defaults (as the controller without --inject-config). */
  readonly options: string | undefined;
  /** "k=v,..."; undefined: the namespace's labels are not known. */
  readonly namespaceLabels: string | undefined;
  readonly output: string;
}

/** Input read from a file (or stdin), so tests and the shell share one path. */
export type ReadInput = (file: string) => string;

const MAX_INPUT_BYTES = 4 << 20;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export const readInput: ReadInput = (file) => {
  try {
    const text = readFileSync(file === '-' ? 0 : file, 'utf8');
    if (Buffer.byteLength(text) > MAX_INPUT_BYTES) throw new InputError(`${sourceName(file)}: larger than ${MAX_INPUT_BYTES} bytes`);
    return text;
  } catch (e: unknown) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${sourceName(file)}: cannot read: ${messageOf(e)}`, { cause: e });
  }
};

/** Prints the injected manifests with `out` and notes with `err`; throws InputError on invalid input. */
export function runInject(args: InjectArgs, out: (s: string) => void, err: (s: string) => void, read: ReadInput = readInput): void {
  if (args.output !== 'yaml' && args.output !== 'json') throw new InputError(`agentwarden inject: --output: "${args.output}" is not yaml or json`);
  const ctx: InjectContext = { options: readOptions(args.options, read), namespaceLabels: parseLabels(args.namespaceLabels) };
  const source = sourceName(args.filename);
  const docs = readDocuments(source, read(args.filename));
  const objects = docs.map((doc, i) => {
    const where = `${source}: document ${i + 1}: ${describeObject(doc)}`;
    try {
      const result = injectObject(doc, ctx);
      for (const note of result.notes) err(`agentwarden inject: ${where}: ${note}${hint(note, ctx)}`);
      return result.object;
    } catch (e: unknown) {
      if (e instanceof ObjectError) throw new InputError(e.problems.map((p) => `${where}: ${p.field}: ${p.message}`).join('\n'), { cause: e });
      throw e;
    }
  });
  if (args.output === 'json') {
    out(JSON.stringify(objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects }, null, 2));
  } else {
    out(objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n').replace(/\n$/, ''));
  }
}

/** An error's message; fs errors raised in another realm (jest's VM modules) are no `instanceof Error`. */
function messageOf(e: unknown): string {
  return typeof e === 'object' && e !== null && 'message' in e && typeof e.message === 'string' ? e.message : String(e);
}

/** The yaml parser's pretty message without the excerpt that follows "line L, column C:". */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:$/, '');
}

function sourceName(file: string): string {
  return file === '-' ? '<stdin>' : file;
}

function readDocuments(source: string, text: string): unknown[] {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const values: unknown[] = [];
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    const problem = doc.errors[0];
    if (problem !== undefined) throw new InputError(`${source}: document ${i + 1}: not YAML: ${firstLine(problem.message)}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    // An empty document (a trailing "---") is no object, as for kubectl.
    if (value !== null && value !== undefined) values.push(value);
  }
  if (values.length === 0) throw new InputError(`${source}: no Kubernetes objects`);
  return values;
}

/** As the controller reads --inject-config: one YAML document, parseInjectOptions over the defaults. */
function readOptions(file: string | undefined, read: ReadInput): InjectOptions {
  if (file === undefined) return DEFAULT_INJECT_OPTIONS;
  let value: unknown;
  try {
    value = parseYaml(read(file), { prettyErrors: true });
  } catch (e: unknown) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: not YAML: ${firstLine(messageOf(e))}`, { cause: e });
  }
  try {
    return parseInjectOptions(value, file);
  } catch (e: unknown) {
    if (e instanceof InjectOptionsError) throw new InputError(e.message, { cause: e });
    throw e;
  }
}

function parseLabels(text: string | undefined): Readonly<Record<string, string>> | undefined {
  if (text === undefined) return undefined;
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const [key, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
    if (eq < 0 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) throw new InputError(`agentwarden inject: --namespace-labels: "${pair}" is not label=value`);
    labels[key] = value;
  }
  return labels;
}

/** A pod left alone for want of the namespace label may only lack --namespace-labels. */
function hint(note: string, ctx: InjectContext): string {
  return ctx.namespaceLabels === undefined && note.includes(`${INJECT_LABEL}=enabled`)
    ? `; if its namespace has that label, pass --namespace-labels ${INJECT_LABEL}=enabled`
    : '';
}
