// The periodic operation summary (DESIGN.md "Behaviour: baselines and
// anomalies", distribution.proto OperationSummary): every interval, what the
// pod's agent did since the last one (operations with counts, closed rate
// windows, anomalies, the quarantine) goes to the controller in one message;
// never per request. Bounded: operations per summary (the detector's limit),
// anomalies per summary (maxAnomalies, the rest counted). While the stream is
// down nothing is drained: counts accumulate within the same bounds and go out
// with the next summary that can be sent.
import { create, toBinary } from '@bufbuild/protobuf';
import { SidecarMessageSchema, type AnomalyEvent, type SidecarMessage } from '../../../proto/gen/agentwarden/v1/distribution_pb.js';
import { AnomalyQuarantineSchema } from '../../../proto/gen/agentwarden/v1/snapshot_pb.js';
import type { AnomalyDetector, AnomalyFacts, SummaryDraft } from '../../../policy/src/index.js';
import type { AnomalyEvents } from '../authz/handler.js';

export interface SummaryOutboxOptions {
  readonly intervalMs: number;
  /** Anomalies one summary carries; the rest are counted in anomalies_dropped. Default 64. */
  readonly maxAnomalies: number;
}

export const DEFAULT_MAX_SUMMARY_ANOMALIES = 64;

export interface SummaryOutboxDeps {
  /** Writes a message on the stream; false when the stream is down. */
  readonly send: (message: SidecarMessage) => boolean;
  /** Whether the stream is up now (then a drained summary can be written). */
  readonly streamUp: () => boolean;
  readonly detector: AnomalyDetector;
  readonly clock: () => number;
}

export interface SummaryCounters {
  summariesSent: number;
  summaryBytes: number;
  anomaliesDropped: number;
}

export class SummaryOutbox implements AnomalyEvents {
  readonly counters: SummaryCounters = { summariesSent: 0, summaryBytes: 0, anomaliesDropped: 0 };
  private anomalies: AnomalyEvent[] = [];
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SummaryOutboxDeps, private readonly options: SummaryOutboxOptions) {}

  /** Called on the decision path: one push into a bounded array. */
  anomaly(a: AnomalyFacts, decisionId: string): void {
    if (this.anomalies.length >= this.options.maxAnomalies) {
      this.dropped++;
      this.counters.anomaliesDropped++;
      return;
    }
    this.anomalies.push({ $typeName: 'agentwarden.v1.AnomalyEvent', kind: a.kind, operation: a.operation, atMs: BigInt(this.deps.clock()), action: a.action, decisionId });
  }

  start(): void {
    this.timer ??= setInterval(() => { this.flush(); }, this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends what happened since the last summary; nothing when nothing did or the stream is down. */
  flush(): boolean {
    if (!this.deps.streamUp()) return false;
    const draft = this.deps.detector.drain(this.deps.clock());
    if (draft.operations.size === 0 && draft.windowCounts.length === 0 && this.anomalies.length === 0 && draft.quarantine === undefined && draft.operationsDropped === 0) return false;
    const message = summaryMessage(draft, this.anomalies, this.dropped);
    this.anomalies = [];
    this.dropped = 0;
    if (!this.deps.send(message)) return false;
    this.counters.summariesSent++;
    this.counters.summaryBytes += toBinary(SidecarMessageSchema, message).length;
    return true;
  }
}

/** The SidecarMessage of one summary (also what bench/summary-traffic.ts measures). */
export function summaryMessage(draft: SummaryDraft, anomalies: readonly AnomalyEvent[], anomaliesDropped: number): SidecarMessage {
  return create(SidecarMessageSchema, {
    kind: {
      case: 'operationSummary',
      value: {
        fromMs: BigInt(draft.fromMs), toMs: BigInt(draft.toMs),
        operations: [...draft.operations].map(([operation, t]) => ({ operation, count: t.count, firstSeenMs: BigInt(t.firstSeenMs), lastSeenMs: BigInt(t.lastSeenMs) })),
        operationsDropped: draft.operationsDropped,
        windowCounts: [...draft.windowCounts],
        windowMs: BigInt(draft.windowMs),
        anomalies: [...anomalies],
        anomaliesDropped,
        ...(draft.quarantine === undefined ? {} : { quarantine: create(AnomalyQuarantineSchema, { quarantined: true, sinceMs: BigInt(draft.quarantine.sinceMs), reason: draft.quarantine.reason }) }),
        learningStartedMs: BigInt(draft.learningStartedMs),
      },
    },
  });
}
