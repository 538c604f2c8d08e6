// Golden test of the compiler: the example policies compiled for the example
// pod must produce exactly the committed snapshot. After an intended change of
// the compiler, regenerate with:
//   npx tsc -p . && UPDATE_GOLDEN=1 npm run test:unit -- dist/policy/test/compile-golden.test.js
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJson } from '@bufbuild/protobuf';
import { SnapshotSchema, type Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { compileSnapshot, snapshotVersion, type AgentPolicy, type PodIdentity } from '../src/index.js';
import { loadPod, loadPolicies } from '../io/manifests.js';
import { fakeSecrets, policy, POD } from './helpers.js';

// The compiled test runs from dist/policy/test/: the repository root is three levels up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE = `${ROOT}examples/support-agent`;
const GOLDEN = `${ROOT}policy/test/golden/support-agent.snapshot.json`;

/** The example's policies, their source made relative to the repository so the golden file does not depend on the checkout. */
function examplePolicies(pod: PodIdentity): AgentPolicy[] {
  return loadPolicies([`${EXAMPLE}/policies`], pod.namespace).map((p) => ({ ...p, source: relative(ROOT, p.source).split('\\').join('/') }));
}

function compileExample(): Snapshot {
  const pod = loadPod(`${EXAMPLE}/pod.yaml`);
  return compileSnapshot(examplePolicies(pod), pod, { resolveSecret: fakeSecrets });
}

describe('the compiled snapshot of examples/support-agent', () => {
  it('matches the golden file policy/test/golden/support-agent.snapshot.json', () => {
    const actual = `${JSON.stringify(toJson(SnapshotSchema, compileExample()), null, 2)}\n`;
    if (process.env['UPDATE_GOLDEN'] === '1') {
      mkdirSync(dirname(GOLDEN), { recursive: true });
      writeFileSync(GOLDEN, actual);
    }
    expect(actual).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('carries its content hash as version', () => {
    const snapshot = compileExample();
    expect(snapshot.version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(snapshotVersion(snapshot)).toBe(snapshot.version);
  });
});

describe('snapshot versions', () => {
  const base = `
    podSelector: {matchLabels: {app: support-agent}}
    rules:
      - name: read
        to: {hosts: [api.example.com, "*.crm.internal"]}
        http: {methods: [GET], paths: ["/tickets/{id}", "/search/**"]}
  `;

  it('are the same for the same input', () => {
    expect(compileSnapshot([policy('p', base)], POD).version).toBe(compileSnapshot([policy('p', base)], POD).version);
  });

  it('differ when a rule changes', () => {
    const changed = base.replace('methods: [GET]', 'methods: [GET, HEAD]');
    expect(compileSnapshot([policy('p', changed)], POD).version).not.toBe(compileSnapshot([policy('p', base)], POD).version);
  });

  it('differ when a policy switches from Audit to Enforce', () => {
    const audit = `${base}\n    mode: Audit`;
    expect(compileSnapshot([policy('p', audit)], POD).version).not.toBe(compileSnapshot([policy('p', base)], POD).version);
  });

  it('differ when a secret is rotated (its revision changes)', () => {
    const withCredential = `${base}\n        credential: api\n    credentials: [{name: api, secretRef: {name: s, key: k}}]`;
    const v1 = compileSnapshot([policy('p', withCredential)], POD, { resolveSecret: () => new TextEncoder().encode('one'), secretRevision: () => '1' }).version;
    const v2 = compileSnapshot([policy('p', withCredential)], POD, { resolveSecret: () => new TextEncoder().encode('two'), secretRevision: () => '2' }).version;
    expect(v1).not.toBe(v2);
  });

  it('do not depend on secret values, so a version never lets anyone test guesses of a secret', () => {
    const withCredential = `${base}\n        credential: api\n    credentials: [{name: api, secretRef: {name: s, key: k}}]`;
    const v1 = compileSnapshot([policy('p', withCredential)], POD, { resolveSecret: () => new TextEncoder().encode('hunter2'), secretRevision: () => '7' }).version;
    const v2 = compileSnapshot([policy('p', withCredential)], POD, { resolveSecret: () => new TextEncoder().encode('letmein'), secretRevision: () => '7' }).version;
    expect(v1).toBe(v2);
  });

  it('do not depend on the order of the pod labels', () => {
    const a: PodIdentity = { ...POD, labels: { app: 'support-agent', team: 'care', zone: 'eu' } };
    const b: PodIdentity = { ...POD, labels: { zone: 'eu', team: 'care', app: 'support-agent' } };
    expect(compileSnapshot([policy('p', base)], a).version).toBe(compileSnapshot([policy('p', base)], b).version);
  });

  it('do not depend on the order the policies are given in', () => {
    const p1 = policy('first', base);
    const p2 = policy('second', base.replace('name: read', 'name: other'));
    expect(compileSnapshot([p1, p2], POD).version).toBe(compileSnapshot([p2, p1], POD).version);
  });

  it('do not change with policies that do not govern the pod', () => {
    const elsewhere = policy('elsewhere', base, { namespace: 'billing' });
    expect(compileSnapshot([policy('p', base), elsewhere], POD).version).toBe(compileSnapshot([policy('p', base)], POD).version);
  });
});
