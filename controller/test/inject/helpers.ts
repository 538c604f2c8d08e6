// Test helpers for the injector: golden cases (a Namespace and a Pod in one
// YAML file), the options the Helm chart would feed, and an RFC 6902 applier
// to check that patches turn the original pod into the injected one.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import type { V1Pod } from '@kubernetes/client-node';
import { parseInjectOptions, type InjectOptions, type JsonPatchOperation } from '../../src/inject/index.js';

// Compiled tests run from dist/controller/test/inject/: the repository root is four levels up.
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const GOLDEN_DIR = `${ROOT}controller/test/inject/golden/`;

/** Values as the Helm chart renders them (images pinned for the goldens). */
export const OPTIONS: InjectOptions = parseInjectOptions({
  envoyImage: 'registry.example/envoyproxy/envoy:v1.40.0',
  sidecarImage: 'registry.example/agentwarden/agentwarden:1.0.0',
  initImage: 'registry.example/agentwarden/agentwarden-init:1.0.0',
  controllerAddress: 'agentwarden-controller.agentwarden-system.svc:15012',
  sidecarEnv: [{ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability.svc:4318' }],
  noProxy: ['.svc.cluster.local'],
}, 'test options');

/**
 * golden/<case>.yaml inputs, found by listing the folder (as Istio's inject_test.go
 * does): a new case is a new file. Each has golden/<case>.injected.yaml, and
 * golden/<case>.bootstrap.json when injected; any other file there is stale.
 */
export const CASES: readonly string[] = readdirSync(GOLDEN_DIR)
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.injected.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

/** The files of the golden folder that none of `produced` names: left from a renamed or removed case. */
export function staleGoldenFiles(produced: ReadonlySet<string>): string[] {
  return readdirSync(GOLDEN_DIR).filter((f) => !produced.has(f)).sort();
}

export interface GoldenCase {
  readonly name: string;
  readonly namespaceLabels: Record<string, string> | undefined;
  readonly pod: V1Pod;
}

/** golden/<name>.yaml: an optional Namespace document, then the Pod. */
export function readCase(name: string): GoldenCase {
  const docs = parseAllDocuments(readFileSync(`${GOLDEN_DIR}${name}.yaml`, 'utf8')).map((d) => d.toJS() as { kind?: string; metadata?: { labels?: Record<string, string> } });
  const ns = docs.find((d) => d.kind === 'Namespace');
  const pod = docs.find((d) => d.kind === 'Pod');
  if (pod === undefined) throw new Error(`golden/${name}.yaml has no Pod`);
  return { name, namespaceLabels: ns === undefined ? undefined : (ns.metadata?.labels ?? {}), pod };
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** Applies an RFC 6902 patch (add, remove, replace) to a copy of `doc`. */
export function applyPatch(doc: unknown, ops: readonly JsonPatchOperation[]): unknown {
  let root = structuredClone(doc);
  for (const op of ops) {
    const tokens = op.path === '' ? [] : op.path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (tokens.length === 0) {
      if (op.op === 'remove') throw new Error('cannot remove the root');
      root = structuredClone(op.value);
      continue;
    }
    let parent = root as Record<string, unknown> | unknown[];
    for (const t of tokens.slice(0, -1)) {
      const next = Array.isArray(parent) ? parent[Number(t)] : parent[t];
      if (typeof next !== 'object' || next === null) throw new Error(`${op.op} ${op.path}: ${t} does not exist`);
      parent = next as Record<string, unknown> | unknown[];
    }
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'replace') { if (i >= parent.length) throw new Error(`replace ${op.path}: no such element`); parent[i] = structuredClone(op.value); }
      else parent.splice(i, 1);
    } else {
      if (op.op !== 'add' && !Object.hasOwn(parent, last)) throw new Error(`${op.op} ${op.path}: no such member`);
      if (op.op === 'remove') Reflect.deleteProperty(parent, last);
      else parent[last] = structuredClone(op.value);
    }
  }
  return root;
}
