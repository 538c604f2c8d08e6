// `agentwarden inject` against the injector's golden files, as Istio checks
// kube-inject: every case golden/<case>.yaml (found by listing the folder) goes
// through both the CLI and the /mutate-pods webhook (its JSON patch applied to
// the pod), and both must give the pod golden/<case>.injected.yaml holds.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parseInjectOptions, type JsonPatchOperation } from '../../controller/src/inject/index.js';
import { CASES, GOLDEN_DIR, OPTIONS, applyPatch, readCase, toYaml } from '../../controller/test/inject/helpers.js';
import { decodePatch, review, startApp } from '../../controller/test/admission/helpers.js';
import { main } from '../src/main.js';

function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out: `${out.join('\n')}\n`, err: err.join('\n') };
}

/** golden/<case>.injected.yaml: a "# injected: <reason>" or "# not injected: <reason>" line, then the pod. */
function readGolden(name: string): { readonly header: string; readonly podYaml: string } {
  const text = readFileSync(`${GOLDEN_DIR}${name}.injected.yaml`, 'utf8');
  const newline = text.indexOf('\n');
  return { header: text.slice(2, newline), podYaml: text.slice(newline + 1) };
}

function labelsFlag(labels: Record<string, string> | undefined): string[] {
  return labels === undefined ? [] : ['--namespace-labels', Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')];
}

let tmp = '';
let optionsFile = '';
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'agentwarden-inject-golden-'));
  // The golden options as the file the Helm chart renders for --inject-config.
  optionsFile = join(tmp, 'inject.yaml');
  writeFileSync(optionsFile, toYaml(OPTIONS));
});
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

it('finds the golden cases by listing the folder', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(9);
  expect(CASES).toEqual(expect.arrayContaining(['plain', 'already-injected', 'opted-out', 'host-network']));
});

it('reads the golden options file into exactly the options the golden files were made with', () => {
  expect(parseInjectOptions(parseYaml(readFileSync(optionsFile, 'utf8')), optionsFile)).toEqual(OPTIONS);
});

describe.each(CASES)('golden case %s', (name) => {
  const c = readCase(name);
  const golden = readGolden(name);
  const goldenPod: unknown = parseYaml(golden.podYaml);
  const caseFile = `${GOLDEN_DIR}${name}.yaml`;
  const docs = parseAllDocuments(readFileSync(caseFile, 'utf8')).map((d) => d.toJS() as { kind?: string });

  it(`the CLI prints golden/${name}.injected.yaml for the pod and every other object unchanged`, () => {
    const r = run('inject', '-f', caseFile, '--options', optionsFile, ...labelsFlag(c.namespaceLabels));
    expect(r.code).toBe(0);
    expect(r.out).toBe(docs.map((d) => (d.kind === 'Pod' ? golden.podYaml : toYaml(d))).join('---\n'));
  });

  it('the CLI says on stderr why a pod is not injected, and nothing when it is', () => {
    const r = run('inject', '-f', caseFile, '--options', optionsFile, ...labelsFlag(c.namespaceLabels));
    if (golden.header.startsWith('injected:')) expect(r.err).toBe('');
    else expect(r.err).toBe(`agentwarden inject: ${caseFile}: document ${docs.findIndex((d) => d.kind === 'Pod') + 1}: Pod ${c.pod.metadata?.namespace}/${c.pod.metadata?.name}: ${golden.header}`);
  });

  it('the webhook\'s JSON patch turns the pod into the same golden pod', async () => {
    const app = await startApp({ inject: OPTIONS, namespaceLabels: () => Promise.resolve(c.namespaceLabels) });
    try {
      const { status, response } = await app.post('/mutate-pods', review({ namespace: c.pod.metadata?.namespace ?? 'default', object: c.pod }));
      expect(status).toBe(200);
      expect(response?.allowed).toBe(true);
      const patch = decodePatch(response) as JsonPatchOperation[] | undefined;
      const webhookPod = patch === undefined ? c.pod : applyPatch(c.pod, patch);
      expect(JSON.parse(JSON.stringify(webhookPod))).toEqual(goldenPod);
      const cli = run('inject', '-f', caseFile, '--options', optionsFile, ...labelsFlag(c.namespaceLabels), '-o', 'json');
      const cliPod = (JSON.parse(cli.out) as { items: { kind: string }[] }).items.find((o) => o.kind === 'Pod');
      expect(cliPod).toEqual(JSON.parse(JSON.stringify(webhookPod)));
    } finally {
      await app.close();
    }
  });

  it('the CLI given its own output prints it again unchanged', () => {
    const first = run('inject', '-f', caseFile, '--options', optionsFile, ...labelsFlag(c.namespaceLabels));
    const again = join(tmp, `${name}.again.yaml`);
    writeFileSync(again, first.out);
    expect(run('inject', '-f', again, '--options', optionsFile, ...labelsFlag(c.namespaceLabels)).out).toBe(first.out);
  });
});
