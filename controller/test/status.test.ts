// AgentPolicy.status as `kubectl get agentpolicies` shows it: conditions
// Compiled, Synced and Ready, pods selected and synced, observedGeneration,
// and no rewrite of a status that did not change.
import { describe, expect, it } from '@jest/globals';
import { computeStatus, sameStatus, type Condition, type PolicyStatus } from '../src/status/compute.js';
import { parsePolicies, type PolicyEntry } from '../src/reconcile/snapshots.js';
import type { AgentPolicyObject, SlimPod } from '../src/kube/objects.js';
import { allowSpec, policyObject, slimPod, type PolicyOptions } from './helpers.js';

const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-01T10:05:00.000Z';
const SUPPORT = { app: 'support-agent' };

function entry(spec: unknown, options: PolicyOptions = {}): PolicyEntry {
  const [e] = parsePolicies([policyObject('support', spec, options)]);
  return e!;
}

function condition(status: PolicyStatus, type: Condition['type']): Condition {
  const c = status.conditions.find((x) => x.type === type);
  if (c === undefined) throw new Error(`no ${type} condition`);
  return c;
}

const everyPodSynced = (): boolean => true;
const noPodSynced = (): boolean => false;

/** Keys in sorted order at every level: how kube-apiserver (Go encoding/json over unstructured maps) returns a custom resource. */
function asReturnedByApiServer(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asReturnedByApiServer);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, asReturnedByApiServer(v)]));
}

/** The policy object after the controller wrote `status` and the informer saw it again. */
function withStatus(e: PolicyEntry, status: unknown): PolicyEntry {
  const object: AgentPolicyObject = { ...e.object, status };
  return { ...e, object };
}

describe('computeStatus', () => {
  it('reports Compiled False, naming the rule, when a when condition does not compile', () => {
    const e = entry(allowSpec('a.example.com', SUPPORT, { when: "reqest.method == 'GET'" }));
    const status = computeStatus(e, [slimPod()], everyPodSynced, T0);
    expect(condition(status, 'Compiled')).toMatchObject({ status: 'False', reason: 'CompileError' });
    expect(condition(status, 'Compiled').message).toContain('rule "allow-host"');
    expect(condition(status, 'Compiled').message).toContain('spec.rules[0].when');
    expect(condition(status, 'Synced')).toMatchObject({ status: 'False', reason: 'NotCompiled' });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'CompileError', message: condition(status, 'Compiled').message });
  });

  it('reports Compiled False with the field when the manifest cannot be read, and selects no pods', () => {
    const e = entry({ podSelector: {}, rules: [{ name: 'r', to: { hosts: ['Not A Host'] } }] });
    const status = computeStatus(e, [slimPod()], everyPodSynced, T0);
    expect(condition(status, 'Compiled')).toMatchObject({ status: 'False', reason: 'CompileError' });
    expect(condition(status, 'Compiled').message).toContain('spec.rules[0].to.hosts[0]');
    expect(status.pods).toEqual({ selected: 0, synced: 0 });
    expect(status.rules).toBe(0);
  });

  it('counts as synced only the selected, running pods whose sidecar acknowledged the current snapshot, and not pods being deleted (their streams are closed)', () => {
    const e = entry(allowSpec('a.example.com', SUPPORT));
    const pods: SlimPod[] = [
      slimPod({ name: 'acked' }),
      slimPod({ name: 'pending' }),
      slimPod({ name: 'finished', phase: 'Succeeded' }),
      slimPod({ name: 'crashed', phase: 'Failed' }),
      slimPod({ name: 'being-deleted', deleting: true }),
      slimPod({ name: 'not-selected', labels: { app: 'billing-agent' } }),
      slimPod({ name: 'other-namespace', namespace: 'billing' }),
    ];
    const acked = new Set(['acked', 'finished', 'crashed', 'not-selected', 'other-namespace']);
    const status = computeStatus(e, pods, (p) => acked.has(p.metadata.name), T0);
    expect(status.pods).toEqual({ selected: 2, synced: 1 });
    expect(condition(status, 'Synced')).toMatchObject({ status: 'False', reason: 'PodsPending', message: '1 of 2 selected pods enforce the current version' });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'PodsPending' });

    acked.add('pending');
    const all = computeStatus(e, pods, (p) => acked.has(p.metadata.name), T0);
    expect(all.pods).toEqual({ selected: 2, synced: 2 });
    expect(condition(all, 'Synced')).toMatchObject({ status: 'True', reason: 'AllPodsSynced' });
    expect(condition(all, 'Ready')).toMatchObject({ status: 'True', reason: 'Ready' });
  });

  it('says in status how many selected pods use cooperative (proxy-env) capture, and what that means', () => {
    const pods = [slimPod({ name: 'a' }), slimPod({ name: 'b', cooperativeCapture: true })];
    const status = computeStatus(entry(allowSpec('a.example.com', SUPPORT)), pods, everyPodSynced, T0);
    expect(status.pods).toEqual({ selected: 2, synced: 2, cooperative: 1 });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', message: '2 of 2 selected pods enforce the current version; 1 of them use proxy-env capture, which is cooperative: an agent that ignores HTTP_PROXY is not governed' });
  });

  it('is Synced and Ready with no pods selected', () => {
    const status = computeStatus(entry(allowSpec('a.example.com', SUPPORT)), [], noPodSynced, T0);
    expect(status.pods).toEqual({ selected: 0, synced: 0 });
    expect(condition(status, 'Synced')).toMatchObject({ status: 'True', reason: 'NoPods' });
    expect(condition(status, 'Ready').status).toBe('True');
    expect(status.rules).toBe(1);
  });

  it('keeps lastTransitionTime of a condition whose status did not change, and moves it for one that did', () => {
    const e = entry(allowSpec('a.example.com', SUPPORT));
    const pods = [slimPod()];
    const before = computeStatus(e, pods, noPodSynced, T0);
    expect(condition(before, 'Synced').status).toBe('False');
    const after = computeStatus(withStatus(e, before), pods, everyPodSynced, T1);
    expect(condition(after, 'Compiled')).toMatchObject({ status: 'True', lastTransitionTime: T0 });
    expect(condition(after, 'Synced')).toMatchObject({ status: 'True', lastTransitionTime: T1 });
    expect(condition(after, 'Ready')).toMatchObject({ status: 'True', lastTransitionTime: T1 });
  });

  it('sets observedGeneration, on the status and on every condition, from metadata.generation', () => {
    const status = computeStatus(entry(allowSpec('a.example.com', SUPPORT), { generation: 7 }), [], noPodSynced, T0);
    expect(status.observedGeneration).toBe(7);
    expect(status.conditions.map((c) => c.observedGeneration)).toEqual([7, 7, 7]);
  });

  it('versions the status by the spec\'s content', () => {
    const a = computeStatus(entry(allowSpec('a.example.com', SUPPORT)), [], noPodSynced, T0);
    const same = computeStatus(entry(allowSpec('a.example.com', SUPPORT), { resourceVersion: '99' }), [], noPodSynced, T1);
    const edited = computeStatus(entry(allowSpec('b.example.com', SUPPORT)), [], noPodSynced, T0);
    expect(a.version).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(same.version).toBe(a.version);
    expect(edited.version).not.toBe(a.version);
  });
});

describe('sameStatus', () => {
  const e = entry(allowSpec('a.example.com', SUPPORT));
  const pods = [slimPod()];

  it('needs no write when nothing changed since the status the controller wrote', () => {
    const written = computeStatus(e, pods, everyPodSynced, T0);
    const stored: unknown = JSON.parse(JSON.stringify(written));
    const recomputed = computeStatus(withStatus(e, stored), pods, everyPodSynced, T1);
    expect(sameStatus(stored, recomputed)).toBe(true);
  });

  it('needs no write when nothing changed, with the status as the API server returns it (keys sorted)', () => {
    const written = computeStatus(e, pods, everyPodSynced, T0);
    const stored = asReturnedByApiServer(JSON.parse(JSON.stringify(written)));
    const recomputed = computeStatus(withStatus(e, stored), pods, everyPodSynced, T1);
    expect(recomputed).toEqual(stored);
    expect(sameStatus(stored, recomputed)).toBe(true);
  });

  it('needs a write when a pod became synced, and when there was no status yet', () => {
    const written = computeStatus(e, pods, noPodSynced, T0);
    const recomputed = computeStatus(withStatus(e, written), pods, everyPodSynced, T1);
    expect(sameStatus(written, recomputed)).toBe(false);
    expect(sameStatus(undefined, written)).toBe(false);
  });
});
