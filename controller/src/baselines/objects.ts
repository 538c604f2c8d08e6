// AgentBaseline objects (crds/agentbaseline.yaml) as the controller reads and
// writes them: one per agent identity (namespace + ServiceAccount), named after
// the ServiceAccount. spec is the operator's (accepted operations, quarantine
// releases); status is the controller's. Pure.
import type { KubernetesObject } from '@kubernetes/client-node';
import { isJsonObject, type JsonValue } from '../inject/json.js';

export const BASELINE_PLURAL = 'agentbaselines';
export const BASELINE_KIND = 'AgentBaseline';

export interface AgentBaselineObject extends KubernetesObject {
  readonly spec?: unknown;
  readonly status?: unknown;
}

export interface OperationEntry {
  readonly operation: string;
  readonly count: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
}

export interface AnomalyEntry {
  readonly kind: string;
  readonly operation: string;
  readonly pod: string;
  readonly at: string;
  readonly action: string;
  readonly decisionId: string;
}

export interface QuarantineEntry {
  readonly pod: string;
  readonly since: string;
  readonly reason: string;
}

/** status of an AgentBaseline, as written. */
export interface BaselineStatus {
  readonly learningStarted: string;
  readonly learningUntil: string;
  readonly operationCount: number;
  readonly operations: readonly OperationEntry[];
  readonly rate: { readonly windowSeconds: number; readonly p50: number; readonly p95: number; readonly max: number; readonly samples: readonly number[] };
  readonly anomalies: number;
  readonly recentAnomalies: readonly AnomalyEntry[];
  readonly quarantined: readonly QuarantineEntry[];
  readonly quarantinedCount: number;
  readonly released: readonly { readonly pod: string; readonly at: string }[];
  readonly dropped: { readonly operations: number; readonly anomalies: number; readonly summaries: number };
}

/** spec of an AgentBaseline, read leniently (the CRD's schema checked it). */
export interface BaselineSpec {
  readonly serviceAccount: string;
  readonly accepted: readonly string[];
  readonly releases: readonly { readonly pod: string; readonly atMs: number }[];
}

export function specOf(o: AgentBaselineObject): BaselineSpec {
  const raw = o.spec as JsonValue | undefined;
  const spec = isJsonObject(raw) ? raw : {};
  const accepted = Array.isArray(spec['accepted']) ? spec['accepted'].filter((a): a is string => typeof a === 'string') : [];
  const releases = Array.isArray(spec['releases'])
    ? spec['releases'].flatMap((r) => {
      if (!isJsonObject(r) || typeof r['pod'] !== 'string' || typeof r['at'] !== 'string') return [];
      const atMs = Date.parse(r['at']);
      return Number.isNaN(atMs) ? [] : [{ pod: r['pod'], atMs }];
    })
    : [];
  return { serviceAccount: typeof spec['serviceAccount'] === 'string' ? spec['serviceAccount'] : o.metadata?.name ?? '', accepted, releases };
}

/** The status as written, when it looks like one (a restarted controller takes it up). */
export function statusOf(o: AgentBaselineObject): Partial<BaselineStatus> | undefined {
  const raw = o.status as JsonValue | undefined;
  return isJsonObject(raw) ? (raw) : undefined;
}

export function identityKey(namespace: string, serviceAccount: string): string {
  return `${namespace}/${serviceAccount}`;
}
