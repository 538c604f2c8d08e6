// The anomaly part of a snapshot as the sidecar judges with it: spec.anomaly of
// the first governing policy that has one (Policy field 11), the agent
// identity's baseline (Snapshot field 8) and the pod's quarantine (field 9).
import { AnomalyAction, Mode, type Snapshot } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import type { AnomalyActionName } from './model.js';

export interface LoadedAnomaly {
  /** The policy whose spec.anomaly applies. */
  readonly policy: string;
  /** An Audit policy: anomalies are recorded, never acted on (every action behaves as Alert). */
  readonly audit: boolean;
  readonly learnForMs: number;
  readonly novel: AnomalyActionName;
  /** 0: no rate-spike detection. */
  readonly spikeFactor: number;
  readonly spikeOverMs: number;
  readonly spike: AnomalyActionName;
  /** 0: never quarantined. */
  readonly quarantineAnomalies: number;
  readonly quarantineWithinMs: number;
  readonly baseline: LoadedBaseline | undefined;
  readonly quarantine: LoadedQuarantine | undefined;
}

export interface LoadedBaseline {
  readonly learningStartedMs: number;
  readonly learningUntilMs: number;
  readonly operations: ReadonlySet<string>;
  readonly rateP95: number;
  readonly rateWindowMs: number;
}

export interface LoadedQuarantine {
  readonly quarantined: boolean;
  readonly sinceMs: number;
  readonly reason: string;
  readonly releasedAtMs: number;
}

const ACTION_NAMES: Readonly<Record<number, AnomalyActionName>> = {
  [AnomalyAction.UNSPECIFIED]: 'Off', [AnomalyAction.OFF]: 'Off', [AnomalyAction.ALERT]: 'Alert',
  [AnomalyAction.DENY]: 'Deny', [AnomalyAction.REQUIRE_APPROVAL]: 'RequireApproval',
};

export function loadAnomaly(snapshot: Snapshot): LoadedAnomaly | undefined {
  const policy = snapshot.policies.find((p) => p.grant === '' && p.anomaly !== undefined);
  const a = policy?.anomaly;
  if (policy === undefined || a === undefined) return undefined;
  const b = snapshot.baseline;
  const q = snapshot.quarantine;
  return {
    policy: policy.name,
    audit: policy.mode === Mode.AUDIT,
    learnForMs: Number(a.learnForMs),
    novel: ACTION_NAMES[a.novelOperation] ?? 'Off',
    spikeFactor: a.rateSpikeFactor > 0 && a.rateSpikeOverMs > 0n ? a.rateSpikeFactor : 0,
    spikeOverMs: Number(a.rateSpikeOverMs),
    spike: ACTION_NAMES[a.rateSpikeAction] ?? 'Off',
    quarantineAnomalies: a.quarantineWithinMs > 0n ? a.quarantineAnomalies : 0,
    quarantineWithinMs: Number(a.quarantineWithinMs),
    baseline: b === undefined ? undefined : {
      learningStartedMs: Number(b.learningStartedMs), learningUntilMs: Number(b.learningUntilMs),
      operations: new Set(b.operations), rateP95: b.rateP95, rateWindowMs: Number(b.rateWindowMs),
    },
    quarantine: q === undefined ? undefined : { quarantined: q.quarantined, sinceMs: Number(q.sinceMs), reason: q.reason, releasedAtMs: Number(q.releasedAtMs) },
  };
}
