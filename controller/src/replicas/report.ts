// What one controller replica's sidecars acknowledged (pure): the report each
// replica publishes through the API server so that the leader can write
// AgentPolicy.status from every replica's streams (issue 20).
//
// Carried in an annotation of a per-replica Lease, agentwarden-controller-replica-<identity>:
// a Lease because it already has what a report needs (holderIdentity, renewTime,
// leaseDurationSeconds: a replica killed without a goodbye is seen as expired and
// its pods count as not synced until they reconnect), it is the object the
// controller's RBAC already lives next to (leader election), and it is tiny and
// cheap to watch, unlike a ConfigMap that tools and operators read as config.
//
// Bounded for 10,000 pods: per pod only its name and its sync state (grouped by
// namespace and state, so a namespace's name is written once), plus, per policy,
// the metadata.generation this replica's snapshots were compiled from (so the
// leader counts a pod as synced for a policy only when the replica that holds its
// stream had seen the same generation). The JSON is gzipped and base64'd; over
// MAX_REPORT_BYTES the pod lists are cut (the pods left out count as not synced
// and the report says how many were left out).
import { gunzipSync, gzipSync } from 'node:zlib';
import type { PodSyncState } from '../observe/sync-metrics.js';

/** The annotation on the replica's Lease that carries the encoded report. */
export const REPORT_ANNOTATION = 'agentwarden.io/replica-acks';
/** Label on every replica report Lease (the leader lists and watches by it). */
export const REPORT_LABEL = 'agentwarden.io/replica-report';
/** Name prefix of the per-replica Lease; the identity follows (DNS-1123 cleaned). */
export const REPORT_LEASE_PREFIX = 'agentwarden-controller-replica-';
/**
 * The encoded report's size at most (bytes of the annotation value). The API server
 * allows 256 KiB for all annotations of an object; 10,000 pods named like
 * "agent-1234" in a few namespaces take about 30 KB here.
 */
export const MAX_REPORT_BYTES = 200_000;

const STATE_LETTER: Readonly<Record<PodSyncState, string>> = { synced: 'S', pending: 'P', nacked: 'N', stale: 'T' };
const LETTER_STATE: Readonly<Record<string, PodSyncState>> = { S: 'synced', P: 'pending', N: 'nacked', T: 'stale' };

export interface ReplicaReport {
  /** Policy key ("namespace/name", "/name" for a ClusterAgentPolicy) → metadata.generation compiled. */
  readonly generations: ReadonlyMap<string, number>;
  /** Pod key ("namespace/name") → its stream's sync state on this replica. */
  readonly pods: ReadonlyMap<string, PodSyncState>;
  /** Pods left out to keep the report under MAX_REPORT_BYTES (they count as not synced). */
  readonly dropped: number;
}

interface Wire {
  readonly v: 1;
  readonly g: Record<string, number>;
  /** namespace → state letter → pod names */
  readonly p: Record<string, Record<string, string[]>>;
  readonly d: number;
}

/** The policy key a report uses for a policy object (namespace "" for a ClusterAgentPolicy). */
export function policyKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function encodeReport(report: ReplicaReport, maxBytes = MAX_REPORT_BYTES): string {
  const pods = [...report.pods].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let keep = pods.length;
  for (;;) {
    const out = gzipSync(JSON.stringify(wire(report, pods.slice(0, keep), report.dropped + pods.length - keep))).toString('base64');
    if (out.length <= maxBytes) return out;
    // Even without pods too large (policies beyond count): a report that counts nothing as synced.
    if (keep === 0) return gzipSync(JSON.stringify(wire({ ...report, generations: new Map() }, [], report.dropped + pods.length))).toString('base64');
    // Cut in proportion to the excess (and by at least one pod), then measure again.
    keep = Math.max(0, Math.min(keep - 1, Math.floor((keep * maxBytes) / out.length * 0.95)));
  }
}

function wire(report: ReplicaReport, pods: readonly (readonly [string, PodSyncState])[], dropped: number): Wire {
  const p: Record<string, Record<string, string[]>> = {};
  for (const [key, state] of pods) {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const byState = (p[ns] ??= {});
    (byState[STATE_LETTER[state]] ??= []).push(key.slice(slash + 1));
  }
  return { v: 1, g: Object.fromEntries(report.generations), p, d: dropped };
}

/** Decodes an annotation value; a clear error names what is wrong (a report from a newer or broken replica). */
export function decodeReport(value: string): ReplicaReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(gunzipSync(Buffer.from(value, 'base64')).toString('utf8'));
  } catch (e: unknown) {
    throw new Error(`annotation ${REPORT_ANNOTATION}: not gzipped JSON in base64: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { v?: unknown }).v !== 1) throw new Error(`annotation ${REPORT_ANNOTATION}: field v: expected report format 1`);
  const w = parsed as Partial<Wire>;
  const generations = new Map<string, number>();
  for (const [k, g] of Object.entries(w.g ?? {})) if (typeof g === 'number') generations.set(k, g);
  const pods = new Map<string, PodSyncState>();
  for (const [ns, byState] of Object.entries(w.p ?? {})) {
    if (typeof byState !== 'object' || byState === null) throw new Error(`annotation ${REPORT_ANNOTATION}: field p.${ns}: expected an object of state → pod names`);
    for (const [letter, names] of Object.entries(byState)) {
      const state = LETTER_STATE[letter];
      if (state === undefined || !Array.isArray(names)) throw new Error(`annotation ${REPORT_ANNOTATION}: field p.${ns}.${letter}: expected one of S, P, N, T with a list of pod names`);
      for (const n of names) if (typeof n === 'string') pods.set(`${ns}/${n}`, state);
    }
  }
  return { generations, pods, dropped: typeof w.d === 'number' ? w.d : 0 };
}

/** The Lease name of a replica: the prefix and its identity, cleaned to a DNS-1123 subdomain (at most 253 characters). */
export function reportLeaseName(identity: string): string {
  const clean = identity.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `${REPORT_LEASE_PREFIX}${clean === '' ? 'unnamed' : clean}`.slice(0, 253).replace(/[^a-z0-9]+$/, '');
}
