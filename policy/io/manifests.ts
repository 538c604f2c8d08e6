// Reads AgentPolicy, ClusterAgentPolicy, Namespace and Pod manifests from files and folders (YAML, several
// documents per file). The only file-system edge of the policy core, shared by
// the CLI and the sidecar's standalone mode.
import { parseAllDocuments } from 'yaml';
import { PolicyError } from '../src/errors.js';
import { isAgentPolicyManifest, isClusterAgentPolicyManifest, parseAnyPolicy, parsePod } from '../src/manifest.js';
import { isPlain } from '../src/fields.js';
import type { AgentPolicy, PodIdentity } from '../src/model.js';
const { readFileSync, readdirSync, statSync } = process.getBuiltinModule('node:fs');
const nodePath = process.getBuiltinModule('node:path');

const MANIFEST_FILE = /\.ya?ml$/;
const TEST_SUITE_FILE = /\.test\.ya?ml$/;
const MAX_MANIFEST_BYTES = 4 << 20;

/** A user-facing input problem (exit code 2 in the CLI). */
export class InputError extends Error {}

/** Decoded YAML documents of one file; throws InputError naming the file and line. */
export function readYamlDocuments(file: string): unknown[] {
  let text: string;
  try {
    if (statSync(file).size > MAX_MANIFEST_BYTES) throw new InputError(`${file}: larger than ${MAX_MANIFEST_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (e: unknown) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: cannot read: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    const err = doc.errors[0];
    if (err !== undefined) throw new InputError(`${file}: ${err.message.split('\n')[0] ?? err.message}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Manifest files under `path` (a file, or a folder searched recursively), test suites and hidden entries excluded. */
export function manifestFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch (e: unknown) {
    throw new InputError(`${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    // Hidden entries are skipped: a mounted ConfigMap keeps its files twice, in
    // "..<timestamp>/" and through the "..data" symlink the visible names point at.
    if (entry.name.startsWith('.')) continue;
    const full = nodePath.join(path, entry.name);
    if (entry.isDirectory()) out.push(...manifestFiles(full));
    else if (MANIFEST_FILE.test(entry.name) && !TEST_SUITE_FILE.test(entry.name)) out.push(full);
  }
  return out;
}

/** What --policy files hold: policies of both kinds, and the labels of the Namespaces among them. */
export interface PolicyManifests {
  readonly policies: AgentPolicy[];
  /** Namespace name -> labels, for ClusterAgentPolicy namespaceSelectors. */
  readonly namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/**
 * Every AgentPolicy and ClusterAgentPolicy in the files under `paths`, and the
 * labels of every Namespace there (other kinds are skipped). AgentPolicies
 * without a namespace get `defaultNamespace`. Throws PolicyError or InputError
 * naming the file, object and field.
 */
export function loadPolicyManifests(paths: readonly string[], defaultNamespace: string): PolicyManifests {
  const policies: AgentPolicy[] = [];
  const namespaceLabels = new Map<string, Readonly<Record<string, string>>>();
  const seen = new Map<string, string>();
  for (const file of paths.flatMap(manifestFiles)) {
    for (const doc of readYamlDocuments(file)) {
      const labels = namespaceManifestLabels(doc);
      if (labels !== undefined) namespaceLabels.set(labels.name, labels.labels);
      if (!isAgentPolicyManifest(doc) && !isClusterAgentPolicyManifest(doc)) continue;
      const policy = parseAnyPolicy(doc, file, defaultNamespace);
      const key = policy.cluster === undefined ? `AgentPolicy ${policy.namespace}/${policy.name}` : `ClusterAgentPolicy ${policy.name}`;
      const previous = seen.get(key);
      if (previous !== undefined) throw new PolicyError(file, key, [{ field: 'metadata.name', message: `also defined in ${previous}` }]);
      seen.set(key, file);
      policies.push(policy);
    }
  }
  return { policies, namespaceLabels };
}

/** The policies of loadPolicyManifests. */
export function loadPolicies(paths: readonly string[], defaultNamespace: string): AgentPolicy[] {
  return loadPolicyManifests(paths, defaultNamespace).policies;
}

/** `pod` with its namespace's labels, when a Namespace manifest gave them. */
export function withNamespaceLabels(pod: PodIdentity, manifests: PolicyManifests): PodIdentity {
  const labels = manifests.namespaceLabels.get(pod.namespace);
  return labels === undefined ? pod : { ...pod, namespaceLabels: labels };
}

function namespaceManifestLabels(doc: unknown): { readonly name: string; readonly labels: Record<string, string> } | undefined {
  if (!isPlain(doc) || doc['kind'] !== 'Namespace' || !isPlain(doc['metadata'])) return undefined;
  const name = doc['metadata']['name'];
  const labels = doc['metadata']['labels'];
  if (typeof name !== 'string') return undefined;
  const out: Record<string, string> = {};
  if (isPlain(labels)) for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  return { name, labels: out };
}

/** The first Pod in `file`. */
export function loadPod(file: string): PodIdentity {
  const docs = readYamlDocuments(file);
  const first = docs[0];
  if (first === undefined) throw new InputError(`${file}: no Pod manifest`);
  return parsePod(first, file);
}
