// AgentPolicy spec.anomaly (DESIGN.md "Behaviour: baselines and anomalies"):
// read from a manifest with the CRD's defaults and checks, and compiled into
// the snapshot's Policy.anomaly (field 11).
import { create } from '@bufbuild/protobuf';
import { AnomalyAction, AnomalyConfigSchema, type AnomalyConfig } from '../../proto/gen/agentwarden/v1/snapshot_pb.js';
import { parseDurationMs } from './duration.js';
import type { Problems } from './errors.js';
import { child, type FieldReader } from './fields.js';
import {
  DEFAULT_ANOMALY_LEARN_FOR, DEFAULT_QUARANTINE_WITHIN, DEFAULT_RATE_SPIKE_OVER,
  type AnomalyActionName, type AnomalySpec,
} from './model.js';

const NOVEL_ACTIONS: readonly AnomalyActionName[] = ['Off', 'Alert', 'Deny', 'RequireApproval'];
/** A rate spike is no single operation a human could approve: Off, Alert or Deny. */
const SPIKE_ACTIONS: readonly AnomalyActionName[] = ['Off', 'Alert', 'Deny'];
/** The shortest rate window: shorter ones count single bursts of a few requests. */
export const MIN_RATE_SPIKE_OVER_MS = 1000;
export const MAX_RATE_SPIKE_FACTOR = 1000;
export const MAX_QUARANTINE_ANOMALIES = 1000;

/** spec.anomaly, defaulted; undefined when absent. Problems name their field. */
export function readAnomaly(spec: FieldReader, problems: Problems): AnomalySpec | undefined {
  const a = spec.object('anomaly');
  if (a === undefined) return undefined;
  a.rejectUnknown(['learnFor', 'novelOperation', 'rateSpike', 'quarantineAfter']);
  const learnFor = a.string('learnFor', { maxLength: 32, default: DEFAULT_ANOMALY_LEARN_FOR }) ?? DEFAULT_ANOMALY_LEARN_FOR;
  positiveDuration(learnFor, child(a.path, 'learnFor'), problems, 0);
  const novelOperation = a.enumString('novelOperation', NOVEL_ACTIONS, 'Alert');
  let rateSpike: AnomalySpec['rateSpike'];
  const r = a.object('rateSpike');
  if (r !== undefined) {
    r.rejectUnknown(['factor', 'over', 'action']);
    const factor = r.integer('factor', { required: true, min: 2, max: MAX_RATE_SPIKE_FACTOR }) ?? 2;
    const over = r.string('over', { maxLength: 32, default: DEFAULT_RATE_SPIKE_OVER }) ?? DEFAULT_RATE_SPIKE_OVER;
    positiveDuration(over, child(r.path, 'over'), problems, MIN_RATE_SPIKE_OVER_MS);
    rateSpike = { factor, over, action: r.enumString('action', SPIKE_ACTIONS, 'Alert') };
  }
  let quarantineAfter: AnomalySpec['quarantineAfter'];
  const q = a.object('quarantineAfter');
  if (q !== undefined) {
    q.rejectUnknown(['anomalies', 'within']);
    const anomalies = q.integer('anomalies', { required: true, min: 1, max: MAX_QUARANTINE_ANOMALIES }) ?? 1;
    const within = q.string('within', { maxLength: 32, default: DEFAULT_QUARANTINE_WITHIN }) ?? DEFAULT_QUARANTINE_WITHIN;
    positiveDuration(within, child(q.path, 'within'), problems, 0);
    quarantineAfter = { anomalies, within };
  }
  return {
    learnFor, novelOperation,
    ...(rateSpike === undefined ? {} : { rateSpike }),
    ...(quarantineAfter === undefined ? {} : { quarantineAfter }),
  };
}

function positiveDuration(text: string, field: string, problems: Problems, minMs: number): void {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) problems.add(field, `"${text}" is not a positive duration such as 30s, 10m or 24h`);
  else if (ms < minMs) problems.add(field, `"${text}" is shorter than ${minMs} ms`);
}

const ACTION_OF: Readonly<Record<AnomalyActionName, AnomalyAction>> = {
  Off: AnomalyAction.OFF, Alert: AnomalyAction.ALERT, Deny: AnomalyAction.DENY, RequireApproval: AnomalyAction.REQUIRE_APPROVAL,
};

/** Policy.anomaly (snapshot field 11) of spec.anomaly. */
export function anomalyConfigOf(spec: AnomalySpec): AnomalyConfig {
  return create(AnomalyConfigSchema, {
    learnForMs: BigInt(parseDurationMs(spec.learnFor) ?? 0),
    novelOperation: ACTION_OF[spec.novelOperation],
    rateSpikeFactor: spec.rateSpike?.factor ?? 0,
    rateSpikeOverMs: BigInt(spec.rateSpike === undefined ? 0 : parseDurationMs(spec.rateSpike.over) ?? 0),
    rateSpikeAction: spec.rateSpike === undefined ? AnomalyAction.OFF : ACTION_OF[spec.rateSpike.action],
    quarantineAnomalies: spec.quarantineAfter?.anomalies ?? 0,
    quarantineWithinMs: BigInt(spec.quarantineAfter === undefined ? 0 : parseDurationMs(spec.quarantineAfter.within) ?? 0),
  });
}
