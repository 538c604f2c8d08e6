// What the sidecar tells the controller about approvals and grants, on the
// distribution stream (DESIGN.md "Approvals and break-glass"):
//
// - ApprovalNeeded when a RequireApproval rule denies a request: once per
//   request name (an LRU of the last maxNames names), again after resendMs
//   while the agent is still being denied, and at most perMinute messages a
//   minute whatever the names. While the stream is down the message is
//   dropped and counted; the agent's next attempt tries again.
// - GrantUsed after an approval grant with `uses` allowed a request: the
//   ledger's counts are drained after the decision and sent. A count is
//   cumulative, so while the stream is down the latest count of each grant
//   waits (at most maxPendingGrants grants; beyond, dropped and counted) and
//   goes out when the stream is back: a sidecar restarted before the controller
//   heard of a use would otherwise allow it again.
//
// The decision path only calls approvalNeeded() / grantUsed(): a Map lookup
// at most. Building and writing messages happens from a setImmediate callback,
// after the answers to Envoy are written.
import { create } from '@bufbuild/protobuf';
import { SidecarMessageSchema, type SidecarMessage } from '../../../proto/gen/agentwarden/v1/distribution_pb.js';
import { canonicalJson, type Decision, type GrantUse, type OperationSpec } from '../../../policy/src/index.js';

export interface GrantOutboxOptions {
  /** Request names remembered as sent. Default 64. */
  readonly maxNames: number;
  /** A name sent this long ago is sent again when still denied, ms. Default 60 000. */
  readonly resendMs: number;
  /** ApprovalNeeded messages per rolling minute, at most. Default 30. */
  readonly perMinute: number;
  /** Grants whose GrantUsed waits for the stream, at most. Default 64. */
  readonly maxPendingGrants: number;
}

export const DEFAULT_GRANT_OUTBOX: GrantOutboxOptions = Object.freeze({ maxNames: 64, resendMs: 60_000, perMinute: 30, maxPendingGrants: 64 });

const MINUTE_MS = 60_000;

export interface GrantOutboxDeps {
  /** Writes a message on the stream; false when the stream is down (nothing written). */
  readonly send: (message: SidecarMessage) => boolean;
  /** The grant uses counted since the last call (GrantLedger.drainUsed). */
  readonly drainUsed: () => readonly GrantUse[];
  readonly clock: () => number;
}

export interface GrantOutboxCounters {
  approvalNeededSent: number;
  /** Not sent because the stream was down. */
  approvalNeededDroppedStreamDown: number;
  /** Not sent because perMinute messages went out in the last minute. */
  approvalNeededDroppedRateLimit: number;
  /** Decisions an approval grant with uses allowed (what the ledger drained). */
  grantUses: number;
  grantUsedSent: number;
  /** Dropped because maxPendingGrants grants were already waiting for the stream. */
  grantUsedDropped: number;
}

interface PendingApproval {
  readonly name: string;
  readonly policy: string;
  readonly rule: string;
  readonly operation: OperationSpec;
  readonly decisionId: string;
}

export class GrantOutbox {
  readonly counters: GrantOutboxCounters = {
    approvalNeededSent: 0, approvalNeededDroppedStreamDown: 0, approvalNeededDroppedRateLimit: 0,
    grantUses: 0, grantUsedSent: 0, grantUsedDropped: 0,
  };
  private readonly options: GrantOutboxOptions;
  /** Name -> when it was last sent; insertion order is recency (oldest first). */
  private readonly sent = new Map<string, number>();
  /** When the last perMinute messages went out, oldest first. */
  private readonly sendTimes: number[] = [];
  private approvals: PendingApproval[] = [];
  /** Grant uid -> its latest use count not yet on the stream. */
  private readonly unsentUses = new Map<string, GrantUse>();
  private drainDue = false;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly deps: GrantOutboxDeps, options: Partial<GrantOutboxOptions> = {}) {
    this.options = { ...DEFAULT_GRANT_OUTBOX, ...options };
  }

  /** A RequireApproval rule denied `d` (d.approval set): tell the controller, unless told lately. Never blocks. */
  approvalNeeded(d: Decision, decisionId: string): void {
    const approval = d.approval;
    if (approval === undefined) return;
    const last = this.sent.get(approval.name);
    if (last !== undefined && this.deps.clock() - last < this.options.resendMs) return;
    if (this.approvals.some((a) => a.name === approval.name)) return;
    if (this.approvals.length >= this.options.perMinute) {
      this.counters.approvalNeededDroppedRateLimit++;
      return;
    }
    this.approvals.push({ name: approval.name, policy: d.policy, rule: d.rule, operation: approval.operation, decisionId });
    this.schedule();
  }

  /** A grant allowed a request: its use count (if it counts uses) goes to the controller. Never blocks. */
  grantUsed(): void {
    this.drainDue = true;
    this.schedule();
  }

  /** The stream is (back) up: send the grant counts that waited for it. */
  streamUp(): void {
    if (this.unsentUses.size > 0) this.schedule();
  }

  /** Sends what is queued now (what the scheduled callback does). */
  flush(): void {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    const approvals = this.approvals;
    this.approvals = [];
    for (const a of approvals) this.sendApproval(a);
    if (this.drainDue) {
      this.drainDue = false;
      for (const use of this.deps.drainUsed()) {
        this.counters.grantUses++;
        this.queueUse(use);
      }
    }
    for (const [uid, use] of this.unsentUses) {
      if (!this.deps.send(create(SidecarMessageSchema, { kind: { case: 'grantUsed', value: { name: use.name, uid: use.uid, used: use.used } } }))) break;
      this.counters.grantUsedSent++;
      this.unsentUses.delete(uid);
    }
  }

  private queueUse(use: GrantUse): void {
    const waiting = this.unsentUses.get(use.uid);
    if (waiting === undefined && this.unsentUses.size >= this.options.maxPendingGrants) {
      this.counters.grantUsedDropped++;
      return;
    }
    // Counts are cumulative: the latest replaces what waited.
    this.unsentUses.set(use.uid, waiting === undefined || use.used >= waiting.used ? use : waiting);
  }

  private sendApproval(a: PendingApproval): void {
    const now = this.deps.clock();
    const oldest = this.sendTimes.length >= this.options.perMinute ? this.sendTimes[0] : undefined;
    if (oldest !== undefined && now - oldest < MINUTE_MS) {
      this.counters.approvalNeededDroppedRateLimit++;
      return;
    }
    const op = a.operation;
    const message = create(SidecarMessageSchema, {
      kind: {
        case: 'approvalNeeded',
        value: {
          name: a.name, policy: a.policy, rule: a.rule, decisionId: a.decisionId,
          operation: {
            method: op.method, host: op.host, port: op.port, path: op.path, query: op.query,
            mcpMethod: op.mcp?.method ?? '', mcpTool: op.mcp?.tool ?? '', mcpArguments: op.mcp === undefined ? '' : canonicalJson(op.mcp.arguments),
          },
        },
      },
    });
    if (!this.deps.send(message)) {
      this.counters.approvalNeededDroppedStreamDown++;
      return;
    }
    this.counters.approvalNeededSent++;
    if (this.sendTimes.length >= this.options.perMinute) this.sendTimes.shift();
    this.sendTimes.push(now);
    this.sent.delete(a.name);
    this.sent.set(a.name, now);
    if (this.sent.size > this.options.maxNames) {
      const oldestName = this.sent.keys().next().value;
      if (oldestName !== undefined) this.sent.delete(oldestName);
    }
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.flush();
    });
  }
}
