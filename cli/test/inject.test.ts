// `agentwarden inject` on workloads (the pod template is injected as the pod
// it creates would be), other kinds, stdin, JSON output, and invalid input
// (exit 2, the file, document, object and field named, never a stack trace).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import type { V1Deployment, V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { DEFAULT_INJECT_OPTIONS, INJECTED_ANNOTATION, INJECTED_LABEL, INJECTED_LABEL_VALUE, mutatePod } from '../../controller/src/inject/index.js';
import { main } from '../src/main.js';

const BIN = fileURLToPath(new URL('../../../bin/agentwarden', import.meta.url));

function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

let tmp = '';
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'agentwarden-inject-')); });
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

function file(name: string, docs: readonly unknown[] | string): string {
  const path = join(tmp, name);
  writeFileSync(path, typeof docs === 'string' ? docs : docs.map((d) => stringify(d)).join('---\n'));
  return path;
}

const TEMPLATE: V1PodTemplateSpec = {
  metadata: { labels: { app: 'support-agent', 'agentwarden.io/inject': 'enabled' } },
  spec: { serviceAccountName: 'support-agent', containers: [{ name: 'agent', image: 'registry.example/support-agent:2.3.1', env: [{ name: 'MODEL', value: 'claude' }] }] },
};

const DEPLOYMENT: V1Deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'support-agent', namespace: 'support' },
  spec: { replicas: 2, selector: { matchLabels: { app: 'support-agent' } }, template: TEMPLATE },
};

/** The pod a workload's controller creates from `template` (name and namespace do not change what is injected). */
function podFrom(template: V1PodTemplateSpec | undefined): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { ...template?.metadata, name: 'support-agent-7d9f-x2x4q', namespace: 'support' }, spec: template?.spec };
}

function injectedByWebhook(pod: V1Pod): V1Pod {
  const r = mutatePod(pod, { 'kubernetes.io/metadata.name': 'support' }, DEFAULT_INJECT_OPTIONS);
  if (!r.injected) throw new Error(`not injected: ${r.reason}`);
  return r.pod;
}

describe('agentwarden inject on workloads', () => {
  it('injects a Deployment\'s pod template as the webhook injects the pod it creates', () => {
    const r = run('inject', '-f', file('deployment.yaml', [DEPLOYMENT]));
    expect(r).toMatchObject({ code: 0, err: '' });
    const out = parseYaml(r.out) as V1Deployment;
    const expected = injectedByWebhook(podFrom(TEMPLATE));
    expect(out.spec?.template.spec).toEqual(expected.spec);
    // The injected label goes into the template too: the pods it creates are the ones the controller serves.
    expect(out.spec?.template.metadata).toEqual({ labels: { ...TEMPLATE.metadata?.labels, [INJECTED_LABEL]: INJECTED_LABEL_VALUE }, annotations: expected.metadata?.annotations });
    expect({ ...out, spec: { ...out.spec, template: TEMPLATE } }).toEqual(DEPLOYMENT);
  });

  it('gives pods the webhook leaves as they are: a pod created from the injected template is injected into the same pod', () => {
    const out = parseYaml(run('inject', '-f', file('deployment.yaml', [DEPLOYMENT])).out) as V1Deployment;
    const fromInjected = podFrom(out.spec?.template);
    expect(injectedByWebhook(fromInjected)).toEqual(fromInjected);
  });

  it('injects the pod template of a CronJob\'s job template', () => {
    const cronJob = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'support' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { ...TEMPLATE, spec: { ...TEMPLATE.spec, restartPolicy: 'OnFailure' } } } } } };
    const out = parseYaml(run('inject', '-f', file('cronjob.yaml', [cronJob])).out) as typeof cronJob;
    expect(out.spec.jobTemplate.spec.template.spec.initContainers?.map((c) => c.name)).toEqual(['agentwarden-init', 'agentwarden-sidecar', 'agentwarden-envoy']);
    expect(out.spec.jobTemplate.spec.template.metadata?.annotations?.[INJECTED_ANNOTATION]).toBeDefined();
  });

  it.each([
    ['StatefulSet', 'apps/v1'], ['DaemonSet', 'apps/v1'], ['ReplicaSet', 'apps/v1'], ['Job', 'batch/v1'], ['ReplicationController', 'v1'],
  ])('injects the pod template of a %s', (kind, apiVersion) => {
    const out = parseYaml(run('inject', '-f', file(`${kind}.yaml`, [{ ...DEPLOYMENT, apiVersion, kind }])).out) as V1Deployment;
    expect(out.spec?.template).toEqual({ metadata: { ...TEMPLATE.metadata, labels: { ...TEMPLATE.metadata?.labels, [INJECTED_LABEL]: INJECTED_LABEL_VALUE }, annotations: expect.any(Object) as object }, spec: injectedByWebhook(podFrom(TEMPLATE)).spec });
  });

  it('injects a namespace-enabled Deployment only with --namespace-labels, saying so on stderr without it', () => {
    const plain = { ...DEPLOYMENT, spec: { ...DEPLOYMENT.spec, template: { ...TEMPLATE, metadata: { labels: { app: 'support-agent' } } } } };
    const path = file('plain-deployment.yaml', [plain]);
    const without = run('inject', '-f', path);
    expect(parseYaml(without.out)).toEqual(plain);
    expect(without.err).toBe(`agentwarden inject: ${path}: document 1: Deployment support/support-agent: not injected: neither the pod nor its namespace sets agentwarden.io/inject=enabled (spec.template); if its namespace has that label, pass --namespace-labels agentwarden.io/inject=enabled`);
    const withLabels = run('inject', '-f', path, '--namespace-labels', 'agentwarden.io/inject=enabled,team=support');
    expect(withLabels.err).toBe('');
    expect((parseYaml(withLabels.out) as V1Deployment).spec?.template.metadata?.annotations?.[INJECTED_ANNOTATION]).toBeDefined();
  });

  it('prints other kinds, and a Deployment of another API group, unchanged', () => {
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'support-agent' }, spec: { ports: [{ port: 80 }] } };
    const foreign = { ...DEPLOYMENT, apiVersion: 'example.com/v1' };
    const r = run('inject', '-f', file('mixed.yaml', [service, foreign, DEPLOYMENT]));
    const docs = parseAllDocuments(r.out).map((d) => d.toJS() as unknown);
    expect(docs.slice(0, 2)).toEqual([service, foreign]);
    expect((docs[2] as V1Deployment).spec?.template.spec?.initContainers).toHaveLength(3);
  });

  it('injects the items of a v1 List, as kubectl get -o yaml prints them', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [DEPLOYMENT] };
    const out = parseYaml(run('inject', '-f', file('list.yaml', [list])).out) as { items: V1Deployment[] };
    expect(out.items[0]?.spec?.template.spec?.initContainers).toHaveLength(3);
  });

  it('prints JSON with -o json: one object as itself, several as a v1 List', () => {
    const one = JSON.parse(run('inject', '-f', file('one.yaml', [DEPLOYMENT]), '-o', 'json').out) as V1Deployment;
    expect(one.kind).toBe('Deployment');
    const two = JSON.parse(run('inject', '-f', file('two.yaml', [DEPLOYMENT, DEPLOYMENT]), '--output=json').out) as { kind: string; items: unknown[] };
    expect(two).toMatchObject({ apiVersion: 'v1', kind: 'List', items: [one, one] });
  });

  it('reads stdin with -f - through bin/agentwarden', () => {
    const r = spawnSync(BIN, ['inject', '-f', '-'], { input: stringify(DEPLOYMENT), encoding: 'utf8', timeout: 20_000 });
    expect({ code: r.status, err: r.stderr }).toEqual({ code: 0, err: '' });
    expect(parseYaml(r.stdout)).toEqual(parseYaml(run('inject', '-f', file('stdin.yaml', [DEPLOYMENT])).out));
  });

  it('uses the images of --options', () => {
    const options = file('options.yaml', 'envoyImage: registry.example/envoy:v1\nsidecarImage: registry.example/agentwarden:2\n');
    const out = parseYaml(run('inject', '-f', file('d.yaml', [DEPLOYMENT]), '--options', options).out) as V1Deployment;
    expect(out.spec?.template.spec?.initContainers?.map((c) => c.image)).toEqual([DEFAULT_INJECT_OPTIONS.initImage, 'registry.example/agentwarden:2', 'registry.example/envoy:v1']);
  });
});

describe('agentwarden inject on invalid input', () => {
  const pod = (annotations: Record<string, string>): V1Pod => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'agent-0', namespace: 'support', labels: { 'agentwarden.io/inject': 'enabled' }, annotations }, spec: { containers: [{ name: 'agent' }] } });

  it('exits 2 naming the file and the document when it is not YAML', () => {
    const path = file('broken.yaml', `${stringify(pod({}))}---\nkind: Pod\nmetadata: {name: [\n`);
    const r = run('inject', '-f', path);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^${path}: document 2: not YAML: .* at line 15, column 1$`));
  });

  it('exits 2 naming the file, document, object and field of a Pod annotation it cannot honour', () => {
    const path = file('bad-annotation.yaml', [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'support' } }, pod({ 'agentwarden.io/capture': 'ebpf' })]);
    const r = run('inject', '-f', path);
    expect({ code: r.code, out: r.out }).toEqual({ code: 2, out: '' });
    expect(r.err).toBe(`${path}: document 2: Pod support/agent-0: metadata.annotations["agentwarden.io/capture"]: "ebpf" is not iptables or proxy-env`);
  });

  it('names the field inside the pod template of a workload', () => {
    const bad = { ...DEPLOYMENT, spec: { ...DEPLOYMENT.spec, template: { ...TEMPLATE, metadata: { ...TEMPLATE.metadata, annotations: { 'agentwarden.io/tls-origination': '*.zendesk.com' } } } } };
    const path = file('bad-template.yaml', [bad]);
    expect(run('inject', '-f', path).err).toBe(`${path}: document 1: Deployment support/support-agent: spec.template.metadata.annotations["agentwarden.io/tls-origination"]: "*.zendesk.com" is not a host name or host:port (no wildcards, no scheme)`);
  });

  it.each([
    ['containers that are not a list', { spec: { containers: 'agent' } }, 'spec.containers: must be a list, got string "agent"'],
    ['a container without a name', { spec: { containers: [{ image: 'x' }] } }, 'spec.containers[0].name: required'],
    ['an env list that is not a list', { spec: { containers: [{ name: 'a', env: { MODEL: 'x' } }] } }, 'spec.containers[0].env: must be a list, got an object'],
    ['no spec', { spec: null }, 'spec: required'],
    ['labels that are not strings', { metadata: { name: 'p', labels: { 'agentwarden.io/inject': 'enabled', replicas: 2 } } }, 'metadata.labels.replicas: must be a string, got number 2'],
  ])('exits 2 on a Pod with %s, naming the field', (_what, patch, message) => {
    const bad = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { 'agentwarden.io/inject': 'enabled' } }, spec: { containers: [{ name: 'a' }] }, ...patch };
    const path = file('bad-shape.yaml', [bad]);
    const r = run('inject', '-f', path);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${path}: document 1: Pod p: ${message}`);
  });

  it('exits 2 on a document that is not an object', () => {
    const path = file('scalar.yaml', 'just a string\n');
    expect(run('inject', '-f', path)).toMatchObject({ code: 2, err: `${path}: document 1: a non-object: (document): must be an object (a Kubernetes manifest)` });
  });

  it('exits 2 naming the options file and its field, as the controller reads --inject-config', () => {
    const options = file('bad-options.yaml', 'envoyImage: registry.example/envoy:v1\nports: {outbound: 70000}\ncolour: red\n');
    const r = run('inject', '-f', file('ok.yaml', [DEPLOYMENT]), '--options', options);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${options}: colour: unknown field\n${options}: ports.outbound: must be between 1 and 65535, got 70000`);
  });

  it.each([
    [['--namespace-labels', 'team'], 'agentwarden inject: --namespace-labels: "team" is not label=value'],
    [['-o', 'xml'], 'agentwarden inject: --output: "xml" is not yaml or json'],
  ])('exits 2 on a bad flag value %j', (flags, message) => {
    expect(run('inject', '-f', file('ok.yaml', [DEPLOYMENT]), ...flags)).toMatchObject({ code: 2, err: message });
  });

  it('exits 2 without -f, and on a file that does not exist', () => {
    expect(run('inject').err).toMatch(/^agentwarden inject: missing -f <file\|->/);
    const r = run('inject', '-f', join(tmp, 'nope.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^${join(tmp, 'nope.yaml')}: cannot read: ENOENT: no such file or directory`));
  });

  it('prints the message without a stack trace through bin/agentwarden', () => {
    const path = file('bad-annotation-bin.yaml', [pod({ 'agentwarden.io/capture': 'ebpf' })]);
    const r = spawnSync(BIN, ['inject', '-f', path], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`${path}: document 1: Pod support/agent-0: metadata.annotations["agentwarden.io/capture"]: "ebpf" is not iptables or proxy-env\n`);
  });
});
