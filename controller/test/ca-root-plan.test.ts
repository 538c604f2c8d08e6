// The CA root publisher's decisions, as pure functions: which namespaces need
// the ConfigMap, which of them to check in a pass, what to write given what is
// there, and which CA files may be published at all.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { caRootTargets, configMapWrite, parseCaBundle, pendingNamespaces, retryDelayMs, type NamespaceView, type PodView } from '../src/caroot/plan.js';
import { TestPki } from './fake-kube.js';

const ENABLED = { 'agentwarden.io/inject': 'enabled' };
const NO_SCOPE = { namespaceLabels: {}, excludeNamespaces: [] };
const ns = (name: string, labels: Record<string, string> = {}, terminating = false): NamespaceView => ({ name, labels, terminating });
const pod = (namespace: string, labels: Record<string, string> = {}): PodView => ({ namespace, labels });

describe('caRootTargets: the namespaces whose injected pods need the CA', () => {
  it('takes namespaces labelled agentwarden.io/inject=enabled and those holding a pod so labelled, sorted', () => {
    const namespaces = [ns('support', ENABLED), ns('web'), ns('batch'), ns('billing', { 'agentwarden.io/inject': 'disabled' })];
    const pods = [pod('batch', ENABLED), pod('web', { app: 'web' }), pod('billing', { 'agentwarden.io/inject': 'disabled' })];
    expect(caRootTargets(namespaces, pods, NO_SCOPE)).toEqual(['batch', 'support']);
  });

  it('leaves out namespaces being deleted (the API server refuses new objects there)', () => {
    expect(caRootTargets([ns('gone', ENABLED, true), ns('here', ENABLED)], [], NO_SCOPE)).toEqual(['here']);
  });

  it('leaves out a pod\'s namespace that the namespace cache does not know (yet)', () => {
    expect(caRootTargets([], [pod('unknown', ENABLED)], NO_SCOPE)).toEqual([]);
  });

  it('keeps to the webhooks\' scope: excluded namespaces and namespaces without every scope label are never written', () => {
    const scope = { namespaceLabels: { team: 'a', tier: 'prod' }, excludeNamespaces: ['kube-system', 'agentwarden-system'] };
    const namespaces = [
      ns('kube-system', { ...ENABLED, team: 'a', tier: 'prod' }),
      ns('agentwarden-system', { team: 'a', tier: 'prod' }),
      ns('half', { ...ENABLED, team: 'a' }),
      ns('in-scope', { ...ENABLED, team: 'a', tier: 'prod' }),
      ns('pods-in-scope', { team: 'a', tier: 'prod' }),
    ];
    const pods = [pod('agentwarden-system', ENABLED), pod('pods-in-scope', ENABLED)];
    expect(caRootTargets(namespaces, pods, scope)).toEqual(['in-scope', 'pods-in-scope']);
  });
});

describe('pendingNamespaces: which targets a pass checks', () => {
  const base = { targets: ['a', 'b', 'c'], confirmed: new Map<string, string>(), digest: 'd1', retryAt: new Map<string, number>(), nowMs: 1000, limit: 100 };

  it('checks every target at first, and none once each is confirmed to hold this CA', () => {
    expect(pendingNamespaces(base)).toEqual({ check: ['a', 'b', 'c'], deferred: 0, nextRetryAtMs: undefined });
    const confirmed = new Map([['a', 'd1'], ['b', 'd1'], ['c', 'd1']]);
    expect(pendingNamespaces({ ...base, confirmed }).check).toEqual([]);
  });

  it('checks again every namespace confirmed for an older CA', () => {
    const confirmed = new Map([['a', 'd0'], ['b', 'd1'], ['c', 'd0']]);
    expect(pendingNamespaces({ ...base, confirmed }).check).toEqual(['a', 'c']);
  });

  it('skips a namespace waiting after a failure and says when the earliest may be tried', () => {
    const retryAt = new Map([['a', 5000], ['b', 900], ['c', 3000]]);
    expect(pendingNamespaces({ ...base, retryAt })).toEqual({ check: ['b'], deferred: 0, nextRetryAtMs: 3000 });
  });

  it('checks at most `limit` namespaces and counts the rest as deferred', () => {
    expect(pendingNamespaces({ ...base, limit: 2 })).toEqual({ check: ['a', 'b'], deferred: 1, nextRetryAtMs: undefined });
  });
});

describe('configMapWrite: what to write into one namespace', () => {
  const PEM = '-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n';
  const ours = (data: Record<string, string>): V1ConfigMap => ({
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name: 'agentwarden-ca-root', namespace: 'support', resourceVersion: '7', labels: { 'app.kubernetes.io/managed-by': 'agentwarden', team: 'a' }, annotations: { note: 'kept' } },
    data,
  });

  it('creates a missing ConfigMap with ca.crt and the managed-by label', () => {
    expect(configMapWrite(undefined, 'support', 'agentwarden-ca-root', PEM)).toEqual({
      kind: 'create',
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'agentwarden-ca-root', namespace: 'support', labels: { 'app.kubernetes.io/managed-by': 'agentwarden' } }, data: { 'ca.crt': PEM } },
    });
  });

  it('writes nothing when ca.crt already holds the CA', () => {
    expect(configMapWrite(ours({ 'ca.crt': PEM }), 'support', 'agentwarden-ca-root', PEM)).toEqual({ kind: 'none' });
  });

  it('replaces only ca.crt of a different one, keeping its other keys, labels, annotations and resourceVersion', () => {
    const write = configMapWrite(ours({ 'ca.crt': 'old', 'extra.pem': 'x' }), 'support', 'agentwarden-ca-root', PEM);
    expect(write).toEqual({ kind: 'replace', body: ours({ 'ca.crt': PEM, 'extra.pem': 'x' }) });
  });

  it('leaves alone a ConfigMap of that name that it did not create (no label, or managed by Helm)', () => {
    const unlabelled: V1ConfigMap = { metadata: { name: 'agentwarden-ca-root', namespace: 'support' }, data: { 'ca.crt': 'mine' } };
    const helm: V1ConfigMap = { metadata: { name: 'agentwarden-ca-root', namespace: 'support', labels: { 'app.kubernetes.io/managed-by': 'Helm' } }, data: {} };
    expect(configMapWrite(unlabelled, 'support', 'agentwarden-ca-root', PEM)).toEqual({ kind: 'foreign' });
    expect(configMapWrite(helm, 'support', 'agentwarden-ca-root', PEM)).toEqual({ kind: 'foreign' });
  });

  it('is idempotent: what it writes needs no further write', () => {
    for (const existing of [undefined, ours({ 'ca.crt': 'old' }), ours({})]) {
      const write = configMapWrite(existing, 'support', 'agentwarden-ca-root', PEM);
      if (write.kind !== 'create' && write.kind !== 'replace') throw new Error(`expected a write, got ${write.kind}`);
      expect(configMapWrite(write.body, 'support', 'agentwarden-ca-root', PEM)).toEqual({ kind: 'none' });
    }
  });
});

describe('retryDelayMs: backoff of a namespace whose write failed', () => {
  it('doubles from the initial delay up to the cap, within ±20 %', () => {
    const backoff = { initialMs: 1000, maxMs: 8000 };
    expect([1, 2, 3, 4, 5, 40].map((n) => retryDelayMs(n, backoff, 0.5))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(retryDelayMs(1, backoff, 0)).toBe(800);
    expect(retryDelayMs(1, backoff, 1)).toBe(1200);
  });
});

describe('parseCaBundle: what may be published from --ca-root-file', () => {
  const pki = new TestPki('plan-ca');
  const other = new TestPki('plan-ca-next');
  const ca = readFileSync(pki.caCert, 'utf8');
  const next = readFileSync(other.caCert, 'utf8');

  it('takes one certificate, or a bundle of several (a CA rotation), dropping comments around them', () => {
    expect(parseCaBundle(ca, 'ca.crt')).toEqual({ ok: true, pem: `${ca.trim()}\n`, certificates: 1 });
    expect(parseCaBundle(`# current\n${ca}\n# next\n${next}`, 'ca.crt')).toEqual({ ok: true, pem: `${ca.trim()}\n${next.trim()}\n`, certificates: 2 });
  });

  it('refuses a private key, naming the file, so that a wrong flag never publishes it', () => {
    const key = readFileSync(pki.caKey, 'utf8');
    expect(parseCaBundle(`${ca}${key}`, '/etc/tls/tls.key')).toEqual({ ok: false, error: '--ca-root-file /etc/tls/tls.key: block 2 is a PRIVATE KEY, not a CERTIFICATE; refusing to publish it' });
  });

  it('refuses a file still being written, an empty one and one that does not parse', () => {
    expect(parseCaBundle(`${ca}${next.slice(0, 100)}`, 'ca.crt')).toEqual({ ok: false, error: '--ca-root-file ca.crt: an incomplete PEM block (a file still being written?)' });
    expect(parseCaBundle('', 'ca.crt')).toEqual({ ok: false, error: '--ca-root-file ca.crt: no PEM certificate' });
    const garbled = parseCaBundle('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'ca.crt');
    expect(garbled.ok ? '' : garbled.error).toMatch(/^--ca-root-file ca\.crt: certificate 1 does not parse: /);
  });

  it('refuses a file larger than a CA bundle can be', () => {
    expect(parseCaBundle(ca.repeat(1000), 'ca.crt')).toEqual({ ok: false, error: '--ca-root-file ca.crt: larger than 262144 bytes' });
  });
});
